import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasAppWindow, readXpraStatus } from '../../activities/xpra-info.js';
import { REPO_ROOT } from '../support/paths.js';

/** xpra 3.1's `xpra info` of a session with Debian's xpra client attached (its `client.*` part). */
const capturedOneClient = readFileSync(path.join(REPO_ROOT, 'test', 'unit', 'fixtures', 'xpra-info-one-client.txt'), 'utf8');

const noClient = `clients=0
clients.unauthenticated=0
server.idle-timeout=0
windows.1.class-instance=('Navigator', 'firefox-esr')
windows.1.title=Mozilla Firefox
windows.1.size=(1280, 1040)`;

const oneClient = `clients=1
client.idle_time=6
client.idle=False
client.damage.events=17
client.damage.packets_sent=25
client.window.1.damage.events=17
windows.1.class-instance=('Navigator', 'firefox-esr')
windows.1.title=Test page — Mozilla Firefox`;

const twoClients = `clients=2
client.0.idle_time=40
client.0.damage.events=3
client.1.idle_time=2
client.1.damage.events=9
windows.4.class-instance=('xmessage', 'Xmessage')
windows.4.title=xmessage`;

describe('readXpraStatus', () => {
  it('reads windows without clients, and reports no idle time', () => {
    const s = readXpraStatus(noClient);
    expect(s.clients).toBe(0);
    expect(s.minIdleSeconds).toBeNull();
    expect(s.damageEvents).toBe(0);
    expect(s.windows).toEqual([{ id: 1, classInstance: ['Navigator', 'firefox-esr'], title: 'Mozilla Firefox' }]);
    expect(hasAppWindow(s, 'firefox-esr')).toBe(true);
  });

  it('reads the single-client form of idle time and damage', () => {
    const s = readXpraStatus(oneClient);
    expect(s.clients).toBe(1);
    expect(s.minIdleSeconds).toBe(6);
    expect(s.damageEvents).toBe(17);
    expect(s.windows[0]?.title).toBe('Test page — Mozilla Firefox');
  });

  it('takes the most recent input over several clients and sums their damage', () => {
    const s = readXpraStatus(twoClients);
    expect(s.minIdleSeconds).toBe(2);
    expect(s.damageEvents).toBe(12);
    expect(hasAppWindow(s, 'firefox-esr')).toBe(false);
  });

  it('ignores garbage lines and non-numeric values', () => {
    const s = readXpraStatus('no equals sign\n=novalue\nclients=1\nclient.idle_time=abc\n');
    expect(s.clients).toBe(1);
    expect(s.minIdleSeconds).toBeNull();
  });

  it("reads what a real attached client is streamed: round trip, bytes sent, frame rate, quality, windows' encodings", () => {
    const s = readXpraStatus(capturedOneClient);
    expect(s.clients).toBe(1);
    expect(s.streams).toEqual([{ roundTripMs: 9, bytesSent: 711_182, framesPerSecond: 0, quality: 95, encodings: ['rgb24'] }]);
  });

  it("keeps several clients' streams apart, by xpra's client number, and none without clients", () => {
    const s = readXpraStatus(
      [
        'clients=2',
        'client.0.connection.server.ping_latency.avg=20',
        'client.0.connection.output.bytecount=1000',
        'client.0.window.1.damage.fps=10',
        'client.0.window.2.damage.fps=5',
        'client.0.window.1.last_used=h264',
        'client.0.window.2.last_used=png',
        'client.1.connection.server.ping_latency.avg=150',
        'client.1.connection.output.bytecount=99',
        'client.1.encoding.quality.cur=40',
        'client.1.window.1.encoding.quality.cur=41',
        'client.1.window.1.last_used=jpeg',
      ].join('\n'),
    );
    expect(s.streams).toEqual([
      { roundTripMs: 20, bytesSent: 1000, framesPerSecond: 15, quality: null, encodings: ['h264', 'png'] },
      { roundTripMs: 150, bytesSent: 99, framesPerSecond: 0, quality: 40, encodings: ['jpeg'] },
    ]);
    expect(readXpraStatus(noClient).streams).toEqual([]);
  });
});
