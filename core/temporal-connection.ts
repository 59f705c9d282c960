/**
 * The options both processes connect to Temporal's frontend with (the client's `Connection` and
 * the worker's `NativeConnection` take the same): the address, and TLS when configured, mutual
 * when the process has a client certificate. The files are read at each connection, so renewed
 * certificates take effect at the next start.
 */
import { readFile } from 'node:fs/promises';
import type { TLSConfig } from '@temporalio/client';
import type { TemporalConfig } from './config.js';

export async function temporalConnectionOptions(temporal: Pick<TemporalConfig, 'address' | 'tls'>): Promise<{ address: string; tls?: TLSConfig }> {
  const { address, tls } = temporal;
  if (!tls) return { address };
  const read = (file: string, what: string) =>
    readFile(file).catch((err: unknown) => {
      throw new Error(`cannot read Temporal's TLS ${what} (${file}): ${(err as Error).message}`);
    });
  return {
    address,
    tls: {
      ...(tls.serverName && { serverNameOverride: tls.serverName }),
      ...(tls.caFile && { serverRootCACertificate: await read(tls.caFile, 'CA certificate') }),
      ...(tls.certFile &&
        tls.keyFile && { clientCertPair: { crt: await read(tls.certFile, 'client certificate'), key: await read(tls.keyFile, 'client key') } }),
    },
  };
}
