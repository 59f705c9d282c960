import { describe, expect, it } from 'vitest';
import { ProxyIdentity } from '../../api/auth/proxy-identity.js';
import { loadApiConfig } from '../../core/config.js';

const secrets = { HACKSTREAM_JWT_SECRET: 'x'.repeat(40), HACKSTREAM_SESSION_TOKEN_SECRET: 'y'.repeat(40), HACKSTREAM_SECRET_KEY: 'z'.repeat(40) };

const proxyOf = (env: Record<string, string>) => {
  const { proxy } = loadApiConfig({ ...secrets, HACKSTREAM_AUTH_PROXY_SOURCES: '10.1.2.3/32, fd00:1::/64', ...env }).signIn;
  return new ProxyIdentity(proxy!);
};

/** A request as Express has it: the socket's peer and the headers (case-insensitive, as req.get). */
const request = (peer: string, headers: Record<string, string>) => ({
  socket: { remoteAddress: peer },
  get: (name: string) => Object.entries(headers).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1],
});

const alice = { 'X-Forwarded-Preferred-Username': 'alice', 'X-Forwarded-Email': 'alice@example.org', 'X-Forwarded-Groups': 'staff, hs-admins' };

describe('the sign-in proxy: configuration', () => {
  it('is off by default, local accounts on', () => {
    expect(loadApiConfig(secrets).signIn).toEqual({ localAccounts: true, proxy: null });
  });

  it('parses the sources, the headers and the group-to-role pairs', () => {
    const { signIn } = loadApiConfig({
      ...secrets,
      HACKSTREAM_AUTH_PROXY_SOURCES: '10.0.0.5/32',
      HACKSTREAM_AUTH_PROXY_USER_HEADER: 'X-Auth-Request-User',
      HACKSTREAM_AUTH_PROXY_ROLES: 'ops=admin, users=user',
      HACKSTREAM_AUTH_PROXY_DEFAULT_ROLE: 'user',
      HACKSTREAM_LOCAL_ACCOUNTS: 'off',
    });
    expect(signIn.localAccounts).toBe(false);
    expect(signIn.proxy).toMatchObject({ sources: ['10.0.0.5/32'], headers: { user: 'X-Auth-Request-User', email: 'X-Forwarded-Email', groups: 'X-Forwarded-Groups' }, defaultRole: 'user' });
    expect([...signIn.proxy!.groupRoles]).toEqual([
      ['ops', 'admin'],
      ['users', 'user'],
    ]);
  });

  it('refuses what it cannot use, naming the variable', () => {
    expect(() => loadApiConfig({ ...secrets, HACKSTREAM_AUTH_PROXY_SOURCES: '10.0.0.5' })).toThrow(/HACKSTREAM_AUTH_PROXY_SOURCES/);
    expect(() => loadApiConfig({ ...secrets, HACKSTREAM_AUTH_PROXY_ROLES: 'ops=root' })).toThrow(/HACKSTREAM_AUTH_PROXY_ROLES.*group=role/);
    // The proxy's groups header is comma-separated: a group's name holds no comma, "=" or space.
    expect(() => loadApiConfig({ ...secrets, HACKSTREAM_AUTH_PROXY_ROLES: 'a=b=admin' })).toThrow(/HACKSTREAM_AUTH_PROXY_ROLES/);
    expect(() => loadApiConfig({ ...secrets, HACKSTREAM_AUTH_PROXY_USER_HEADER: 'X User' })).toThrow(/HACKSTREAM_AUTH_PROXY_USER_HEADER/);
    // Nobody could sign in at all.
    expect(() => loadApiConfig({ ...secrets, HACKSTREAM_LOCAL_ACCOUNTS: 'off' })).toThrow(/HACKSTREAM_LOCAL_ACCOUNTS.*HACKSTREAM_AUTH_PROXY_SOURCES/);
  });
});

describe('the sign-in proxy: whom it vouches for', () => {
  const proxy = proxyOf({ HACKSTREAM_AUTH_PROXY_ROLES: 'hs-admins=admin,hs-users=user' });

  it('reads the identity only on a connection from one of its addresses', () => {
    expect(proxy.read(request('10.1.2.3', alice))).toEqual({ username: 'alice', email: 'alice@example.org', groups: ['staff', 'hs-admins'] });
    // A dual-stack socket shows an IPv4 peer as an IPv4-mapped IPv6 address.
    expect(proxy.read(request('::ffff:10.1.2.3', alice))?.username).toBe('alice');
    expect(proxy.read(request('fd00:1::7', alice))?.username).toBe('alice');
    for (const stranger of ['10.1.2.4', '::ffff:10.1.2.4', 'fd00:2::7', '127.0.0.1']) expect(proxy.read(request(stranger, alice)), stranger).toBeNull();
    // The client's own claim of a forwarded address changes nothing: only the socket counts.
    expect(proxy.read(request('10.9.9.9', { ...alice, 'X-Forwarded-For': '10.1.2.3' }))).toBeNull();
  });

  it('is nobody when the proxy names nobody, and refuses a name no account could have', () => {
    expect(proxy.read(request('10.1.2.3', { 'X-Forwarded-Groups': 'hs-admins' }))).toBeNull();
    expect(proxy.read(request('10.1.2.3', { 'X-Forwarded-Preferred-Username': '  ' }))).toBeNull();
    expect(() => proxy.read(request('10.1.2.3', { 'X-Forwarded-Preferred-Username': '../admin' }))).toThrow(/not a usable account name/);
    expect(() => proxy.read(request('10.1.2.3', { 'X-Forwarded-Preferred-Username': 'a'.repeat(65) }))).toThrow(/not a usable account name/);
  });

  it('gives the most privileged role any group maps to, else the default', () => {
    expect(proxy.roleFor(['hs-users', 'hs-admins'])).toBe('admin');
    expect(proxy.roleFor(['hs-users', 'staff'])).toBe('user');
    expect(proxy.roleFor(['staff'])).toBeNull();
    expect(proxy.roleFor([])).toBeNull();
    expect(proxyOf({ HACKSTREAM_AUTH_PROXY_DEFAULT_ROLE: 'user' }).roleFor(['staff'])).toBe('user');
  });
});
