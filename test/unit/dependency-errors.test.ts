/**
 * Which errors the API answers as `503 dependency_unavailable`: those a real client raises while
 * its dependency is down, and nothing else (a bug stays a 500).
 */
import { LockWaitTimeoutException } from '@mikro-orm/core';
import { ServiceError } from '@temporalio/client';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { unavailableDependency } from '../../api/dependency-errors.js';
import { freePort } from '../support/ports.js';

const failure = async (f: () => Promise<unknown>): Promise<unknown> => f().then(() => new Error('did not fail'), (err: unknown) => err);

describe('unavailableDependency', () => {
  it('knows the error of a Redis client that is not connected', async () => {
    const redis = new Redis(`redis://127.0.0.1:${await freePort()}`, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    expect(unavailableDependency(await failure(() => redis.get('k')))).toBe('redis');
    redis.disconnect();
  });

  it('knows Temporal unreachable, through the client error that wraps the gRPC one', () => {
    // The shape @temporalio/client gives a call that found no frontend (the integration test
    // dependency-outage.test.ts shows it on a real cut connection).
    const grpc = Object.assign(new Error('14 UNAVAILABLE: No connection established'), { code: 14, details: 'No connection established', metadata: {} });
    expect(unavailableDependency(new ServiceError('Failed to start workflow', { cause: grpc }))).toBe('temporal');
  });

  it('knows a database that stays locked or busy', () => {
    expect(unavailableDependency(new LockWaitTimeoutException(Object.assign(new Error('SQLITE_BUSY: database is locked'), { code: 'SQLITE_BUSY' })))).toBe('database');
  });

  it('leaves every other error alone (a 500)', () => {
    expect(unavailableDependency(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBeNull();
    const notFound = Object.assign(new Error('5 NOT_FOUND: workflow not found'), { code: 5, details: 'workflow not found', metadata: {} });
    expect(unavailableDependency(new ServiceError('Failed to describe', { cause: notFound }))).toBeNull();
    expect(unavailableDependency('Connection is closed.')).toBeNull();
  });
});
