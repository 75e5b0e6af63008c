import { postWithProgress, UploadError } from '../client/http-upload.js';
import type { ConfigClientError } from '../client/errors.js';
import { source, type Operation, type ResponseError } from '../client/transport.js';
import { CliError, EXIT } from './exit-codes.js';

export type { ResponseError };

export interface RequestOptions {
  /** Called as the request body is written: bytes sent so far, total bytes. */
  onUploadProgress?: (sent: number, total: number) => void;
  /** @default 30_000 (30 s) */
  timeoutMs?: number;
}

export interface GatewayClient {
  readonly url: string;
  /** The bearer token, or null (anonymous). */
  readonly token: string | null;
  /** One GraphQL operation over HTTP POST; rejects with `CliError` carrying the right exit code. */
  request<TData, TVariables>(document: AnyDocument<TData, TVariables>, variables: TVariables, options?: RequestOptions): Promise<TData>;
}

/** A generated operation (the CLI's or the SDK's): its text with its types attached. */
export type AnyDocument<TData, TVariables> = Operation<TData, TVariables>;

/** Maps a GraphQL error code to the CLI's exit code. */
export function exitCodeFor(code: string): number {
  switch (code) {
    case 'NOT_FOUND':
      return EXIT.NOT_FOUND;
    case 'VERSION_CONFLICT':
      return EXIT.CONFLICT;
    case 'UNAUTHENTICATED':
    case 'FORBIDDEN':
      return EXIT.AUTH;
    case 'BAD_USER_INPUT':
    case 'VALIDATION_FAILED':
    case 'REVISION_COMPACTED':
    case 'REVISION_AHEAD':
    case 'GRAPHQL_PARSE_FAILED':
    case 'GRAPHQL_VALIDATION_FAILED':
      return EXIT.INVALID;
    default:
      return EXIT.UNAVAILABLE;
  }
}

/** A `CliError` for the first of the gateway's errors. */
export function errorFromResponse(errors: readonly ResponseError[]): CliError {
  const first = errors[0];
  const code = typeof first?.extensions?.code === 'string' ? first.extensions.code : 'INTERNAL_SERVER_ERROR';
  let message = first?.message ?? 'request failed';
  const current = first?.extensions?.currentVersion;
  if (code === 'VERSION_CONFLICT' && typeof current === 'number' && !/current version/i.test(message)) message += ` (current version: ${current})`;
  return new CliError(message, exitCodeFor(code), code, first?.extensions);
}

/** A `CliError` for an error of the client library (a watch that ended for good). */
export function errorFromClient(error: ConfigClientError): CliError {
  if (error.errors.length > 0) return errorFromResponse(error.errors);
  const code = error.code === 'HTTP_401' ? 'UNAUTHENTICATED' : error.code === 'HTTP_403' ? 'FORBIDDEN' : error.code;
  return new CliError(error.message, exitCodeFor(code), code);
}

/** The parsed body, or null when it is not JSON (a proxy's error page...). */
function parseJson<T>(text: string): T | null {
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

/**
 * The CLI's connection to a gateway: GraphQL over HTTP POST through the client library's
 * `postWithProgress` (large bodies with a content-length and upload progress) and graphql-ws for `watch`.
 */
export function createGatewayClient({ url, token }: { url: string; token?: string | null }): GatewayClient {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new CliError(`--url is not a URL: ${url}`, EXIT.USAGE);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new CliError(`--url must be http(s)://…/graphql, got ${target.protocol}`, EXIT.USAGE);
  }
  // `--url http://host:4000` means the gateway, whose endpoint is /graphql.
  if (target.pathname === '/' || target.pathname === '') target.pathname = '/graphql';
  url = target.toString();
  const authorization = token ? `Bearer ${token}` : null;

  const request = async <TData, TVariables>(
    document: AnyDocument<TData, TVariables>,
    variables: TVariables,
    { onUploadProgress, timeoutMs }: RequestOptions = {},
  ): Promise<TData> => {
    const body = Buffer.from(JSON.stringify({ query: source(document), variables }));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(authorization ? { authorization } : {}),
    };
    let answer: { status: number; text: string };
    try {
      answer = await postWithProgress(target, body, { headers, onUploadProgress, timeoutMs });
    } catch (error) {
      if (error instanceof UploadError) throw new CliError(error.message, EXIT.UNAVAILABLE, error.code);
      throw error;
    }
    const { status, text } = answer;
    const payload = parseJson<{ data?: TData | null; errors?: ResponseError[] }>(text);
    if (payload?.errors && payload.errors.length > 0) throw errorFromResponse(payload.errors);
    if (payload?.data && status > 0 && status < 400) {
      // Every operation of the CLI asks for at least one field, and a GraphQL server answers each
      // one (null at worst): an empty result is another service's answer, not "nothing found".
      if (Object.keys(payload.data).length > 0) return payload.data;
      throw new CliError(`${url} answered without the fields asked for: is it a hotconf gateway?`, EXIT.UNAVAILABLE, 'INVALID_RESPONSE');
    }
    const code = status === 401 ? 'UNAUTHENTICATED' : status === 403 ? 'FORBIDDEN' : `HTTP_${status}`;
    throw new CliError(`gateway answered HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`, exitCodeFor(code), code);
  };

  return { url, token: token ?? null, request };
}
