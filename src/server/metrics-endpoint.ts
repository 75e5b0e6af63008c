import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from './metrics.js';

/**
 * `GET /metrics` (and `HEAD`): the Prometheus text exposition of `metrics`. Resolves true when it
 * answered the request, false for any other path or method.
 *
 * @example
 * const serveMetrics = createMetricsEndpoint(metrics);
 * createServer(async (req, res) => { if (!(await serveMetrics(req, res))) yoga(req, res); });
 */
export function createMetricsEndpoint(metrics: Pick<Metrics, 'render' | 'contentType'>): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  return async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if ((req.url ?? '/').split('?', 1)[0] !== '/metrics') return false;
    const head = req.method === 'HEAD';
    try {
      const text = await metrics.render();
      res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
      res.end(head ? undefined : text);
    } catch {
      const body = JSON.stringify({ status: 'error', error: 'metrics collection failed' });
      res.writeHead(500, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
      res.end(head ? undefined : body);
    }
    return true;
  };
}
