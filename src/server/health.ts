import { setTimeout } from 'node:timers';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChangeBus, ChangeFeed, ConfigStore, FeedStats } from '../core/types.js';
import type { Metrics } from './metrics.js';

export interface HealthOptions {
  store: Pick<ConfigStore, 'ping' | 'stats' | 'revisions'>;
  bus: Pick<ChangeBus, 'status'>;
  feed: Pick<ChangeFeed, 'stats'>;
  /** Read for the subscriber counts, and set (`postgresUp`, `redisUp`) by each `/ready`. */
  metrics: Pick<Metrics, 'postgresUp' | 'redisUp' | 'subscriberCounts' | 'sharedWsStats'>;
  /** The gateway's version (package.json). */
  version: string;
  /** When the process started serving. @default new Date() */
  startedAt?: Date;
  /** Longest wait for Postgres in `/ready` before answering 503. @default 2000 (2 s) */
  pingTimeoutMs?: number;
}

export interface DependencyCheck {
  ok: boolean;
  /** Round trip of the check, in ms. */
  latencyMs: number;
  /** Short reason when not ok (an error code, never a connection string). */
  error?: string;
}

/** The body of `GET /ready`. */
export interface ReadyReport {
  status: 'ready' | 'unavailable';
  version: string;
  startedAt: string;
  uptimeSeconds: number;
  checks: {
    postgres: DependencyCheck;
    redis: DependencyCheck & { kind: 'redis' | 'memory'; publishFailures: number };
  };
  /**
   * Driver and pool: for Postgres `max` (DATABASE_POOL_MAX), `size` (open connections), `inUse`,
   * `idle`, `waiting` (operations queued for a connection) and `prepare` (`on`/`off`).
   */
  pool: Record<string, string | number>;
  /**
   * Per watched namespace: the last revision this gateway delivered, the revision committed in
   * Postgres, and how far the gateway is behind (null when Postgres did not answer).
   */
  namespaces: Record<string, { gateway: number; db: number | null; behind: number | null }>;
  /** Open subscriptions; `sharedExecutions` of the ws ones serve `sharedSubscriptions` (each change runs once per execution). */
  subscribers: { ws: number; sse: number; total: number; sharedExecutions: number; sharedSubscriptions: number };
  /** Seconds since this gateway last received a change message from the bus; null = never. */
  lastMessageAgeSeconds: number | null;
  repairs: FeedStats['repairs'];
}

export interface HealthHandlers {
  /** Serves `GET /health` and `GET /ready`; resolves true when it handled the request. */
  handleOpsRequest(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** The readiness report and the HTTP status `/ready` answers with (200 or 503). */
  ready(): Promise<{ status: 200 | 503; body: ReadyReport }>;
}

async function timed(check: () => Promise<void>, timeoutMs: number): Promise<DependencyCheck> {
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })), timeoutMs);
      }),
    ]);
    return { ok: true, latencyMs: Math.round((performance.now() - start) * 100) / 100 };
  } catch (error) {
    return { ok: false, latencyMs: Math.round((performance.now() - start) * 100) / 100, error: reasonOf(error) };
  } finally {
    clearTimeout(timer);
  }
}

/** A short, safe reason: the error's code (ECONNREFUSED, 57P03...), never its full message. */
function reasonOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[A-Za-z0-9_]{1,40}$/.test(code)) return code;
  return 'UNREACHABLE';
}

function sendJson(res: ServerResponse, status: number, body: unknown, head: boolean): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(head ? undefined : text);
}

/**
 * Liveness and readiness endpoints for the gateway's `node:http` server (`/metrics` is
 * `metrics-endpoint.ts`; the gauges' live sources are connected in `metrics-sources.ts`).
 *
 * @example
 * const ops = createHealthHandlers({ store, bus, feed, metrics, version });
 * createServer(async (req, res) => { if (!(await ops.handleOpsRequest(req, res))) yoga(req, res); });
 */
export function createHealthHandlers(options: HealthOptions): HealthHandlers {
  const { store, bus, feed, metrics, version, startedAt = new Date(), pingTimeoutMs = 2_000 /* 2 s */ } = options;

  async function ready(): Promise<{ status: 200 | 503; body: ReadyReport }> {
    const feedStats = feed.stats();
    const busStatus = bus.status();
    const names = Object.keys(feedStats.revisions);
    const [postgres, dbRevisions] = await Promise.all([
      timed(() => store.ping(), pingTimeoutMs),
      names.length === 0
        ? Promise.resolve(new Map<string, number>())
        : Promise.race([
            store.revisions(names),
            new Promise<null>((resolve) => {
              setTimeout(resolve, pingTimeoutMs, null).unref();
            }),
          ]).catch(() => null),
    ]);
    const redis = {
      ok: busStatus.connected,
      latencyMs: 0,
      kind: busStatus.kind,
      publishFailures: busStatus.publishFailures,
      ...(busStatus.connected ? {} : { error: 'DISCONNECTED' }),
    };
    metrics.postgresUp.set(postgres.ok ? 1 : 0);
    metrics.redisUp.set(redis.ok ? 1 : 0);

    const namespaces: ReadyReport['namespaces'] = {};
    for (const name of names) {
      const gateway = feedStats.revisions[name]!;
      const db = dbRevisions?.get(name) ?? null;
      namespaces[name] = { gateway, db, behind: db === null ? null : Math.max(0, db - gateway) };
    }
    const lastMessageAt = busStatus.lastMessageAt ?? feedStats.lastMessageAt;
    const counts = metrics.subscriberCounts();
    const ok = postgres.ok && redis.ok;
    return {
      status: ok ? 200 : 503,
      body: {
        status: ok ? 'ready' : 'unavailable',
        version,
        startedAt: startedAt.toISOString(),
        uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
        checks: { postgres, redis },
        pool: store.stats(),
        namespaces,
        subscribers: { ws: counts.ws, sse: counts.sse, total: counts.ws + counts.sse, ...metrics.sharedWsStats() },
        lastMessageAgeSeconds: lastMessageAt === null ? null : Math.round((Date.now() - lastMessageAt) / 100) / 10,
        repairs: feedStats.repairs,
      },
    };
  }

  async function handleOpsRequest(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = (req.url ?? '/').split('?', 1)[0];
    const head = req.method === 'HEAD';
    switch (path) {
      case '/health':
        sendJson(res, 200, { status: 'ok', version, uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000) }, head);
        return true;
      case '/ready': {
        const { status, body } = await ready();
        sendJson(res, status, body, head);
        return true;
      }
      default:
        return false;
    }
  }

  return { handleOpsRequest, ready };
}
