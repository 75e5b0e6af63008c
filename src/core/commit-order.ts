/**
 * Hands this gateway's own commits of a namespace to the feed and the bus in revision order.
 *
 * A write holds the namespace lock only inside PostgreSQL (hotconf_apply_write), so two writes
 * that commit one after the other can have their answers come back on two connections in either
 * order; the feed would take the later revision first as a gap and repair it from history. A
 * committed result is therefore held until every local write of the namespace that was still in
 * flight when it committed has finished: any lower revision this gateway wrote is then known,
 * and the ready results go out sorted. The wait is at most one concurrent write, and only while
 * the namespace has writes in flight here.
 */

/** One local write of a namespace, from before its round trip until it committed or failed. */
export interface CommitTicket {
  readonly namespace: string;
}

interface Held {
  revision: number;
  waitFor: Set<CommitTicket>;
  publish: () => void;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface CommitOrder {
  /** Before the write's round trip. */
  begin(namespace: string): CommitTicket;
  /** The write failed: nothing to publish. */
  abandon(ticket: CommitTicket): void;
  /** The write committed `revision`: resolves once `publish` ran, in revision order; rejects if it threw. */
  committed(ticket: CommitTicket, revision: number, publish: () => void): Promise<void>;
}

export function createCommitOrder(): CommitOrder {
  const inflight = new Map<string, Set<CommitTicket>>();
  const held = new Map<string, Held[]>();

  const finish = (ticket: CommitTicket) => {
    const tickets = inflight.get(ticket.namespace);
    tickets?.delete(ticket);
    if (tickets?.size === 0) inflight.delete(ticket.namespace);
    for (const item of held.get(ticket.namespace) ?? []) item.waitFor.delete(ticket);
  };

  // A result with nothing left to wait for has every lower local revision finished before it
  // (committed and waiting here, or published): publishing the ready ones sorted keeps order.
  const flush = (namespace: string) => {
    const items = held.get(namespace);
    if (!items) return;
    const ready = items.filter((item) => item.waitFor.size === 0).sort((a, b) => a.revision - b.revision);
    if (ready.length === 0) return;
    const waiting = items.filter((item) => item.waitFor.size > 0);
    if (waiting.length === 0) held.delete(namespace);
    else held.set(namespace, waiting);
    for (const item of ready) {
      try {
        item.publish();
        item.resolve();
      } catch (error) {
        item.reject(error);
      }
    }
  };

  return {
    begin(namespace) {
      const ticket: CommitTicket = { namespace };
      let tickets = inflight.get(namespace);
      if (!tickets) inflight.set(namespace, (tickets = new Set()));
      tickets.add(ticket);
      return ticket;
    },
    abandon(ticket) {
      finish(ticket);
      flush(ticket.namespace);
    },
    committed(ticket, revision, publish) {
      finish(ticket);
      const waitFor = new Set(inflight.get(ticket.namespace));
      return new Promise<void>((resolve, reject) => {
        let items = held.get(ticket.namespace);
        if (!items) held.set(ticket.namespace, (items = []));
        items.push({ revision, waitFor, publish, resolve, reject });
        flush(ticket.namespace);
      });
    },
  };
}
