import { describe, expect, it } from 'vitest';
import { ClientError } from '../../client/src/client-error.js';
import { EXIT } from '../../client/src/exit-codes.js';
import { confirmationsFor, parseLink } from '../../client/src/links.js';
import { parseServerUrl } from '../../client/src/settings.js';

const ID = '0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

function refusal(raw: string): ClientError {
  try {
    parseLink(raw);
  } catch (err) {
    // Every bad link is the person's input: a usage error, never an unexpected failure.
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).exitCode).toBe(EXIT.usage);
    return err as ClientError;
  }
  throw new Error(`${raw} was accepted`);
}

describe('hackstream:// links', () => {
  it('name a session to attach to on a server', () => {
    expect(parseLink(`hackstream://hackstream.example.org/sessions/${ID}`)).toEqual({
      server: 'https://hackstream.example.org',
      action: { kind: 'attach', sessionId: ID },
    });
  });

  it('keep the port, drop the default one, lower-case the host and the session id', () => {
    expect(parseLink(`hackstream://HackStream.Example.ORG:8443/sessions/${ID.toUpperCase()}/`)).toEqual({
      server: 'https://hackstream.example.org:8443',
      action: { kind: 'attach', sessionId: ID },
    });
    expect(parseLink(`hackstream://hackstream.example.org:443/sessions/${ID}`).server).toBe('https://hackstream.example.org');
  });

  it('ask to launch, with a page and a quality when given', () => {
    expect(parseLink('hackstream://h.example.org/launch?url=https%3A%2F%2Fexample.com%2Fa%3Fb%3D1&quality=high')).toEqual({
      server: 'https://h.example.org',
      action: { kind: 'launch', url: 'https://example.com/a?b=1', quality: 'high' },
    });
    expect(parseLink('hackstream://h.example.org/launch')).toEqual({ server: 'https://h.example.org', action: { kind: 'launch', url: undefined, quality: undefined } });
    expect(parseLink('hackstream://h.example.org/launch/?url=http://intranet.local/').action).toEqual({ kind: 'launch', url: 'http://intranet.local/', quality: undefined });
  });

  it.each(['https://h.example.org/sessions/' + ID, 'http://h.example.org/launch', 'javascript:alert(1)', 'not a link', ''])('refuse %j, which is not a hackstream:// link', (raw) => {
    expect(refusal(raw).message).toMatch(/not a hackstream:\/\/ link/);
  });

  it.each([`hackstream:///sessions/${ID}`, `hackstream:/sessions/${ID}`, `hackstream://user:pw@h.example.org/sessions/${ID}`, 'hackstream://alice@h.example.org/launch'])(
    'refuse %j, which names no server',
    (raw) => {
      expect(refusal(raw).message).toMatch(/names no server/);
    },
  );

  it('refuse a server name no https URL can have', () => {
    expect(refusal(`hackstream://exa%20mple.org/sessions/${ID}`).message).toMatch(/names no valid server/);
  });

  it.each(['0b1e2c3d', `${ID}0`, ID.replace(/-/g, ''), 'g'.repeat(8) + ID.slice(8), '%zz', '..%2F..%2Fetc', `${ID}%00`])('refuse the malformed session id %j', (id) => {
    expect(refusal(`hackstream://h.example.org/sessions/${id}`).message).toMatch(/is not a session id/);
  });

  it.each(['javascript:alert(1)', 'JavaScript:alert(document.cookie)', 'data:text/html,<b>x</b>', 'file:///etc/passwd', 'example.com', ''])('refuse a launch url %j that is not http(s)', (target) => {
    expect(refusal(`hackstream://h.example.org/launch?url=${encodeURIComponent(target)}`).message).toMatch(/is not an http\(s\) URL/);
  });

  it('refuse an unknown quality', () => {
    expect(refusal('hackstream://h.example.org/launch?quality=ultra').message).toMatch(/quality: "ultra"/);
  });

  it.each(['hackstream://h.example.org/', 'hackstream://h.example.org/sessions', `hackstream://h.example.org/sessions/${ID}/stop`, 'hackstream://h.example.org/admin'])(
    'refuse %j, which asks for nothing this client knows',
    (raw) => {
      expect(refusal(raw).message).toMatch(/asks for nothing this client knows/);
    },
  );
});

describe('confirming a link', () => {
  const configured = parseServerUrl('hackstream.example.org');

  it('asks nothing before attaching to a session on the configured server', () => {
    expect(confirmationsFor(parseLink(`hackstream://hackstream.example.org/sessions/${ID}`), configured)).toEqual([]);
    expect(confirmationsFor(parseLink(`hackstream://HACKSTREAM.example.org:443/sessions/${ID}`), configured)).toEqual([]);
  });

  it('asks once before attaching on another server, naming both', () => {
    const questions = confirmationsFor(parseLink(`hackstream://evil.example.net/sessions/${ID}`), configured);
    expect(questions).toHaveLength(1);
    expect(questions[0]).toContain('https://evil.example.net');
    expect(questions[0]).toContain(configured);
  });

  it('treats another port of the configured host as another server', () => {
    expect(confirmationsFor(parseLink(`hackstream://hackstream.example.org:8443/sessions/${ID}`), configured)).toHaveLength(1);
  });

  it('asks once before attaching when no server is configured', () => {
    expect(confirmationsFor(parseLink(`hackstream://hackstream.example.org/sessions/${ID}`), undefined)).toHaveLength(1);
  });

  it('always asks before a launch, which spends quota, naming the page', () => {
    const questions = confirmationsFor(parseLink('hackstream://hackstream.example.org/launch?url=https://example.com/'), configured);
    expect(questions).toHaveLength(1);
    expect(questions[0]).toContain('https://example.com/');
    expect(questions[0]).toMatch(/quota/);
  });

  it('asks twice before a launch on another server: the server, then the launch', () => {
    const questions = confirmationsFor(parseLink('hackstream://other.example.net/launch'), configured);
    expect(questions).toHaveLength(2);
    expect(questions[0]).toContain('https://other.example.net');
    expect(questions[1]).toMatch(/Start a new remote Firefox/);
  });
});
