import { describe, expect, it } from 'vitest';
import { HttpError } from '../../api/http-error.js';
import { createSessionBody, parseInput } from '../../api/validation.js';

const parse = (body: unknown) => parseInput(createSessionBody, body);

function rejection(body: unknown): HttpError {
  try {
    parse(body);
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
  throw new Error('expected a validation error');
}

describe('session request validation', () => {
  it('fills defaults and normalises the URL', () => {
    expect(parse({ app: 'firefox', url: 'https://Example.com/a b' })).toEqual({
      app: 'firefox',
      url: 'https://example.com/a%20b',
      profile: 'ephemeral',
      quality: 'auto',
      node_labels: {},
    });
  });

  it('takes node labels a placement must match, and refuses ones a node could not carry', () => {
    expect(parse({ app: 'firefox', node_labels: { gpu: 'true', region: 'eu-west' } }).node_labels).toEqual({ gpu: 'true', region: 'eu-west' });
    for (const bad of [{ 'g pu': 'true' }, { gpu: '' }, { gpu: 1 }, Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'v']))]) {
      expect(() => parse({ app: 'firefox', node_labels: bad }), JSON.stringify(bad)).toThrow(/node_labels/);
    }
  });

  it.each([
    ['javascript URL', { app: 'firefox', url: 'javascript:alert(1)' }, /scheme javascript: is not allowed/],
    ['file URL', { app: 'firefox', url: 'file:///etc/passwd' }, /scheme file: is not allowed/],
    ['data URL', { app: 'firefox', url: 'data:text/html,hi' }, /scheme data: is not allowed/],
    ['relative URL', { app: 'firefox', url: '/just/a/path' }, /absolute http\(s\) URL/],
    ['credentials in URL', { app: 'firefox', url: 'https://a:b@example.com/' }, /credentials/],
    ['app that is no name', { app: 'Photo Shop!' }, /app: is not an app name/],
    ['missing app', { url: 'https://example.com/' }, /app: is required/],
    ['wrong type', { app: 'firefox', quality: 3 }, /quality/],
    ['unknown field', { app: 'firefox', gpu: true }, /gpu/],
  ])('rejects %s with a 400 naming the problem', (_name, body, message) => {
    const err = rejection(body);
    expect(err.status).toBe(400);
    expect(err.code).toBe('invalid_request');
    expect(err.message).toMatch(message);
  });

  it('rejects an absent body', () => {
    expect(rejection(undefined).message).toMatch(/missing/);
  });
});
