import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { SecretUnreadableError } from '../../src/core/secret-box.js';
import type { JsonValue, WriteMeta, WriteOp } from '../../src/core/types.js';
import { createValidator } from '../../src/core/validation.js';
import { checkWriteInput, planWrite, stampResult, targetKey, type CurrentEntry, type RollbackTarget, type WriteState } from '../../src/core/write-plan.js';

const validator = createValidator({ maxValueBytes: 1024, maxBatchSize: 5 });
const rules = { validator };
const at = new Date(0);
const meta: WriteMeta = { actor: 'ops', reason: null, traceId: null, canReadSecrets: false };

const current = (key: string, version: number, extra: Partial<CurrentEntry> = {}): CurrentEntry => ({
  key, version, deleted: false, description: null, secret: false, schema: null, ...extra,
});
const target = (key: string, version: number, value: JsonValue | SecretUnreadableError | null, extra: Partial<RollbackTarget> = {}): RollbackTarget => ({
  key, version, op: 'SET', hasValue: true, value, secret: false, description: null, schema: null, ...extra,
});
const state = (revision: number, entries: CurrentEntry[] = [], targets: RollbackTarget[] = [], requireReason = false): WriteState => ({
  revision,
  requireReason,
  current: new Map(entries.map((entry) => [entry.key, entry])),
  targets: new Map(targets.map((t) => [targetKey(t.key, t.version), t])),
});
const plan = (ops: WriteOp[], read: WriteState, extra: Partial<WriteMeta> = {}, expectedRevision?: number) =>
  planWrite(rules, 'ns', ops, { ...meta, ...extra }, { expectedRevision }, read, at);

/** The refusal `run` throws, as { code, details }. */
function refusal(run: () => unknown): { code: string; details: Record<string, unknown> } {
  try {
    run();
  } catch (error) {
    if (!(error instanceof GatewayError)) throw error;
    return { code: error.code, details: error.details };
  }
  throw new Error('expected a refusal');
}

describe('checkWriteInput', () => {
  it('names the offending field of a batch, once per key', () => {
    const ops: WriteOp[] = [
      { kind: 'set', key: 'a', value: 1 },
      { kind: 'set', key: 'a', value: 2 },
    ];
    expect(refusal(() => checkWriteInput(validator, 'ns', ops, meta))).toEqual({ code: 'BAD_USER_INPUT', details: { field: 'inputs.1.key', key: 'a' } });
  });

  it('refuses a value shaped like a flag that is not a valid flag', () => {
    const ops: WriteOp[] = [{ kind: 'set', key: 'f', value: { enabled: true, rolloutPercentage: 140 } }];
    expect(refusal(() => checkWriteInput(validator, 'ns', ops, meta)).code).toBe('VALIDATION_FAILED');
  });
});

describe('planWrite', () => {
  it('numbers the next revision and versions, continuing after a tombstone', () => {
    const planned = plan(
      [
        { kind: 'set', key: 'new', value: 1 },
        { kind: 'set', key: 'gone', value: 2 },
        { kind: 'delete', key: 'live' },
      ],
      state(7, [current('gone', 4, { deleted: true, secret: true, description: 'old' }), current('live', 2, { description: 'kept' })]),
    );
    expect(planned.revision).toBe(8);
    expect(planned.rows.map(({ key, op, version, baseVersion, secret, description }) => ({ key, op, version, baseVersion, secret, description }))).toEqual([
      { key: 'new', op: 'SET', version: 1, baseVersion: 0, secret: false, description: null },
      // A deleted key starts afresh: its old settings are gone with it.
      { key: 'gone', op: 'SET', version: 5, baseVersion: 4, secret: false, description: null },
      { key: 'live', op: 'DELETE', version: 3, baseVersion: 2, secret: false, description: 'kept' },
    ]);
    expect(planned.result.entries.map((entry) => entry.key)).toEqual(['new', 'gone']);
    expect(planned.result.changes.map((change) => change.op)).toEqual(['SET', 'SET', 'DELETE']);
  });

  it('checks the namespace revision, then the reason, then each key', () => {
    const read = state(3, [current('k', 2)], [], true);
    expect(refusal(() => plan([{ kind: 'set', key: 'k', value: 1, expectedVersion: 1 }], read, {}, 2))).toEqual({
      code: 'VERSION_CONFLICT',
      details: { currentRevision: 3, expectedRevision: 2 },
    });
    expect(refusal(() => plan([{ kind: 'set', key: 'k', value: 1, expectedVersion: 1 }], read, { reason: '  ' })).details.rule).toBe('REASON_REQUIRED');
    expect(refusal(() => plan([{ kind: 'set', key: 'k', value: 1, expectedVersion: 1 }], read, { reason: 'why' }))).toEqual({
      code: 'VERSION_CONFLICT',
      details: { key: 'k', currentVersion: 2, expectedVersion: 1 },
    });
  });

  it('treats a tombstone as version 0 for compare-and-set, and refuses deleting it', () => {
    const read = state(3, [current('k', 2, { deleted: true })]);
    expect(plan([{ kind: 'set', key: 'k', value: 1, expectedVersion: 0 }], read).rows[0]!.version).toBe(3);
    expect(refusal(() => plan([{ kind: 'delete', key: 'k' }], read)).code).toBe('NOT_FOUND');
  });

  it('keeps secrets secret: clearing the flag or rolling back to a secret version needs the claim', () => {
    const read = state(3, [current('s', 2, { secret: true })], [target('s', 1, 'old', { secret: true })]);
    expect(refusal(() => plan([{ kind: 'set', key: 's', value: 1, secret: false }], read)).code).toBe('FORBIDDEN');
    expect(plan([{ kind: 'set', key: 's', value: 1, secret: false }], read, { canReadSecrets: true }).rows[0]!.secret).toBe(false);
    expect(refusal(() => plan([{ kind: 'rollback', key: 's', toVersion: 1 }], read)).code).toBe('FORBIDDEN');
    const rolled = plan([{ kind: 'rollback', key: 's', toVersion: 1 }], read, { canReadSecrets: true });
    expect(rolled.rows[0]).toMatchObject({ value: 'old', secret: true, version: 3 });
  });

  it('refuses a rollback to a version that is not there, or that this gateway cannot decrypt', () => {
    const unreadable = new SecretUnreadableError('no key', null);
    const read = state(3, [current('k', 2)], [target('k', 1, null, { op: 'DELETE', hasValue: false }), target('k', 2, unreadable)]);
    expect(refusal(() => plan([{ kind: 'rollback', key: 'k', toVersion: 1 }], read)).code).toBe('NOT_FOUND');
    expect(refusal(() => plan([{ kind: 'rollback', key: 'k', toVersion: 9 }], read)).code).toBe('NOT_FOUND');
    expect(() => plan([{ kind: 'rollback', key: 'k', toVersion: 2 }], read, { canReadSecrets: true })).toThrow(unreadable);
  });

  it("validates a value against the key's schema, the one it read", () => {
    const schema = { type: 'number', maximum: 1 };
    const read = state(1, [current('t', 1, { schema })]);
    expect(refusal(() => plan([{ kind: 'set', key: 't', value: 2 }], read)).code).toBe('VALIDATION_FAILED');
    expect(plan([{ kind: 'set', key: 't', value: 0.5 }], read).rows[0]!.schema).toEqual(schema);
  });

  it('stamps the answer with the revision and time the database gave', () => {
    const planned = plan([{ kind: 'set', key: 'k', value: 1 }], state(1));
    const when = new Date(1_700_000_000_000);
    const result = stampResult(planned.result, 5, when);
    expect(result.revision).toBe(5);
    expect(result.changes[0]).toMatchObject({ revision: 5, changedAt: when });
    expect(result.entries[0]).toMatchObject({ revision: 5, updatedAt: when });
  });
});
