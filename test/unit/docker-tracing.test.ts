import { describe, expect, it } from 'vitest';
import { dockerPathTemplate } from '../../activities/docker-tracing.js';

describe("Docker call spans are named by the engine API's path, never by an id", () => {
  it.each([
    ['/containers/create?name=hs-1', '/containers/create'],
    ['/containers/22877b62fc569ba4270eb88447748081be67cf9e671e45f26c83e9c3ea22a926/start?', '/containers/{id}/start'],
    ['/containers/hs-session-abc/json', '/containers/{id}/json'],
    ['/containers/json?all=true', '/containers/json'],
    ['/exec/e58a482f9f603b3e/start', '/exec/{id}/start'],
    ['/networks/619976f5b679', '/networks/{id}'],
    ['/networks/create', '/networks/create'],
    ['/images/hackstream/session-firefox:latest/json', '/images/{name}/json'],
    ['/images/debian:bookworm', '/images/{name}'],
    ['/images/json', '/images/json'],
    ['/v1.41/containers/abc/stop', '/containers/{id}/stop'],
    ['/_ping', '/_ping'],
  ])('%s → %s', (path, template) => {
    expect(dockerPathTemplate(path)).toBe(template);
  });
});
