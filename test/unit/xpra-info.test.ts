import { describe, expect, it } from 'vitest';
import { hasAppWindow, readXpraStatus } from '../../activities/xpra-info.js';

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
});
