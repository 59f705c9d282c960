/**
 * A page the tests serve on the host for the remote Firefox to open: a unique title and a solid,
 * distinctive background colour that can be found in the streamed pixels.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const PAGE_COLOUR = { r: 18, g: 160, b: 96 } as const;

export interface TestPage {
  url: string;
  title: string;
  close(): Promise<void>;
}

export async function serveTestPage(host: string): Promise<TestPage> {
  const title = `HackStream test ${randomBytes(4).toString('hex')}`;
  const { r, g, b } = PAGE_COLOUR;
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head>
<body style="margin:0;background:rgb(${r},${g},${b});height:100vh"><h1 style="color:#fff;font:48px sans-serif;padding:40px">${title}</h1></body></html>`;
  const server: Server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/`,
    title,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
