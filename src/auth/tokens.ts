import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  SignJWT,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { LRUCache } from 'lru-cache';
import type { Principal, Role } from '../core/types.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import { isExpired, tokenExpired } from './lifetime.js';

/** Asymmetric algorithms accepted from a JWKS. HMAC is never accepted there (algorithm confusion). */
export const JWKS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** The only algorithm accepted with a shared secret. */
export const SECRET_ALGORITHM = 'HS256';

/** Name of the generated key file inside the data directory. */
export const GENERATED_SECRET_FILE = 'jwt-secret';

const ROLES: readonly Role[] = ['admin', 'writer', 'reader'];
/** Tokens larger than this are refused before any parsing (a bearer token is a few hundred bytes). */
const MAX_TOKEN_CHARS = 8_192;
const SUB_MAX_CHARS = 256;
const MAX_NAMESPACE_CLAIMS = 1_000;

/** The claims a hotconf token carries (DESIGN.md "Token claims"). */
export interface TokenClaims {
  /** The actor recorded in history. */
  sub: string;
  role: Role;
  /** Namespaces the token may use; `'*'` for all. */
  namespaces: readonly string[] | '*';
  /** May read secret values. @default false */
  secrets?: boolean;
}

/** Where the verification keys come from. */
export type AuthMode = 'secret' | 'jwks' | 'secret+jwks' | 'generated';

export interface AuthenticatorOptions {
  /** HS256 shared secret (`HOTCONF_JWT_SECRET`); its UTF-8 bytes are the HMAC key. @default null */
  jwtSecret?: string | null;
  /** JWKS URL for RS/ES/PS/EdDSA tokens (`HOTCONF_JWKS_URL`). @default null */
  jwksUrl?: string | null;
  /**
   * Where a key is generated when neither a secret nor a JWKS is configured.
   * @default './.hotconf'
   */
  dataDir?: string;
  logger?: Pick<Logger, 'warn' | 'info'>;
  /**
   * Allowed clock skew for `nbf` (a token minted on a clock slightly ahead). `exp` is exact: it
   * is the instant every use of the token ends, on every transport (see `Principal.expiresAt`).
   * @default 5 (seconds)
   */
  clockToleranceS?: number;
  /** Required `iss`, when the issuer of JWKS tokens should be pinned. @default undefined (not checked) */
  issuer?: string;
  /** Required `aud`. @default undefined (not checked) */
  audience?: string;
  /** Timeout for fetching the JWKS. @default 5_000 (5 s) */
  jwksTimeoutMs?: number;
  /**
   * Whether callers must present a token. `false` makes anonymous callers admins: only for a
   * gateway that nothing else can reach.
   * @default true
   */
  required?: boolean;
  /** Verified tokens remembered (0 = verify every request). @default 10_000 */
  verifiedCacheSize?: number;
  /** Longest a verified token is remembered (never past its exp). @default 60_000 (1 min) */
  verifiedCacheTtlMs?: number;
}

export interface Authenticator {
  /**
   * Verifies an `Authorization` header value (`Bearer <jwt>`). Resolves `null` when there is no
   * header; throws `GatewayError` UNAUTHENTICATED for a malformed, expired, not-yet-valid,
   * issued-in-the-future (`iat` past the clock tolerance), forged or unsigned token or invalid claims (the message never echoes the token), and
   * SERVICE_UNAVAILABLE when the JWKS cannot be fetched.
   */
  authenticate(authorization: string | null | undefined): Promise<Principal | null>;
  /** Whether anonymous callers are refused. */
  readonly required: boolean;
  readonly mode: AuthMode;
  /** Signs an HS256 token with the configured or generated secret. Throws in JWKS-only mode. */
  mint(claims: TokenClaims, options?: { expiresIn?: string | number }): Promise<string>;
  /**
   * The lines to print once at start: with a generated key, a fresh admin token and how to use
   * it; otherwise a one-line note on the auth mode. Print them to stderr, not through the logger.
   */
  describeStartupAuth(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * Reads the key file in `dataDir`, or creates it (32 random bytes, base64url, mode 0600).
 * `HOTCONF_JWT_SECRET="$(cat <dataDir>/jwt-secret)"` verifies the same tokens.
 */
export function loadOrCreateGeneratedSecret(dataDir: string, logger?: Pick<Logger, 'warn'>): string {
  const file = join(dataDir, GENERATED_SECRET_FILE);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  try {
    // 'wx' fails when the file exists, so two starts never overwrite each other's key.
    writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    logger?.warn({ file }, 'generated JWT key was readable by others; restricting it to mode 0600');
    chmodSync(file, 0o600);
  }
  const secret = readFileSync(file, 'utf8').trim();
  if (secret.length < 32) throw new Error(`${file} holds no usable key (expected 32+ characters); delete it to generate a new one`);
  return secret;
}

/** The HS256 secret the gateway would use: the configured one, else the generated one. */
export function resolveSigningSecret({ jwtSecret, dataDir = './.hotconf' }: { jwtSecret?: string | null; dataDir?: string }): string {
  return jwtSecret || loadOrCreateGeneratedSecret(dataDir);
}

// No `cause` on purpose: a GraphQLError whose originalError is a foreign error is treated as
// unexpected and masked when it is thrown outside a resolver (the context factory), and the
// verifier's own detail is of no use to the caller.
function unauthenticated(message: string): GatewayError {
  return new GatewayError('UNAUTHENTICATED', message);
}

/** Turns verified JWT claims into a `Principal`, or throws UNAUTHENTICATED naming the bad claim. */
export function principalFromClaims(payload: JWTPayload): Principal {
  const { sub, role, namespaces, secrets } = payload as Record<string, unknown>;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > SUB_MAX_CHARS) {
    throw unauthenticated('Token claim "sub" must be a non-empty string');
  }
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
    throw unauthenticated(`Token claim "role" must be one of ${ROLES.join(', ')}`);
  }
  let scope: readonly string[] | '*';
  if (namespaces === '*') {
    scope = '*';
  } else if (
    Array.isArray(namespaces) &&
    namespaces.length <= MAX_NAMESPACE_CLAIMS &&
    namespaces.every((ns): ns is string => typeof ns === 'string' && ns.length > 0)
  ) {
    scope = namespaces.includes('*') ? '*' : Object.freeze([...namespaces]);
  } else {
    throw unauthenticated('Token claim "namespaces" must be "*" or a list of namespace names');
  }
  if (secrets !== undefined && typeof secrets !== 'boolean') {
    throw unauthenticated('Token claim "secrets" must be a boolean');
  }
  // jose has checked that `exp`, when present, is a number.
  const expiresAt = typeof payload.exp === 'number' ? payload.exp * 1_000 : null;
  return Object.freeze({ sub, role: role as Role, namespaces: scope, secrets: secrets === true, expiresAt });
}

function bearerToken(authorization: string): string {
  const match = /^\s*Bearer\s+([A-Za-z0-9_\-.=+/]+)\s*$/i.exec(authorization);
  if (!match || match[1] === undefined) throw unauthenticated('Authorization header must be "Bearer <token>"');
  if (match[1].length > MAX_TOKEN_CHARS) throw unauthenticated('Token too large');
  return match[1];
}

function verificationError(error: unknown, logger?: Pick<Logger, 'warn'>): GatewayError {
  if (error instanceof GatewayError) return error;
  if (error instanceof joseErrors.JWTExpired) return unauthenticated('Token expired');
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return unauthenticated(error.claim === 'nbf' ? 'Token not yet valid' : `Token claim "${error.claim}" is invalid`);
  }
  if (error instanceof joseErrors.JWKSTimeout || (error instanceof joseErrors.JOSEError && error.code === 'ERR_JWKS_INVALID')) {
    logger?.warn({ err: error }, 'JWKS cannot be fetched');
    return new GatewayError('SERVICE_UNAVAILABLE', 'Token keys cannot be fetched right now');
  }
  if (error instanceof joseErrors.JOSEError) return unauthenticated('Invalid token');
  // A failed JWKS fetch (network) surfaces as a plain error: the token may be fine.
  logger?.warn({ err: error }, 'JWKS cannot be fetched');
  return new GatewayError('SERVICE_UNAVAILABLE', 'Token keys cannot be fetched right now');
}

/**
 * Verifies bearer tokens and mints HS256 ones.
 *
 * Keys: `jwtSecret` (HS256), `jwksUrl` (asymmetric), or both (the token's `alg` chooses; an HS
 * token is never checked against a JWKS key and vice versa). With neither, a key is generated
 * into `<dataDir>/jwt-secret` (secure default: auth stays required, and
 * `describeStartupAuth()` hands out an admin token once).
 *
 * @example
 * const auth = createAuthenticator({ jwtSecret: config.jwtSecret, jwksUrl: config.jwksUrl, dataDir: config.dataDir, logger });
 * for (const line of await auth.describeStartupAuth()) process.stderr.write(`${line}\n`);
 */
export function createAuthenticator(options: AuthenticatorOptions = {}): Authenticator {
  const {
    jwtSecret = null,
    jwksUrl = null,
    dataDir = './.hotconf',
    logger,
    clockToleranceS = 5, // 5 s
    issuer,
    audience,
    jwksTimeoutMs = 5_000, // 5 s
    required = true,
    verifiedCacheSize = 10_000, // tokens
    verifiedCacheTtlMs = 60_000, // 1 min
  } = options;

  let mode: AuthMode;
  let secret: string | null = jwtSecret || null;
  if (secret && jwksUrl) mode = 'secret+jwks';
  else if (secret) mode = 'secret';
  else if (jwksUrl) mode = 'jwks';
  else {
    mode = 'generated';
    secret = loadOrCreateGeneratedSecret(dataDir, logger);
  }
  if (mode !== 'generated' && secret !== null && Buffer.byteLength(secret) < 32) {
    logger?.warn('HOTCONF_JWT_SECRET is shorter than 32 bytes: HS256 tokens can be brute-forced; use a longer secret');
  }

  /*
   * jose checks `iat` only with `maxTokenAge`. A token issued later than now (beyond the clock
   * tolerance) comes from an issuer whose clock is wrong or from someone minting tokens ahead of
   * time: refused, as go-jose (Kubernetes) and PyJWT do.
   */
  const issuedInThePast = (payload: JWTPayload): JWTPayload => {
    if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1_000 + clockToleranceS) throw unauthenticated('Token issued in the future');
    return payload;
  };
  const hmacKey = secret === null ? null : new TextEncoder().encode(secret);
  const jwks: JWTVerifyGetKey | null = jwksUrl ? createRemoteJWKSet(new URL(jwksUrl), { timeoutDuration: jwksTimeoutMs }) : null;
  const common = { clockTolerance: clockToleranceS, issuer, audience };

  const verify = async (token: string): Promise<Principal> => {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch (error) {
      throw unauthenticated('Invalid token');
    }
    // Pin the algorithm family to the key kind: `none` matches neither, an HS token is never
    // verified against a public key, an RS/ES token never against the shared secret.
    if (alg === SECRET_ALGORITHM && hmacKey) {
      const { payload } = await jwtVerify(token, hmacKey, { ...common, algorithms: [SECRET_ALGORITHM] });
      return remember(token, principalFromClaims(issuedInThePast(payload)));
    }
    if (alg !== undefined && (JWKS_ALGORITHMS as readonly string[]).includes(alg) && jwks) {
      const { payload } = await jwtVerify(token, jwks, { ...common, algorithms: [...JWKS_ALGORITHMS] });
      return remember(token, principalFromClaims(issuedInThePast(payload)));
    }
    throw unauthenticated('Invalid token: algorithm not accepted');
  };

  /*
   * Verified tokens, by their full text (signature included, so only the exact token hits).
   * WebCrypto HMAC is an async thread-pool round trip on every request; a service sends the same
   * token for hours. An entry lives until the token's exp and at most verifiedCacheTtlMs, so a
   * rotated key stops being honoured within that bound; past verifiedCacheSize the least
   * recently used token is dropped (lru-cache).
   */
  const verified = verifiedCacheSize > 0 ? new LRUCache<string, Principal>({ max: verifiedCacheSize, ttl: verifiedCacheTtlMs }) : null;
  const remember = (token: string, principal: Principal): Principal => {
    // ttl 0 would mean "forever" to lru-cache: a token at or past its exp is simply not kept.
    const ttl = Math.min(verifiedCacheTtlMs, (principal.expiresAt ?? Infinity) - Date.now());
    if (verified && ttl >= 1) verified.set(token, principal, { ttl });
    return principal;
  };
  const recall = (token: string): Principal | null => verified?.get(token) ?? null;

  const mint: Authenticator['mint'] = async (claims, { expiresIn = '24h' } = {}) => {
    if (!secret) throw new Error('Tokens can be minted only with an HS256 secret (HOTCONF_JWT_SECRET or the generated key)');
    return mintToken({ secret, ...claims, expiresIn });
  };

  return {
    required,
    mode,
    async authenticate(authorization) {
      if (authorization === null || authorization === undefined || authorization.trim() === '') return null;
      const token = bearerToken(authorization);
      let principal = recall(token);
      if (!principal) {
        try {
          principal = await verify(token);
        } catch (error) {
          throw verificationError(error, logger);
        }
      }
      // jose lets `exp` pass within the clock tolerance; the gateway's expiry is `exp` itself, so a
      // request and a graphql-ws connection agree on when a token stops working.
      if (isExpired(principal)) throw tokenExpired();
      return principal;
    },
    mint,
    async describeStartupAuth() {
      if (!required) return ['hotconf: authentication is OFF: every caller is an admin. Do not expose this gateway.'];
      if (mode !== 'generated') return [`hotconf: bearer tokens required (${mode === 'jwks' ? 'JWKS' : mode === 'secret' ? 'HS256 secret' : 'HS256 secret or JWKS'})`];
      const token = await mint({ sub: 'admin', role: 'admin', namespaces: '*', secrets: true }, { expiresIn: '30d' });
      return [
        `hotconf: no HOTCONF_JWT_SECRET or HOTCONF_JWKS_URL set; using the generated key in ${join(dataDir, GENERATED_SECRET_FILE)}`,
        'hotconf: admin token (valid 30 days, shown once; mint more with `hotconf token --role writer --namespace <ns> --sub <name>`):',
        token,
        `hotconf: use it as: Authorization: Bearer <token>`,
      ];
    },
    async close() {
      // Nothing held open: the remote JWKS is fetched per request on cache miss, with no timer.
    },
  };
}

/**
 * Mints an HS256 token; used by the `hotconf token` CLI and by tests.
 *
 * @param options.secret the HS256 secret (`HOTCONF_JWT_SECRET`, or `resolveSigningSecret({ dataDir })`
 *   for the generated key)
 * @param options.expiresIn seconds, or a jose time span such as `'24h'`, `'30d'`. @default '24h'
 * @param options.notBefore optional `nbf`, seconds or a time span from now.
 * @example
 * const token = await mintToken({ secret: resolveSigningSecret(config), sub: 'alice', role: 'writer', namespaces: ['demo-platform'] });
 */
export async function mintToken(options: TokenClaims & { secret: string; expiresIn?: string | number; notBefore?: string | number }): Promise<string> {
  const { secret, sub, role, namespaces, secrets = false, expiresIn = '24h', notBefore } = options;
  principalFromClaims({ sub, role, namespaces: namespaces === '*' ? '*' : [...namespaces], secrets });
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ role, namespaces: namespaces === '*' ? '*' : [...namespaces], secrets })
    .setProtectedHeader({ alg: SECRET_ALGORITHM, typ: 'JWT' })
    .setSubject(sub)
    .setIssuedAt(now)
    .setExpirationTime(typeof expiresIn === 'number' ? now + expiresIn : expiresIn);
  if (notBefore !== undefined) jwt.setNotBefore(typeof notBefore === 'number' ? now + notBefore : notBefore);
  return jwt.sign(new TextEncoder().encode(secret));
}

/**
 * The `Authorization` value a graphql-ws client sent in `connection_init`: `authorization`
 * (`"Bearer …"`, any case) or a bare `token`.
 */
export function authorizationFromConnectionParams(params: Readonly<Record<string, unknown>> | null | undefined): string | null {
  if (!params) return null;
  for (const [name, value] of Object.entries(params)) {
    if (name.toLowerCase() === 'authorization' && typeof value === 'string') return value;
  }
  if (typeof params.token === 'string' && params.token !== '') return `Bearer ${params.token}`;
  return null;
}
