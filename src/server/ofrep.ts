import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { resolveOpenFeature, type OpenFeatureErrorCode, type OpenFeatureSuccess } from '../shared/flags.js';
import type { ConfigStore, Entry, Guard, Principal } from '../core/types.js';
import type { Validator } from '../core/validation.js';
import { isGatewayError } from '../errors.js';
import type { Logger } from '../logger.js';

/**
 * OpenFeature Remote Evaluation Protocol (OFREP) on the gateway's port, so an unmodified OFREP
 * provider (`@openfeature/ofrep-provider`) evaluates hotconf flags:
 * - `POST /ofrep/v1/evaluate/flags/{key}`: one flag (or any config value, as a typed flag);
 * - `POST /ofrep/v1/evaluate/flags`: every readable entry of the namespace, with an ETag.
 * Bearer auth as on `/graphql`; the namespace is `x-hotconf-namespace`, or the token's single
 * namespace. A flag's answer is exactly `evaluateFlag`'s (same bucketing, same rules).
 */
export interface OfrepOptions {
  store: Pick<ConfigStore, 'get' | 'snapshot'>;
  authenticate: (authorization: string | null) => Promise<Principal | null>;
  guardFor: (principal: Principal | null) => Guard;
  validate: Pick<Validator, 'namespace' | 'key'>;
  /** Largest request body (an evaluation context). @default 65_536 (64 KiB) */
  maxBodyBytes?: number;
  logger?: Pick<Logger, 'warn' | 'error'>;
}

type OfrepErrorCode = OpenFeatureErrorCode | 'PARSE_ERROR' | 'INVALID_CONTEXT';

type Success = OpenFeatureSuccess & { key: string };
interface Failure {
  key: string;
  errorCode: OfrepErrorCode;
  errorDetails: string;
}

const PREFIX = '/ofrep/v1/evaluate/flags';

/** A refusal of the whole request, with its HTTP status. */
class OfrepRefusal extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: OfrepErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'OfrepRefusal';
  }
}

/**
 * One entry as an OFREP flag: `resolveOpenFeature`'s answer, the same mapping the SDK's
 * OpenFeature provider uses. A flag is a boolean whose answer for the context's `targetingKey` is
 * `evaluateFlag`'s; any other config value is served as a static typed flag.
 */
export function evaluateEntry(entry: Entry, targetingKey: string | undefined): Success | Failure {
  return { key: entry.key, ...resolveOpenFeature(entry.key, entry, targetingKey) };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...(body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) }),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > maxBytes) throw new OfrepRefusal(400, 'PARSE_ERROR', `request body is larger than ${maxBytes} bytes`, { connection: 'close' });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new OfrepRefusal(400, 'PARSE_ERROR', `request body is larger than ${maxBytes} bytes`, { connection: 'close' });
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new OfrepRefusal(400, 'PARSE_ERROR', 'the request body is not JSON');
  }
}

/**
 * Whether `If-None-Match` names `etag` (RFC 9110 13.1.2): `*`, or any tag of the list under the
 * weak comparison (`W/"x"` matches `"x"`), as a cache that kept several representations sends.
 */
export function ifNoneMatchHits(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const opaque = etag.replace(/^W\//, '');
  const list = Array.isArray(header) ? header.join(',') : header;
  if (list.trim() === '*') return true;
  // Entity tags never contain commas or spaces outside their quotes, and ours never inside them.
  return list.split(',').some((tag) => tag.trim().replace(/^W\//, '') === opaque);
}

/** The flag key of a request path, or null when its percent-encoding is malformed. */
function decodeKey(encoded: string): string | null {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return null;
  }
}

/** `context.targetingKey` of an OFREP request body, checked. */
function targetingKeyOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new OfrepRefusal(400, 'PARSE_ERROR', 'the body must be a JSON object');
  const context = (body as { context?: unknown }).context;
  if (context === undefined || context === null) return undefined;
  if (typeof context !== 'object' || Array.isArray(context)) throw new OfrepRefusal(400, 'INVALID_CONTEXT', 'context must be an object');
  const key = (context as { targetingKey?: unknown }).targetingKey;
  if (key === undefined || key === null) return undefined;
  if (typeof key !== 'string' || key.length > 1_024) throw new OfrepRefusal(400, 'INVALID_CONTEXT', 'context.targetingKey must be a string of at most 1024 characters');
  return key;
}

/** Request headers a browser's OFREP provider sends, allowed when a preflight names none. */
const ALLOWED_HEADERS = 'authorization, content-type, if-none-match, x-hotconf-namespace';

/**
 * CORS as `/graphql` answers it (yoga's default: the caller's origin is reflected): the OFREP web
 * provider runs in browsers, on the app's origin, and reads the bulk answer's `ETag`. Tokens are
 * bearer headers, never cookies, so allowing any origin grants nothing a token does not.
 * Returns true when `req` was a preflight, answered here.
 */
function applyCors(req: IncomingMessage, res: ServerResponse): boolean {
  const origin = req.headers.origin;
  if (!origin) return false;
  res.setHeader('access-control-allow-origin', origin);
  res.setHeader('access-control-allow-credentials', 'true');
  const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
  if (!preflight) {
    res.setHeader('vary', 'Origin');
    res.setHeader('access-control-expose-headers', 'ETag');
    return false;
  }
  res.writeHead(204, {
    vary: 'Origin, Access-Control-Request-Headers',
    'access-control-allow-methods': 'POST',
    'access-control-allow-headers': req.headers['access-control-request-headers'] ?? ALLOWED_HEADERS,
    'access-control-max-age': '600',
    'content-length': '0',
  });
  res.end();
  return true;
}

/** Serves OFREP under `/ofrep/v1/`; resolves true when it answered the request. */
export function createOfrepHandler({ store, authenticate, guardFor, validate, maxBodyBytes = 65_536, logger }: OfrepOptions) {
  const namespaceOf = (req: IncomingMessage, principal: Principal | null): string => {
    const header = req.headers['x-hotconf-namespace'];
    const named = Array.isArray(header) ? header[0] : header;
    const namespace = named ?? (principal && principal.namespaces !== '*' && principal.namespaces.length === 1 ? principal.namespaces[0] : undefined);
    if (!namespace) throw new OfrepRefusal(400, 'INVALID_CONTEXT', 'which namespace? send the x-hotconf-namespace header (or use a token for exactly one namespace)');
    try {
      validate.namespace(namespace);
    } catch (error) {
      throw new OfrepRefusal(400, 'INVALID_CONTEXT', (error as Error).message);
    }
    return namespace;
  };

  const authorize = async (req: IncomingMessage): Promise<{ namespace: string; guard: Guard }> => {
    let principal: Principal | null;
    try {
      principal = await authenticate(req.headers.authorization ?? null);
    } catch (error) {
      if (isGatewayError(error) && error.code === 'UNAUTHENTICATED') {
        throw new OfrepRefusal(401, 'GENERAL', error.message, { 'www-authenticate': 'Bearer' });
      }
      // The token keys (JWKS) cannot be fetched: the caller should retry, as over /graphql (503).
      if (isGatewayError(error) && error.code === 'SERVICE_UNAVAILABLE') throw new OfrepRefusal(503, 'GENERAL', error.message);
      throw error;
    }
    const guard = guardFor(principal);
    let namespace: string;
    try {
      // Who first: a caller without a token hears 401, whatever else is wrong with the request.
      guard.authenticated();
      namespace = namespaceOf(req, guard.principal);
      guard.read(namespace);
    } catch (error) {
      if (error instanceof OfrepRefusal) throw error;
      if (isGatewayError(error) && error.code === 'UNAUTHENTICATED') throw new OfrepRefusal(401, 'GENERAL', error.message, { 'www-authenticate': 'Bearer' });
      if (isGatewayError(error)) throw new OfrepRefusal(403, 'GENERAL', error.message);
      throw error;
    }
    return { namespace, guard };
  };

  const single = async (req: IncomingMessage, res: ServerResponse, encodedKey: string) => {
    const { namespace, guard } = await authorize(req);
    const targetingKey = targetingKeyOf(await readJson(req, maxBodyBytes));
    // A key that cannot be decoded, or is not a valid key, names no flag.
    const decoded = decodeKey(encodedKey);
    const key = decoded ?? encodedKey;
    let entry: Entry | null = null;
    try {
      if (decoded !== null) {
        validate.key(decoded);
        entry = await store.get(namespace, decoded);
      }
    } catch (error) {
      if (!isGatewayError(error) || error.code !== 'BAD_USER_INPUT') throw error;
    }
    if (!entry) return send(res, 404, { key, errorCode: 'FLAG_NOT_FOUND', errorDetails: `flag ${key} does not exist in namespace ${namespace}` });
    if (entry.secret && !guard.canReadSecrets()) return send(res, 403, { key, errorCode: 'GENERAL', errorDetails: `${key} is secret` });
    const result = evaluateEntry(entry, targetingKey);
    if ('errorCode' in result) return send(res, 400, result);
    return send(res, 200, result);
  };

  const bulk = async (req: IncomingMessage, res: ServerResponse) => {
    const { namespace, guard } = await authorize(req);
    const targetingKey = targetingKeyOf(await readJson(req, maxBodyBytes));
    const snapshot = await store.snapshot(namespace);
    // The answers depend on the namespace's state and on who asks, nothing else.
    const etag = `"${createHash('sha256').update(JSON.stringify([namespace, snapshot.revision, targetingKey ?? null, guard.canReadSecrets()])).digest('base64url').slice(0, 27)}"`;
    if (ifNoneMatchHits(req.headers['if-none-match'], etag)) return send(res, 304, undefined, { etag });
    const flags = snapshot.entries.filter((entry) => !entry.secret || guard.canReadSecrets()).map((entry) => evaluateEntry(entry, targetingKey));
    return send(res, 200, { flags }, { etag });
  };

  return async function handleOfrep(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    if (path !== PREFIX && !path.startsWith(`${PREFIX}/`)) return false;
    const encodedKey = path === PREFIX ? null : path.slice(PREFIX.length + 1);
    const key = encodedKey === null ? null : (decodeKey(encodedKey) ?? encodedKey);
    if (applyCors(req, res)) return true;
    try {
      if (req.method !== 'POST') return (send(res, 405, { key: key ?? '', errorCode: 'GENERAL', errorDetails: 'use POST' }, { allow: 'POST' }), true);
      if (key === null) await bulk(req, res);
      else await single(req, res, encodedKey!);
    } catch (error) {
      if (error instanceof OfrepRefusal) {
        send(res, error.status, { key: key ?? '', errorCode: error.errorCode, errorDetails: error.message }, error.headers);
      } else {
        logger?.warn({ err: error, path }, 'OFREP evaluation failed');
        if (!res.headersSent) send(res, 500, { key: key ?? '', errorCode: 'GENERAL', errorDetails: 'the flag cannot be evaluated right now' });
      }
    }
    return true;
  };
}
