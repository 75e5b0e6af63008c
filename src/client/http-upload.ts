/**
 * GraphQL over HTTP POST for large bodies: node:http with a content-length, written in slices so
 * the caller can report upload progress as the socket drains (fetch cannot). The CLI's `import`
 * sends thousands of keys this way; the SDK's small requests use `postGraphQL` (transport.ts).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface UploadOptions {
  headers: Record<string, string>;
  /** Called as the body is handed to the socket: bytes sent, bytes in all. */
  onUploadProgress?: (sent: number, total: number) => void;
  /** Socket inactivity limit. @default 30000 */
  timeoutMs?: number;
}

export interface UploadResponse {
  status: number;
  text: string;
}

/** A network failure (refused, reset, timed out) before a whole answer arrived. */
export class UploadError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'UploadError';
  }
}

const SLICE = 64 * 1024;

/** POSTs `body` to `target` and resolves with the status and text of the answer, whatever the status. */
export function postWithProgress(target: URL, body: Buffer, { headers, onUploadProgress, timeoutMs = 30_000 }: UploadOptions): Promise<UploadResponse> {
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<UploadResponse>((resolve, reject) => {
    const req = send(target, { method: 'POST', headers: { ...headers, 'content-length': body.length }, timeout: timeoutMs });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (error: NodeJS.ErrnoException) => reject(new UploadError(`cannot reach the gateway at ${target} (${error.code ?? error.message})`, error.code ?? 'NETWORK')));
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (error) => reject(new UploadError(`response from ${target} broke off (${error.message})`, 'NETWORK')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    let offset = 0;
    const pump = () => {
      while (offset < body.length) {
        const end = Math.min(offset + SLICE, body.length);
        const ok = req.write(body.subarray(offset, end));
        offset = end;
        onUploadProgress?.(offset, body.length);
        if (!ok) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}
