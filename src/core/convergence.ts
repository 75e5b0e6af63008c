import type { ConfigStore } from './types.js';

/** Where SDK reports of applied revisions are kept (shared by every gateway instance). */
export interface ClientReportStore {
  report(namespace: string, clientId: string, revision: number): Promise<void>;
  /** The client left on purpose (SDK `close()`): forget it now. Resolves whether it was known. */
  leave(namespace: string, clientId: string): Promise<boolean>;
  /** Clients of `namespace` seen at or after `seenAfter`. */
  list(namespace: string, seenAfter: Date): Promise<Array<{ clientId: string; appliedRevision: number; lastSeenAt: Date }>>;
  /** Forget clients not seen since `before`; returns how many. */
  prune(before: Date): Promise<number>;
}

/**
 * `CURRENT`: reported the namespace's revision; `LAGGING`: reported an older one recently;
 * `STALE`: silent for longer than the convergence timeout (frozen, partitioned, or gone without
 * saying goodbye).
 */
export type ClientState = 'CURRENT' | 'LAGGING' | 'STALE';

export interface ClientStatus {
  clientId: string;
  appliedRevision: number;
  lag: number;
  lastSeenAt: Date;
  state: ClientState;
}

export interface ConvergenceView {
  namespace: string;
  revision: number;
  /** Every listed client is CURRENT: a STALE or LAGGING one keeps it false. */
  converged: boolean;
  clients: ClientStatus[];
}

export interface ConvergenceService {
  report(namespace: string, clientId: string, revision: number): Promise<void>;
  leave(namespace: string, clientId: string): Promise<boolean>;
  get(namespace: string): Promise<ConvergenceView>;
  /** Forgets clients silent for longer than the retention; returns how many. */
  prune(): Promise<number>;
}

export interface ConvergenceOptions {
  store: Pick<ConfigStore, 'revisions'>;
  reports: ClientReportStore;
  /** Seconds without a report after which a client is STALE. @default 60 */
  timeoutS?: number;
  /** Hours without a report after which a client is forgotten. @default 24 */
  retentionH?: number;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

const SORT_ORDER: Record<ClientState, number> = { STALE: 0, LAGGING: 1, CURRENT: 2 };

/**
 * "Which pods still run the old value": each SDK reports the revision it applied. A client that
 * stops reporting is never dropped quickly: it turns STALE (and keeps `converged` false) until
 * it says goodbye (`leave`, sent by the SDK's `close()`) or `retentionH` passes, so "8 of 10 pods
 * updated" reads as 8 of 10, never as "converged, 8 of 8".
 */
export function createConvergence({
  store,
  reports,
  timeoutS = 60, // 1 min
  retentionH = 24, // 1 day
  now = Date.now,
}: ConvergenceOptions): ConvergenceService {
  const retentionMs = retentionH * 3_600_000;
  return {
    report: (namespace, clientId, revision) => reports.report(namespace, clientId, revision),
    leave: (namespace, clientId) => reports.leave(namespace, clientId),
    async get(namespace) {
      const at = now();
      const [revisions, seen] = await Promise.all([store.revisions([namespace]), reports.list(namespace, new Date(at - retentionMs))]);
      const revision = revisions.get(namespace) ?? 0;
      const staleBefore = at - timeoutS * 1_000;
      const clients = seen
        .map((client): ClientStatus => {
          const lag = Math.max(0, revision - client.appliedRevision);
          const state: ClientState = client.lastSeenAt.getTime() < staleBefore ? 'STALE' : lag === 0 ? 'CURRENT' : 'LAGGING';
          return { ...client, lag, state };
        })
        .sort((a, b) => SORT_ORDER[a.state] - SORT_ORDER[b.state] || b.lag - a.lag || a.clientId.localeCompare(b.clientId));
      return { namespace, revision, converged: clients.every((client) => client.state === 'CURRENT'), clients };
    },
    prune: () => reports.prune(new Date(now() - retentionMs)),
  };
}
