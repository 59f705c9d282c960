import { describe, expect, it } from 'vitest';
import { ConfigError, loadApiConfig, loadWorkerConfig } from '../../core/config.js';

const secret = 'x'.repeat(40);

describe('configuration', () => {
  it('has working defaults: SQLite under the data directory, local Redis and Temporal', () => {
    const c = loadWorkerConfig({});
    expect(c.db.driver).toBe('sqlite');
    expect(c.db.path).toMatch(/\.data\/hackstream\.sqlite$/);
    expect(c.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(c.temporal).toEqual({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'hackstream-sessions' });
  });

  it('names the variable that is wrong', () => {
    expect(() => loadApiConfig({ HACKSTREAM_JWT_SECRET: secret, HACKSTREAM_API_PORT: 'eighty' })).toThrow(/HACKSTREAM_API_PORT/);
    expect(() => loadApiConfig({ HACKSTREAM_JWT_SECRET: 'short' })).toThrow(/HACKSTREAM_JWT_SECRET/);
    expect(() => loadApiConfig({})).toThrow(ConfigError);
  });

  it('requires a URL when PostgreSQL is selected', () => {
    expect(() => loadWorkerConfig({ HACKSTREAM_DB_DRIVER: 'postgresql' })).toThrow(/HACKSTREAM_DB_URL/);
    const c = loadWorkerConfig({ HACKSTREAM_DB_DRIVER: 'postgresql', HACKSTREAM_DB_URL: 'postgresql://u@localhost/hs' });
    expect(c.db).toMatchObject({ driver: 'postgresql', url: 'postgresql://u@localhost/hs' });
  });

  it('parses session limits and timeouts', () => {
    const c = loadApiConfig({ HACKSTREAM_JWT_SECRET: secret, HACKSTREAM_IDLE_TIMEOUT_SECONDS: '30', HACKSTREAM_SESSION_CPUS: '0.5' });
    expect(c.session.idleTimeoutSeconds).toBe(30);
    expect(c.session.cpus).toBe(0.5);
    expect(() => loadApiConfig({ HACKSTREAM_JWT_SECRET: secret, HACKSTREAM_IDLE_TIMEOUT_SECONDS: '-1' })).toThrow(/HACKSTREAM_IDLE_TIMEOUT_SECONDS/);
  });
});
