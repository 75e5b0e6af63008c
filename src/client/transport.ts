import { ConfigClientError, type ResponseError } from './errors.js';

export { ConfigClientError, type ResponseError };

/**
 * A generated operation (GraphQL Code Generator, `documentMode: 'string'`): its text, with the
 * result and variables types attached. No `graphql` at run time: the SDK sends the text as is.
 */
export interface Operation<TData, TVariables> {
  toString(): string;
  readonly __apiType?: (variables: TVariables) => TData;
}

/** The operation's text. */
export function source(document: Operation<unknown, never>): string {
  return document.toString();
}

/** The first error's code, or `UNKNOWN`. */
export function errorCode(errors: readonly ResponseError[]): string {
  const code = errors[0]?.extensions?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

/** `http(s)://…/graphql` → `ws(s)://…/graphql` (ws URLs pass through). */
export function toWebSocketUrl(url: string): string {
  return url.replace(/^http(s?):/i, (_, s: string) => `ws${s}:`);
}

/** `ws(s)://…` → `http(s)://…` (http URLs pass through). */
export function toHttpUrl(url: string): string {
  return url.replace(/^ws(s?):/i, (_, s: string) => `http${s}:`);
}

/**
 * One GraphQL request over HTTP POST. Resolves with `data`; rejects with `ConfigClientError`
 * when the request fails, times out, or the response carries errors.
 */
export async function postGraphQL<TData, TVariables>(
  url: string,
  document: Operation<TData, TVariables>,
  variables: TVariables,
  { token, timeoutMs, signal }: { token?: string | undefined; timeoutMs: number; signal?: AbortSignal | undefined },
): Promise<TData> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/graphql-response+json, application/json',
  };
  if (token) headers.authorization = `Bearer ${token}`;
  const timeout = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetch(toHttpUrl(url), {
      method: 'POST',
      headers,
      body: JSON.stringify({ query: source(document), variables }),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  } catch (error) {
    if (timeout.aborted) throw new ConfigClientError(`request to ${url} timed out after ${timeoutMs} ms`, 'TIMEOUT', [], { cause: error });
    const { code, message } = describeNetworkError(error);
    throw new ConfigClientError(`request to ${url} failed: ${message}`, code, [], { cause: error });
  }
  type Body = { data?: TData | null; errors?: ResponseError[] };
  const body = (await response.json().catch(() => null)) as Body | null;
  if (body?.errors?.length) {
    throw new ConfigClientError(body.errors[0]!.message, errorCode(body.errors), body.errors);
  }
  if (!response.ok) throw new ConfigClientError(`${url} answered HTTP ${response.status}`, `HTTP_${response.status}`);
  if (!body?.data) {
    // A 200 that is not a GraphQL result: a login page, a proxy's stub, another service's port.
    const type = response.headers.get('content-type') ?? 'no content type';
    throw new ConfigClientError(`${url} answered HTTP ${response.status} without a GraphQL result (${type}): is it a hotconf gateway?`, 'INVALID_RESPONSE');
  }
  return body.data;
}

/**
 * The error behind a failed `fetch` or socket (`ECONNREFUSED`, `ENOTFOUND`, a TLS code, …): undici
 * reports only "fetch failed" and keeps the reason in `cause`, sometimes as an AggregateError of
 * one error per address tried (`localhost` → ::1 and 127.0.0.1).
 */
export function describeNetworkError(error: unknown): { code: string; message: string } {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const { code, message, errors } = current as { code?: unknown; message?: unknown; errors?: unknown };
    // System (ECONNREFUSED), TLS (DEPTH_ZERO_SELF_SIGNED_CERT, CERT_HAS_EXPIRED) and undici
    // (UND_ERR_CONNECT_TIMEOUT) codes alike.
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(code)) {
      const first = Array.isArray(errors) ? (errors[0] as { message?: unknown } | undefined) : undefined;
      const text = typeof message === 'string' && message ? message : typeof first?.message === 'string' ? first.message : code;
      return { code, message: text.includes(code) ? text : `${code} (${text})` };
    }
    current = (current as { cause?: unknown }).cause;
  }
  return { code: 'NETWORK', message: error instanceof Error ? error.message : String(error) };
}

/** Any failure as a `ConfigClientError`: GraphQL errors (an array) by their first code, else by its network code. */
export function toClientError(reason: unknown): ConfigClientError {
  if (reason instanceof ConfigClientError) return reason;
  if (Array.isArray(reason)) {
    const errors = reason as ResponseError[];
    return new ConfigClientError(errors[0]?.message ?? 'subscription failed', errorCode(errors), errors);
  }
  const { code, message } = describeNetworkError(reason);
  return new ConfigClientError(message, code, [], { cause: reason });
}

/** The gateway URLs of `createConfigClient`'s options, checked: `url` or `urls`, http(s) or ws(s); a bare address gets `/graphql`. */
export function gatewayUrls(options: { url?: string | undefined; urls?: string | readonly string[] | undefined }): string[] {
  if (options.url !== undefined && options.urls !== undefined) {
    throw new TypeError('createConfigClient: give `url` or `urls`, not both');
  }
  const given = options.url !== undefined ? [options.url] : typeof options.urls === 'string' ? [options.urls] : [...(options.urls ?? [])];
  if (given.length === 0) throw new TypeError('createConfigClient: a gateway URL is required (`url` or `urls`)');
  return given.map((url) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new TypeError(`createConfigClient: ${JSON.stringify(url)} is not a URL (expected http(s)://host:port/graphql)`);
    }
    if (!['http:', 'https:', 'ws:', 'wss:'].includes(parsed.protocol)) {
      throw new TypeError(`createConfigClient: ${JSON.stringify(url)} is not an http(s) or ws(s) URL`);
    }
    // A gateway's address alone (`http://gw-1:4000`) means its endpoint, as with the CLI's --url.
    if (parsed.pathname === '/' && !parsed.search) {
      parsed.pathname = '/graphql';
      return parsed.href;
    }
    return url;
  });
}

/**
 * The token for one connection attempt: the string, or a fresh one from the function, within
 * `timeoutMs`. A function that fails, hangs or returns nothing is `TOKEN_UNAVAILABLE`.
 */
export async function tokenForAttempt(token: string | (() => string | Promise<string>) | undefined, timeoutMs: number): Promise<string | undefined> {
  if (typeof token !== 'function') return token;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const value = await Promise.race([
      Promise.resolve().then(token),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ConfigClientError(`the token function gave no token within ${timeoutMs} ms`, 'TOKEN_UNAVAILABLE')), timeoutMs);
        timer.unref?.();
      }),
    ]);
    if (typeof value !== 'string' || value === '') throw new ConfigClientError('the token function returned no token', 'TOKEN_UNAVAILABLE');
    return value;
  } catch (error) {
    if (error instanceof ConfigClientError) throw error;
    throw new ConfigClientError(`the token function failed: ${error instanceof Error ? error.message : String(error)}`, 'TOKEN_UNAVAILABLE', [], {
      cause: error,
    });
  } finally {
    clearTimeout(timer);
  }
}
