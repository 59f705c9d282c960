/**
 * A page the tests serve for the remote Firefox to open: a unique title and a solid, distinctive
 * background colour that can be found in the streamed pixels. Served from the outside world
 * (test/support/outside-world.ts): sessions reach the internet, never the host.
 */
import { randomBytes } from 'node:crypto';
import { serveOutside, type OutsideWorldInfo } from './outside-world.js';

export const PAGE_COLOUR = { r: 18, g: 160, b: 96 } as const;

export interface TestPage {
  url: string;
  title: string;
  close(): Promise<void>;
}

export async function serveTestPage(world: OutsideWorldInfo): Promise<TestPage> {
  const title = `HackStream test ${randomBytes(4).toString('hex')}`;
  const { r, g, b } = PAGE_COLOUR;
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head>
<body style="margin:0;background:rgb(${r},${g},${b});height:100vh"><h1 style="color:#fff;font:48px sans-serif;padding:40px">${title}</h1></body></html>`;
  const served = await serveOutside(world, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html);
  });
  return { url: served.url, title, close: () => served.close() };
}
