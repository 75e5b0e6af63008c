import { GraphQLError, type ExecutionResult } from 'graphql';
import type { WebSocket } from 'ws';
import type { Shareable } from '../graphql/shareable.js';
import { isAsyncIterable as isStream } from './transport.js';
import type { FrameWriter } from './ws-adapter.js';

/** A subscription's results, as graphql-ws and yoga consume them. */
export type ResultStream = AsyncIterableIterator<ExecutionResult>;

interface Member {
  /** Results of changes at or below this revision are not for this member (it had them already). */
  since: number;
  /** `json` is the result serialized once for every member. */
  push(result: ExecutionResult, json: () => string): void;
  end(): void;
}

/** Where a shared member writes its frames itself: its socket and subscription id. */
export interface DirectTarget {
  socket: WebSocket;
  frames: FrameWriter;
  id: string;
}

const slowSubscriberError = () =>
  new GraphQLError('subscriber too slow: changes were not consumed in time; resume with sinceRevision', {
    extensions: { code: 'SERVICE_UNAVAILABLE' },
  });

interface Group {
  /** The share of the subscriber that started it: where its source stands, where each result stands. */
  share: Shareable;
  /** Every matching change after this position will be a result of the group; null until it runs. */
  floor: number | null;
  members: Set<Member>;
  /** Resolves to null once the shared stream runs, or to the non-stream result (an error). */
  ready: Promise<ExecutionResult | null>;
  source: ResultStream | null;
  /** Highest revision of a result broadcast so far. */
  broadcast: number;
}

/**
 * One execution per key, its results broadcast to every member in order.
 *
 * A subscriber resuming from position R (`Shareable.resume`) joins only when nothing needs
 * replaying: R is where its source stands here (`Shareable.position()`), checked in the same turn
 * as the join, so no change falls between. The group's stream holds every change after its
 * floor, and it has broadcast nothing above R, so it still carries every change after R; changes
 * up to R that are still on their way through the execution (the source delivered them, the
 * group has not broadcast them yet) are skipped for that member by its `since`. Everything else
 * (R behind: a replay; R ahead: not delivered here yet; a source not followed here) keeps the
 * private path, which replays or raises as a lone subscription does.
 */
export function createSharedExecutions(maxQueuedResults: number, maxBufferedBytes: number) {
  const groups = new Map<string, Group>();
  let members = 0;

  const leave = (key: string, group: Group, member: Member) => {
    if (!group.members.delete(member)) return;
    members--;
    if (group.members.size === 0) {
      if (groups.get(key) === group) groups.delete(key);
      void group.source?.return?.();
    }
  };

  const pumpGroup = async (key: string, group: Group, source: ResultStream) => {
    try {
      for await (const result of source) {
        // An error that ended the stream comes without a change: every member gets it.
        const revision = group.share.positionOf(result);
        if (revision !== undefined && revision > group.broadcast) group.broadcast = revision;
        let json: string | null = null;
        const serialize = () => (json ??= JSON.stringify(result));
        for (const member of group.members) if (revision === undefined || revision > member.since) member.push(result, serialize);
      }
    } catch (error) {
      const failure = error instanceof GraphQLError ? error : new GraphQLError('Internal server error', { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
      const result: ExecutionResult = { errors: [failure] };
      const json = JSON.stringify(result);
      for (const member of group.members) member.push(result, () => json);
    } finally {
      if (groups.get(key) === group) groups.delete(key);
      for (const member of [...group.members]) member.end();
    }
  };

  const join = (group: Group, direct: DirectTarget | null, since: number): { member: Member; stream: ResultStream } => {
    // The group's own key, not each subscriber's copy of it (a string the size of the variables):
    // what an idle subscriber holds is counted per subscriber.
    const key = group.share.key;
    const queue: ExecutionResult[] = [];
    let waiting: ((result: IteratorResult<ExecutionResult>) => void) | null = null;
    let ended = false;
    // The frame graphql-ws would send, built around the shared serialization: per subscriber only
    // a string concatenation and a (corked) socket write.
    const framePrefix = direct ? `{"id":${JSON.stringify(direct.id)},"type":"next","payload":` : '';
    const member: Member = {
      since,
      push(result, json) {
        if (ended) return;
        if (direct) {
          if (!direct.frames.open) {
            member.end();
            return;
          }
          if (direct.frames.buffered > maxBufferedBytes) {
            // This subscriber cannot keep up; the others must not wait for it.
            direct.frames.write(framePrefix + JSON.stringify({ errors: [slowSubscriberError()] }) + '}');
            member.end();
            return;
          }
          direct.frames.write(framePrefix + json() + '}');
          return;
        }
        if (waiting) {
          const resolve = waiting;
          waiting = null;
          resolve({ value: result, done: false });
          return;
        }
        queue.push(result);
        if (queue.length > maxQueuedResults) {
          // This subscriber cannot keep up; the others must not wait for it.
          queue.push({ errors: [slowSubscriberError()] });
          ended = true;
          leave(key, group, member);
        }
      },
      end() {
        if (ended) return;
        ended = true;
        leave(key, group, member);
        if (waiting) {
          const resolve = waiting;
          waiting = null;
          resolve({ value: undefined, done: true });
        }
      },
    };
    const stream: ResultStream = {
      next() {
        const value = queue.shift();
        if (value) return Promise.resolve({ value, done: false });
        if (ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          waiting = resolve;
        });
      },
      return() {
        queue.length = 0;
        member.end();
        return Promise.resolve({ value: undefined, done: true });
      },
      throw(error?: unknown) {
        queue.length = 0;
        member.end();
        return Promise.reject(error);
      },
      [Symbol.asyncIterator]() {
        return stream;
      },
    };
    group.members.add(member);
    members++;
    return { member, stream };
  };

  /** Whether a subscriber resuming from `resume` can join `group` now and miss nothing. */
  const canResume = (group: Group, share: Shareable, resume: number): boolean =>
    group.source !== null && group.floor !== null && share.position() === resume && resume >= group.floor && resume >= group.broadcast;

  return {
    /**
     * Joins (or starts) the execution under `share.key`. `start(true)` runs the subscription as
     * the group's execution; `start(false)` on its own, where it cannot join.
     */
    async subscribe(share: Shareable, start: (inGroup: boolean) => Promise<unknown> | unknown, direct: DirectTarget | null): Promise<ResultStream | ExecutionResult> {
      const { key, resume } = share;
      let group = groups.get(key);
      if (resume !== null) {
        if (!group && share.position() === null) {
          // A source not followed here yet (every SDK reconnecting after a restart): follow it
          // first, so the burst meets in one group instead of each going private.
          await share.follow();
          group = groups.get(key);
        }
        if (group && !group.source) {
          // Where a group stands is known once it runs; a failed start leaves the private path.
          await group.ready.catch(() => null);
          group = groups.get(key);
        }
        if (group) {
          if (!canResume(group, share, resume)) return (await start(false)) as ResultStream | ExecutionResult;
          // Synchronously after the check: no result can be broadcast in between.
          return join(group, direct, resume).stream;
        }
        // No group: this subscriber starts one from its own position, if that needs no replay.
        if (share.position() !== resume) return (await start(false)) as ResultStream | ExecutionResult;
      }
      const creator = !group;
      if (!group) {
        const created: Group = { share, members: new Set(), ready: Promise.resolve(null), source: null, floor: null, broadcast: -1 };
        created.ready = (async () => {
          const result = await start(true);
          if (!isStream<ExecutionResult>(result)) {
            if (groups.get(key) === created) groups.delete(key);
            return result as ExecutionResult;
          }
          const source = result[Symbol.asyncIterator]() as ResultStream;
          // The stream exists, so its source (a resumed one from `resume`, a live one from where
          // the source stood when it was created, at most where it stands now) holds every change
          // after the position now: a safe floor.
          created.floor = share.position() ?? (resume ?? null);
          created.source = source;
          void pumpGroup(key, created, source);
          return null;
        })().catch((error: unknown) => {
          if (groups.get(key) === created) groups.delete(key);
          throw error;
        });
        groups.set(key, created);
        group = created;
      }
      // Join before the stream starts so no result between "started" and "joined" is missed.
      const { member, stream } = join(group, direct, resume ?? -1);
      let failure: ExecutionResult | null;
      try {
        failure = await group.ready;
      } catch (error) {
        member.end();
        if (creator) throw error;
        return (await start(false)) as ResultStream | ExecutionResult;
      }
      if (failure) {
        member.end();
        // The creator's own answer; anyone who joined meanwhile gets an answer of its own.
        return creator ? failure : ((await start(false)) as ResultStream | ExecutionResult);
      }
      return stream;
    },
    stats() {
      return { sharedSubscriptions: members, sharedExecutions: groups.size };
    },
    close() {
      for (const group of groups.values()) void group.source?.return?.();
      groups.clear();
    },
  };
}
