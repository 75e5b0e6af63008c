import { STATUS_CODES, createServer, maxHeaderSize, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../logger.js';
import type { GatewayYoga } from './yoga.js';

export interface HttpServerOptions {
  yoga: GatewayYoga;
  /** Handles /health, /ready, /metrics; returns true when it answered. */
  ops?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
  /** Largest request body. @default 4_194_304 (4 MiB) */
  maxBodyBytes?: number;
  logger: Logger;
}

function refuse(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json', connection: 'close' });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code: 'BAD_USER_INPUT' } }] }));
}

/**
 * What node:http answers itself when it cannot parse a request (no listener ever sees it): the
 * same JSON error shape as every other refusal, instead of node's bare status line. A GET whose
 * query and variables make the URL longer than the header limit is the case a client meets.
 */
function refuseUnparsed(error: NodeJS.ErrnoException, socket: Socket): void {
  // As node's own handler does: no answer while a response on this (kept-alive, pipelined)
  // connection is under way, whose bytes ours would corrupt.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, code, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'BAD_USER_INPUT', `the request line and headers are larger than ${maxHeaderSize} bytes: send the operation in a POST body`]
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'BAD_REQUEST', 'the request did not arrive in time']
        : [400, 'BAD_REQUEST', 'the request is not well-formed HTTP'];
  const body = JSON.stringify({ errors: [{ message, extensions: { code } }] });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** `/graphql`, with or without a query string: yoga's endpoint. */
function isGraphQLPath(url: string | undefined): boolean {
  return url !== undefined && url.startsWith('/graphql') && (url.length === 8 || url.charCodeAt(8) === 63 /* ? */);
}

/**
 * node:http in front of yoga. Oversized bodies are refused from the `content-length` header,
 * before a byte of them is read, so a 10 MiB request costs nothing.
 */
export function createHttpServer({ yoga, ops, maxBodyBytes = 4_194_304, logger }: HttpServerOptions): Server {
  const server = createServer(async (req, res) => {
    try {
      // GraphQL requests, nearly all of the traffic, skip the ops handlers (none serves /graphql).
      if (ops && !isGraphQLPath(req.url) && (await ops(req, res))) return;
      if (req.method === 'POST') {
        const length = Number(req.headers['content-length'] ?? NaN);
        if (Number.isNaN(length) && req.headers['transfer-encoding']) {
          return refuse(res, 411, 'send the request body with a content-length');
        }
        if (length > maxBodyBytes) return refuse(res, 413, `request body is larger than ${maxBodyBytes} bytes`);
      }
      // requestListener builds the Response and writes it to `res` (streams included, for SSE).
      await yoga.requestListener(req, res);
    } catch (error) {
      logger.error({ err: error }, 'request failed');
      if (!res.headersSent) refuse(res, 500, 'internal error');
      else res.destroy();
    }
  });
  server.on('clientError', refuseUnparsed);
  server.keepAliveTimeout = 65_000; // longer than common load balancer idle timeouts (60 s)
  server.headersTimeout = 66_000;
  return server;
}
