import { mkdtempSync, rmSync, statSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator, mintToken, resolveSigningSecret, type Authenticator } from '../../src/auth/tokens.js';
import { authenticateConnection } from '../../src/auth/connection.js';
import { GatewayError } from '../../src/errors.js';

const SECRET = 'unit-test-secret-unit-test-secret-0123456789';
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    return { code: (error as GatewayError).code, message: (error as Error).message };
  }
  throw new Error('expected a failure');
}

describe('HS256 authenticator', () => {
  const auth = createAuthenticator({ jwtSecret: SECRET });
  const now = () => Math.floor(Date.now() / 1000);

  it('accepts a token it minted and returns its claims', async () => {
    const token = await auth.mint({ sub: 'alice', role: 'writer', namespaces: ['demo-platform'] });
    expect(await auth.authenticate(`Bearer ${token}`)).toEqual({ sub: 'alice', role: 'writer', namespaces: ['demo-platform'], secrets: false, expiresAt: expect.any(Number) });
    expect(await auth.authenticate(`bearer   ${token}  `)).toMatchObject({ sub: 'alice' });
  });

  it('a remembered token still stops working at its exp, and a forged twin never rides on it', async () => {
    const strict = createAuthenticator({ jwtSecret: SECRET, clockToleranceS: 0 });
    const token = await mintToken({ secret: SECRET, sub: 'short', role: 'reader', namespaces: ['a'], expiresIn: '2s' });
    expect(await strict.authenticate(`Bearer ${token}`)).toMatchObject({ sub: 'short' });
    expect(await strict.authenticate(`Bearer ${token}`)).toMatchObject({ sub: 'short' });
    const [header, payload] = token.split('.');
    const forged = `${header}.${payload}.${'A'.repeat(43)}`;
    expect((await failure(strict.authenticate(`Bearer ${forged}`))).code).toBe('UNAUTHENTICATED');
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect((await failure(strict.authenticate(`Bearer ${token}`))).code).toBe('UNAUTHENTICATED');
  });

  it('answers null without a header, and requires auth by default', async () => {
    expect(await auth.authenticate(undefined)).toBeNull();
    expect(await auth.authenticate('')).toBeNull();
    expect(auth.required).toBe(true);
  });

  it('refuses expired, not-yet-valid, forged, unsigned and malformed tokens without echoing them', async () => {
    const expired = await mintToken({ secret: SECRET, sub: 'a', role: 'admin', namespaces: '*', expiresIn: -60 });
    const future = await mintToken({ secret: SECRET, sub: 'a', role: 'admin', namespaces: '*', notBefore: 3600 });
    const forged = await mintToken({ secret: `${SECRET}-other`, sub: 'a', role: 'admin', namespaces: '*' });
    const valid = await auth.mint({ sub: 'a', role: 'reader', namespaces: '*' });
    const [h, p] = valid.split('.');
    const tampered = `${h}.${b64({ sub: 'a', role: 'admin', namespaces: '*', exp: now() + 60 })}.${valid.split('.')[2]}`;
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'a', role: 'admin', namespaces: '*', exp: now() + 60 })}.`;
    const noneNoDot = `${b64({ alg: 'none' })}.${p}`;
    const cases: Array<[string, string, RegExp]> = [
      ['expired', `Bearer ${expired}`, /expired/],
      ['nbf in the future', `Bearer ${future}`, /not yet valid/],
      ['wrong secret', `Bearer ${forged}`, /Invalid token/],
      ['tampered payload', `Bearer ${tampered}`, /Invalid token/],
      ['alg none', `Bearer ${none}`, /Invalid token/],
      ['alg none, two parts', `Bearer ${noneNoDot}`, /Invalid token/],
      ['garbage', 'Bearer not-a-jwt', /Invalid token/],
      ['basic auth', 'Basic YWxpY2U6cGFzcw==', /Bearer/],
      ['huge', `Bearer ${'a'.repeat(100_000)}`, /too large/],
    ];
    for (const [name, header, message] of cases) {
      const error = await failure(auth.authenticate(header));
      expect(error.code, name).toBe('UNAUTHENTICATED');
      expect(error.message, name).toMatch(message);
      expect(error.message, name).not.toContain(header.slice(7, 40));
    }
  });

  it('tolerates a few seconds of clock skew on nbf, but exp is exact and carried as expiresAt', async () => {
    const early = await mintToken({ secret: SECRET, sub: 'a', role: 'admin', namespaces: '*', notBefore: 2 });
    expect(await auth.authenticate(`Bearer ${early}`)).toMatchObject({ sub: 'a' });
    const justExpired = await mintToken({ secret: SECRET, sub: 'a', role: 'admin', namespaces: '*', expiresIn: -2 });
    expect(await failure(auth.authenticate(`Bearer ${justExpired}`))).toMatchObject({ code: 'UNAUTHENTICATED', message: 'Token expired' });
    const token = await mintToken({ secret: SECRET, sub: 'a', role: 'admin', namespaces: '*', expiresIn: 60 });
    const exp = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp as number;
    expect((await auth.authenticate(`Bearer ${token}`))?.expiresAt).toBe(exp * 1_000);
  });

  it('refuses tokens whose claims are not hotconf claims', async () => {
    const key = new TextEncoder().encode(SECRET);
    const sign = (claims: Record<string, unknown>) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(key);
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ role: 'admin', namespaces: '*' }, /sub/],
      [{ sub: 'a', role: 'root', namespaces: '*' }, /role/],
      [{ sub: 'a', role: 'admin' }, /namespaces/],
      [{ sub: 'a', role: 'admin', namespaces: 'demo' }, /namespaces/],
      [{ sub: 'a', role: 'admin', namespaces: [1] }, /namespaces/],
      [{ sub: 'a', role: 'admin', namespaces: '*', secrets: 'yes' }, /secrets/],
    ];
    for (const [claims, message] of bad) {
      const error = await failure(auth.authenticate(`Bearer ${await sign(claims)}`));
      expect(error).toMatchObject({ code: 'UNAUTHENTICATED' });
      expect(error.message).toMatch(message);
    }
    const star = await sign({ sub: 'a', role: 'reader', namespaces: ['x', '*'], secrets: true });
    expect(await auth.authenticate(`Bearer ${star}`)).toEqual({ sub: 'a', role: 'reader', namespaces: '*', secrets: true, expiresAt: expect.any(Number) });
  });

  it('refuses an HS512 token even with the right secret (algorithm pinned)', async () => {
    const token = await new SignJWT({ sub: 'a', role: 'admin', namespaces: '*' })
      .setProtectedHeader({ alg: 'HS512' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET));
    expect(await failure(auth.authenticate(`Bearer ${token}`))).toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

describe('JWKS authenticator', () => {
  let server: Server;
  let url: string;
  let privateKey: CryptoKey;
  let publicPem: string;
  let auth: Authenticator;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    privateKey = pair.privateKey;
    publicPem = await exportSPKI(pair.publicKey);
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/jwks.json`;
    auth = createAuthenticator({ jwksUrl: url });
  });
  afterAll(async () => {
    await auth.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('accepts an RS256 token signed by a key in the set', async () => {
    const token = await new SignJWT({ sub: 'svc', role: 'reader', namespaces: ['a'] })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setExpirationTime('5m')
      .sign(privateKey);
    expect(await auth.authenticate(`Bearer ${token}`)).toEqual({ sub: 'svc', role: 'reader', namespaces: ['a'], secrets: false, expiresAt: expect.any(Number) });
    expect(auth.required).toBe(true);
    expect(auth.mode).toBe('jwks');
  });

  it('refuses an HS256 token signed with the public key as the secret (algorithm confusion)', async () => {
    const token = await new SignJWT({ sub: 'evil', role: 'admin', namespaces: '*', secrets: true })
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(publicPem));
    expect(await failure(auth.authenticate(`Bearer ${token}`))).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('cannot mint in JWKS-only mode', async () => {
    await expect(auth.mint({ sub: 'a', role: 'admin', namespaces: '*' })).rejects.toThrow(/HS256/);
  });

  it('answers SERVICE_UNAVAILABLE, not UNAUTHENTICATED, when the JWKS cannot be fetched', async () => {
    const down = createAuthenticator({ jwksUrl: 'http://127.0.0.1:1/jwks.json', jwksTimeoutMs: 1_000 });
    const token = await new SignJWT({ sub: 'svc', role: 'reader', namespaces: ['a'] })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setExpirationTime('5m')
      .sign(privateKey);
    expect(await failure(down.authenticate(`Bearer ${token}`))).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
  });
});

describe('secure default: generated key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hotconf-auth-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('generates a 0600 key once, reuses it across starts, and prints a working admin token', async () => {
    const dataDir = join(dir, 'data');
    const first = createAuthenticator({ dataDir });
    expect(first.mode).toBe('generated');
    expect(first.required).toBe(true);
    const file = join(dataDir, 'jwt-secret');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const lines = await first.describeStartupAuth();
    const token = lines.find((line) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(line));
    expect(token).toBeDefined();

    const second = createAuthenticator({ dataDir });
    expect(await second.authenticate(`Bearer ${token}`)).toEqual({ sub: 'admin', role: 'admin', namespaces: '*', secrets: true, expiresAt: expect.any(Number) });
    // The CLI signs with the same key the gateway verifies with.
    const cli = await mintToken({ secret: resolveSigningSecret({ dataDir }), sub: 'alice', role: 'writer', namespaces: ['demo-platform'] });
    expect(await second.authenticate(`Bearer ${cli}`)).toMatchObject({ sub: 'alice', role: 'writer' });
    // Same key as HOTCONF_JWT_SECRET="$(cat jwt-secret)".
    const viaEnv = createAuthenticator({ jwtSecret: readFileSync(file, 'utf8').trim() });
    expect(await viaEnv.authenticate(`Bearer ${cli}`)).toMatchObject({ sub: 'alice' });
  });

  it('tightens a key file others can read', () => {
    const dataDir = join(dir, 'loose');
    createAuthenticator({ dataDir });
    const file = join(dataDir, 'jwt-secret');
    chmodSync(file, 0o644);
    createAuthenticator({ dataDir });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('refuses to start on an empty key file', () => {
    const dataDir = join(dir, 'empty');
    createAuthenticator({ dataDir });
    writeFileSync(join(dataDir, 'jwt-secret'), '\n');
    expect(() => createAuthenticator({ dataDir })).toThrow(/no usable key/);
  });
});

describe('graphql-ws connection_init', () => {
  const auth = createAuthenticator({ jwtSecret: SECRET });
  const run = async (params: Record<string, unknown> | undefined) => {
    const closes: Array<[number, string]> = [];
    const result = await authenticateConnection(auth, params, (code, reason) => closes.push([code, reason]));
    return { result, closes };
  };

  it('closes 4401 without or with a bad token, 4403 for a token granting nothing, and passes a good one', async () => {
    expect((await run(undefined)).closes[0]?.[0]).toBe(4401);
    expect((await run({ authorization: 'Bearer nope' })).closes[0]?.[0]).toBe(4401);
    const empty = await auth.mint({ sub: 'x', role: 'reader', namespaces: [] });
    expect((await run({ authorization: `Bearer ${empty}` })).closes[0]?.[0]).toBe(4403);
    const good = await auth.mint({ sub: 'x', role: 'reader', namespaces: ['a'] });
    expect(await run({ Authorization: `Bearer ${good}` })).toEqual({ result: { sub: 'x', role: 'reader', namespaces: ['a'], secrets: false, expiresAt: expect.any(Number) }, closes: [] });
    expect((await run({ token: good })).result).toMatchObject({ sub: 'x' });
  });
});
