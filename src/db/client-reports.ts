import { and, eq, gte, lt, sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type { ClientReportStore } from '../core/convergence.js';
import * as schema from './schema.js';

type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

/** SDK reports in Postgres, so `convergence` answers the same on every gateway instance. */
export function createClientReportStore(db: Database): ClientReportStore {
  const { clientReports } = schema;
  return {
    async report(namespace, clientId, revision) {
      await db
        .insert(clientReports)
        .values({ namespace, clientId, appliedRevision: revision, lastSeenAt: sql`now()` })
        .onConflictDoUpdate({
          target: [clientReports.namespace, clientReports.clientId],
          // A late, reordered report must not move a client backwards.
          set: { appliedRevision: sql`greatest(${clientReports.appliedRevision}, excluded.applied_revision)`, lastSeenAt: sql`now()` },
        });
    },
    async leave(namespace, clientId) {
      const removed = await db
        .delete(clientReports)
        .where(and(eq(clientReports.namespace, namespace), eq(clientReports.clientId, clientId)))
        .returning({ id: clientReports.clientId });
      return removed.length > 0;
    },
    async list(namespace, seenAfter) {
      return db
        .select({ clientId: clientReports.clientId, appliedRevision: clientReports.appliedRevision, lastSeenAt: clientReports.lastSeenAt })
        .from(clientReports)
        .where(and(eq(clientReports.namespace, namespace), gte(clientReports.lastSeenAt, seenAfter)));
    },
    async prune(before) {
      const removed = await db.delete(clientReports).where(lt(clientReports.lastSeenAt, before)).returning({ id: clientReports.clientId });
      return removed.length;
    },
  };
}
