import type { Tracer } from '@opentelemetry/api';
import type { Logger } from '../logger.js';
import { GatewayError } from '../errors.js';
import { toChangeMessage } from './change-message.js';
import { createCommitOrder } from './commit-order.js';
import { inActiveContext, traceCommit, tracePublish } from './tracing.js';
import { isFlagLike } from '../shared/flags.js';
import type { Validator } from './validation.js';
import { planRestore } from './restore.js';
import type { ChangeBus, ChangeFeed, ConfigStore, Entry, JsonValue, Snapshot, WriteMeta, WriteOp, WriteOptions, WriteResult, Change } from './types.js';


/** One key to set: a `set` write operation without its tag. */
export type SetInput = Omit<Extract<WriteOp, { kind: 'set' }>, 'kind'>;

export interface ConfigService {
  set(namespace: string, input: SetInput, meta: WriteMeta): Promise<Entry>;
  setMany(namespace: string, inputs: readonly SetInput[], meta: WriteMeta): Promise<Entry[]>;
  delete(namespace: string, key: string, expectedVersion: number | null | undefined, meta: WriteMeta): Promise<Change>;
  rollback(namespace: string, key: string, toVersion: number, expectedVersion: number | null | undefined, meta: WriteMeta): Promise<Entry>;
  /** Set `enabled: false` on every flag of the namespace in one revision. */
  disableAllFlags(namespace: string, meta: WriteMeta): Promise<Entry[]>;
  /**
   * Every key under `prefix` as it was at `toRevision`, in one new revision (keys created since
   * are deleted); nothing is written when nothing differs. Returns the keys under `prefix` after.
   */
  restore(namespace: string, options: RestoreOptions, meta: WriteMeta): Promise<Snapshot>;
  /** What `restore` would write now, without writing: for a diff to confirm (`hotconf restore`). */
  restorePlan(namespace: string, options: Omit<RestoreOptions, 'expectedRevision'>): Promise<RestorePlan>;
}

/** One key a restore would change: its entry now, and as the restore would leave it (null = deleted). */
export interface RestoreChange {
  key: string;
  op: 'SET' | 'DELETE';
  current: Entry | null;
  restored: Entry | null;
}

export interface RestorePlan {
  namespace: string;
  /** The namespace's revision the plan was made at: pass it as `expectedRevision`. */
  revision: number;
  toRevision: number;
  changes: RestoreChange[];
}

export interface RestoreOptions {
  toRevision: number;
  prefix?: string | null;
  /** The namespace must still be at this revision (what the caller reviewed), else VERSION_CONFLICT. */
  expectedRevision?: number | null;
}

export interface ConfigServiceOptions {
  store: ConfigStore;
  bus: ChangeBus;
  feed: ChangeFeed;
  validate: Validator;
  logger: Logger;
  /** Largest value carried inline in a bus message. @default 65_536 (64 KiB) */
  inlineValueBytes?: number;
  /** Called after every commit (metrics). */
  onCommitted?: (result: WriteResult) => void;
  /**
   * Traces the commit and the publish (docs/TRACING.md), and carries the publish's trace context
   * in the bus message. @default undefined (tracing off: no span, nothing carried)
   */
  tracer?: Tracer;
}

/**
 * The write path: check input, commit through the store (one transaction, one revision), then
 * hand the committed change to local subscribers and to the bus. Publishing never delays or
 * fails the answer: the bus counts its own failures and history repairs what it loses.
 */
export function createConfigService({
  store,
  bus,
  feed,
  validate,
  logger,
  inlineValueBytes = 65_536, // 64 KiB
  onCommitted,
  tracer,
}: ConfigServiceOptions): ConfigService {
  // A write's input is checked once, by the write plan (write-plan.ts `checkWriteInput`), which
  // the store runs first: keys, values, schemas, versions, texts and the shape of flags.

  // This gateway's commits of a namespace reach the feed and the bus in revision order.
  const order = createCommitOrder();

  const commit = async (namespace: string, ops: WriteOp[], meta: WriteMeta, options?: WriteOptions): Promise<WriteResult> => {
    const ticket = order.begin(namespace);
    let result: WriteResult;
    try {
      // commit → local delivery → publish, each a child of the request's span; the message
      // carries the publish's context so every other gateway's delivery joins this trace.
      result = tracer ? await traceCommit(tracer, namespace, () => store.write(namespace, ops, meta, options)) : await store.write(namespace, ops, meta, options);
    } catch (error) {
      order.abandon(ticket);
      throw error;
    }
    const committed = result;
    const publish = tracer
      ? inActiveContext(() => {
          feed.committed(committed);
          tracePublish(tracer, committed, (trace) => bus.publish(toChangeMessage(committed, inlineValueBytes, trace)));
        })
      : () => {
          feed.committed(committed);
          bus.publish(toChangeMessage(committed, inlineValueBytes));
        };
    await order.committed(ticket, committed.revision, publish);
    for (const change of result.changes) {
      logger.info(
        {
          event: 'config_changed',
          namespace,
          key: change.key,
          op: change.op,
          version: change.version,
          revision: change.revision,
          actor: change.changedBy,
          reason: change.reason,
          traceId: change.traceId,
        },
        'config changed',
      );
    }
    onCommitted?.(result);
    return result;
  };

  // Picked field by field: GraphQL inputs carry more (namespace, reason) than an operation holds.
  const setOp = ({ key, value, expectedVersion, description, secret, schema }: SetInput): WriteOp => ({
    kind: 'set',
    key,
    value,
    expectedVersion,
    description,
    secret,
    schema,
  });

  const firstEntry = (result: WriteResult): Entry => {
    const entry = result.entries[0];
    if (!entry) throw new Error('store returned no entry for a set');
    return entry;
  };

  return {
    async set(namespace, input, meta) {
      return firstEntry(await commit(namespace, [setOp(input)], meta));
    },

    async setMany(namespace, inputs, meta) {
      return (await commit(namespace, inputs.map(setOp), meta)).entries;
    },

    async delete(namespace, key, expectedVersion, meta) {
      const result = await commit(namespace, [{ kind: 'delete', key, expectedVersion }], meta);
      const change = result.changes[0];
      if (!change) throw new Error('store returned no change for a delete');
      return change;
    },

    async rollback(namespace, key, toVersion, expectedVersion, meta) {
      return firstEntry(await commit(namespace, [{ kind: 'rollback', key, toVersion, expectedVersion }], meta));
    },

    async restorePlan(namespace, { toRevision, prefix }) {
      validate.namespace(namespace);
      validate.revision(toRevision, 'toRevision');
      if (prefix) validate.prefix(prefix);
      const state = await store.stateAt(namespace, toRevision, prefix);
      const changes = planRestore(state).map((op): RestoreChange => {
        const current = state.current.get(op.key) ?? null;
        if (op.kind !== 'rollback') return { key: op.key, op: 'DELETE', current, restored: null };
        const then = state.keys.get(op.key)!;
        return {
          key: op.key,
          op: 'SET',
          current,
          restored: {
            namespace,
            key: op.key,
            value: then.value!,
            version: then.version,
            revision: then.revision,
            updatedAt: then.changedAt,
            updatedBy: then.changedBy,
            description: then.description,
            secret: then.secret,
            schema: then.schema,
          },
        };
      });
      return { namespace, revision: state.revision, toRevision, changes };
    },

    async restore(namespace, { toRevision, prefix, expectedRevision }, meta) {
      validate.namespace(namespace);
      validate.revision(toRevision, 'toRevision');
      if (prefix) validate.prefix(prefix);
      if (expectedRevision !== undefined && expectedRevision !== null) validate.revision(expectedRevision, 'expectedRevision');
      // Without expectedRevision a write racing the read is retried (each attempt is all or
      // nothing); with it, the caller asked to fail instead.
      for (let attempt = 0; ; attempt++) {
        const state = await store.stateAt(namespace, toRevision, prefix);
        if (expectedRevision !== undefined && expectedRevision !== null && state.revision !== expectedRevision) {
          throw new GatewayError(
            'VERSION_CONFLICT',
            `Revision conflict on namespace ${namespace}: expected revision ${expectedRevision}, current revision is ${state.revision}`,
            { currentRevision: state.revision, expectedRevision },
          );
        }
        const ops = planRestore(state);
        if (ops.length === 0) return store.snapshot(namespace, prefix);
        validate.batchSize(ops.length, 'toRevision');
        try {
          await commit(namespace, ops, meta, { expectedRevision: expectedRevision ?? state.revision });
          return await store.snapshot(namespace, prefix);
        } catch (error) {
          const raced = error instanceof GatewayError && error.code === 'VERSION_CONFLICT';
          if (raced && (expectedRevision === undefined || expectedRevision === null) && attempt < 5) continue;
          throw error;
        }
      }
    },

    async disableAllFlags(namespace, meta) {
      validate.namespace(namespace);
      // Compare-and-set on every flag: a concurrent flag change makes the kill switch retry
      // rather than silently re-enable something.
      for (let attempt = 0; ; attempt++) {
        const snapshot = await store.snapshot(namespace);
        const ops: WriteOp[] = snapshot.entries
          .filter((entry) => isFlagLike(entry.value) && entry.value.enabled !== false)
          .map((entry) => ({
            kind: 'set',
            key: entry.key,
            value: { ...(entry.value as { [key: string]: JsonValue }), enabled: false },
            expectedVersion: entry.version,
          }));
        if (ops.length === 0) return [];
        try {
          return (await commit(namespace, ops, meta)).entries;
        } catch (error) {
          if (error instanceof GatewayError && error.code === 'VERSION_CONFLICT' && attempt < 5) continue;
          throw error;
        }
      }
    },
  };
}
