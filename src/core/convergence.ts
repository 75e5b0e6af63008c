import type { ConfigStore } from './types.js';

/** Where SDK reports of applied revisions are kept (shared by every gateway instance). */
export interface ClientReportStore {
  report(namespace: string, clientId: string, revision: number): Promise<void>;
  /** Clients of `namespace` seen at or after `seenAfter`. */
  list(namespace: string, seenAfter: Date): Promise<Array<{ clientId: string; appliedRevision: number; lastSeenAt: Date }>>;
  /** Forget clients not seen since `before`; returns how many. */
  prune(before: Date): Promise<number>;
}

export interface ClientStatus {
  clientId: string;
  appliedRevision: number;
  lag: number;
  lastSeenAt: Date;
}

export interface ConvergenceView {
  namespace: string;
  revision: number;
  converged: boolean;
  clients: ClientStatus[];
}

export interface ConvergenceService {
  report(namespace: string, clientId: string, revision: number): Promise<void>;
  get(namespace: string): Promise<ConvergenceView>;
}

/**
 * "Which pods still run the old value": each SDK reports the revision it applied; clients that
 * stop reporting drop out after `timeoutS`.
 */
export function createConvergence({
  store,
  reports,
  timeoutS = 60, // 1 min
  now = () => Date.now(),
}: {
  store: ConfigStore;
  reports: ClientReportStore;
  /** @default 60 */
  timeoutS?: number;
  now?: () => number;
}): ConvergenceService {
  return {
    report: (namespace, clientId, revision) => reports.report(namespace, clientId, revision),
    async get(namespace) {
      const [revisions, seen] = await Promise.all([
        store.revisions([namespace]),
        reports.list(namespace, new Date(now() - timeoutS * 1000)),
      ]);
      const revision = revisions.get(namespace) ?? 0;
      const clients = seen
        .map((client) => ({ ...client, lag: Math.max(0, revision - client.appliedRevision) }))
        .sort((a, b) => b.lag - a.lag || a.clientId.localeCompare(b.clientId));
      return { namespace, revision, converged: clients.every((client) => client.lag === 0), clients };
    },
  };
}
