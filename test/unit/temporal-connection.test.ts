/** How the processes connect to Temporal: plaintext by default, TLS (mutual with a client certificate) when configured. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadApiConfig, loadWorkerConfig } from '../../core/config.js';
import { temporalConnectionOptions } from '../../core/temporal-connection.js';

const secrets = { HACKSTREAM_JWT_SECRET: 'x'.repeat(40), HACKSTREAM_SESSION_TOKEN_SECRET: 'y'.repeat(40), HACKSTREAM_SECRET_KEY: 'z'.repeat(40) };
const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-temporal-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
for (const f of ['ca.pem', 'api.pem', 'api-key.pem']) writeFileSync(path.join(dir, f), `contents of ${f}`);

describe('the Temporal connection', () => {
  it('is plaintext unless TLS is configured', async () => {
    const config = loadWorkerConfig(secrets);
    expect(config.temporal.tls).toBeUndefined();
    expect(await temporalConnectionOptions(config.temporal)).toEqual({ address: '127.0.0.1:7233' });
  });

  it('presents the client certificate and trusts the CA given, files relative to the data directory', async () => {
    const config = loadApiConfig({
      ...secrets,
      HACKSTREAM_DATA_DIR: dir,
      HACKSTREAM_TEMPORAL_ADDRESS: '127.0.0.1:7233',
      HACKSTREAM_TEMPORAL_TLS_CA_FILE: 'ca.pem',
      HACKSTREAM_TEMPORAL_TLS_CERT_FILE: path.join(dir, 'api.pem'),
      HACKSTREAM_TEMPORAL_TLS_KEY_FILE: 'api-key.pem',
      HACKSTREAM_TEMPORAL_TLS_SERVER_NAME: 'temporal',
    });
    const { address, tls } = await temporalConnectionOptions(config.temporal);
    expect(address).toBe('127.0.0.1:7233');
    expect(tls?.serverNameOverride).toBe('temporal');
    expect(Buffer.from(tls!.serverRootCACertificate!).toString()).toBe('contents of ca.pem');
    expect(Buffer.from(tls!.clientCertPair!.crt).toString()).toBe('contents of api.pem');
    expect(Buffer.from(tls!.clientCertPair!.key).toString()).toBe('contents of api-key.pem');
  });

  it('uses TLS with the system CAs when only a client certificate is given', async () => {
    const config = loadWorkerConfig({ ...secrets, HACKSTREAM_DATA_DIR: dir, HACKSTREAM_TEMPORAL_TLS_CERT_FILE: 'api.pem', HACKSTREAM_TEMPORAL_TLS_KEY_FILE: 'api-key.pem' });
    const { tls } = await temporalConnectionOptions(config.temporal);
    expect(tls?.serverRootCACertificate).toBeUndefined();
    expect(tls?.clientCertPair).toBeDefined();
  });

  it('refuses a certificate without its key, and names a file it cannot read', async () => {
    expect(() => loadWorkerConfig({ ...secrets, HACKSTREAM_TEMPORAL_TLS_CERT_FILE: 'api.pem' })).toThrow(/HACKSTREAM_TEMPORAL_TLS_KEY_FILE/);
    expect(() => loadWorkerConfig({ ...secrets, HACKSTREAM_TEMPORAL_TLS_KEY_FILE: 'api-key.pem' })).toThrow(/HACKSTREAM_TEMPORAL_TLS_CERT_FILE/);
    const config = loadWorkerConfig({ ...secrets, HACKSTREAM_DATA_DIR: dir, HACKSTREAM_TEMPORAL_TLS_CA_FILE: 'missing.pem' });
    await expect(temporalConnectionOptions(config.temporal)).rejects.toThrow(/missing\.pem/);
  });
});
