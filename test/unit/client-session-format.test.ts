import { describe, expect, it } from 'vitest';
import type { SessionView } from '../../client/src/api-client.js';
import { ClientError } from '../../client/src/client-error.js';
import { EXIT } from '../../client/src/exit-codes.js';
import { ago, appTable, lastActivity, normaliseUrl, sessionTable } from '../../client/src/sessions.js';

const NOW = Date.parse('2025-06-01T12:00:00Z');
const before = (seconds: number) => new Date(NOW - seconds * 1000).toISOString();

const session = (over: Partial<SessionView>): SessionView => ({
  session_id: '0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
  app: 'firefox',
  state: 'active',
  reason: null,
  message: null,
  url: null,
  quality: 'low',
  created_at: before(600),
  ready_at: null,
  attached_at: null,
  ended_at: null,
  ...over,
});

describe('how long ago', () => {
  it.each([
    [0, '0s ago'],
    [59, '59s ago'],
    [60, '1m ago'],
    [119, '1m ago'],
    [3599, '59m ago'],
    [3600, '1h ago'],
    [86_399, '23h ago'],
    [86_400, '1d ago'],
    [10 * 86_400 + 5, '10d ago'],
  ])('%i seconds reads %s', (seconds, text) => {
    expect(ago(before(seconds), NOW)).toBe(text);
  });

  it('rounds to the nearest second', () => {
    expect(ago(new Date(NOW - 59_600).toISOString(), NOW)).toBe('1m ago');
    expect(ago(new Date(NOW - 1_400).toISOString(), NOW)).toBe('1s ago');
  });

  it('reads a time slightly in the future (clock skew) as just now, and nothing as a dash', () => {
    expect(ago(new Date(NOW + 5000).toISOString(), NOW)).toBe('0s ago');
    expect(ago(null, NOW)).toBe('-');
  });
});

describe('the session table', () => {
  it('says so when there are no sessions', () => {
    expect(sessionTable([], NOW)).toBe('no sessions');
  });

  it('takes the latest event as the last activity', () => {
    expect(lastActivity(session({ created_at: before(600) }))).toBe(before(600));
    expect(lastActivity(session({ ready_at: before(500) }))).toBe(before(500));
    expect(lastActivity(session({ ready_at: before(500), attached_at: before(400) }))).toBe(before(400));
    expect(lastActivity(session({ ready_at: before(500), attached_at: before(400), ended_at: before(30) }))).toBe(before(30));
  });

  it('lines up one row per session under the headings, with a dash for no page', () => {
    const rows = [
      session({ session_id: 'aaaaaaaa-0000-4000-8000-000000000001', url: 'https://example.com/a-rather-long-page', created_at: before(7200), attached_at: before(90) }),
      session({ session_id: 'bbbbbbbb-0000-4000-8000-000000000002', state: 'stopped', url: null, created_at: before(2 * 86_400), ended_at: before(86_400) }),
    ];
    const lines = sessionTable(rows, NOW).split('\n');
    expect(lines).toHaveLength(3);
    const cells = (line: string) => line.split(/ {2,}/);
    expect(cells(lines[0]!)).toEqual(['ID', 'APP', 'STATE', 'URL', 'STARTED', 'LAST ACTIVITY']);
    expect(cells(lines[1]!)).toEqual(['aaaaaaaa-0000-4000-8000-000000000001', 'firefox', 'active', 'https://example.com/a-rather-long-page', '2h ago', '1m ago']);
    expect(cells(lines[2]!)).toEqual(['bbbbbbbb-0000-4000-8000-000000000002', 'firefox', 'stopped', '-', '2d ago', '1d ago']);
    // Every column starts where its heading does.
    for (const heading of ['APP', 'STATE', 'URL', 'STARTED', 'LAST ACTIVITY']) {
      const column = lines[0]!.indexOf(heading);
      const index = ['ID', 'APP', 'STATE', 'URL', 'STARTED', 'LAST ACTIVITY'].indexOf(heading);
      for (const line of lines.slice(1)) {
        const start = line.indexOf(cells(line)[index]!, column);
        expect(start, `${heading} in ${line}`).toBe(column);
      }
    }
    for (const line of lines) expect(line).toBe(line.trimEnd());
  });
});

describe('a page address as typed', () => {
  it.each([
    ['example.com', 'https://example.com/'],
    ['  example.com/path?q=1  ', 'https://example.com/path?q=1'],
    ['https://example.com', 'https://example.com/'],
    ['http://intranet.local/wiki', 'http://intranet.local/wiki'],
    ['HTTPS://Example.COM/A', 'https://example.com/A'],
    ['localhost:8080', 'https://localhost:8080/'],
    ['intranet.local:8080/wiki?page=1', 'https://intranet.local:8080/wiki?page=1'],
    ['192.0.2.10:3000', 'https://192.0.2.10:3000/'],
  ])('%j opens %s', (typed, url) => {
    expect(normaliseUrl(typed)).toBe(url);
  });

  it.each(['javascript:alert(1)', 'JavaScript:alert(document.cookie)', 'data:text/html,<b>x</b>', 'file:///etc/passwd', 'about:blank', 'ftp://example.com/', 'mailto:1234@example.com', 'http://', 'exa mple.com'])(
    '%j is refused as a usage error',
    (typed) => {
      let err: unknown;
      try {
        normaliseUrl(typed);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ClientError);
      expect((err as ClientError).exitCode).toBe(EXIT.usage);
      expect((err as ClientError).message).toMatch(/^--url: /);
    },
  );
});

describe('the app table', () => {
  it('lists each app by the name launch takes, with what it offers, and says so when there is none', () => {
    const lines = appTable([
      { name: 'firefox', title: 'Firefox', profiles: ['ephemeral', 'persist'], opens_urls: true, warm_qualities: ['auto'] },
      { name: 'thunderbird', title: 'Thunderbird', profiles: ['ephemeral', 'persist'], opens_urls: false, warm_qualities: [] },
    ]).split('\n');
    const cells = (line: string) => line.split(/ {2,}/);
    expect(lines.map(cells)).toEqual([
      ['APP', 'TITLE', 'PROFILES', 'OPENS URLS', 'WARM'],
      ['firefox', 'Firefox', 'ephemeral,persist', 'yes', 'auto'],
      ['thunderbird', 'Thunderbird', 'ephemeral,persist', 'no', '-'],
    ]);
    expect(lines[2]!.indexOf('no')).toBe(lines[0]!.indexOf('OPENS URLS'));
    expect(appTable([])).toBe('no apps (your role may start none)');
  });
});
