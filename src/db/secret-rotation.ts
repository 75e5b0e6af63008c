/**
 * Re-encryption of every secret value at rest under the first key of `HOTCONF_SECRET_KEYS`.
 *
 * This is the one path that changes stored values without a new revision (the values do not
 * change, only their encryption). It runs as one transaction that first locks every namespace
 * row, so writers wait for it and nothing is half-rotated: a failure (a value whose key is not
 * configured, a lost connection) changes nothing. Database guards that refuse writes around
 * hotconf's write path can recognise it by the transaction-local setting
 * `hotconf.write_path = 'secrets-rotate'`.
 */
import { secretContext, SecretUnreadableError, type SecretBox } from '../core/secret-box.js';
import type { Database, SqlTransaction } from './connect.js';
import { WRITE_PATH_SQL } from './config-store.js';

export interface RotationProgress {
  /** Values re-encrypted so far. */
  done: number;
  /** Values that need it: plaintext secrets and those under another key. */
  total: number;
}

export interface RotationResult extends RotationProgress {
  /** Secret values already under the encrypting key (left as they are). */
  alreadyCurrent: number;
  /** Id of the key every secret value is now encrypted with. */
  keyId: string;
}

export interface RotateOptions {
  database: Pick<Database, 'transaction'>;
  box: SecretBox;
  /** Rows read and written per statement. @default 500 */
  batchSize?: number;
  /** Called after every batch (and once before the first). */
  onProgress?: (progress: RotationProgress) => void;
}

interface Row extends Record<string, unknown> {
  id: string;
  namespace: string;
  key: string;
  value: string | null;
  encrypted_value: string | null;
}

/** A secret value with something in it (deletes have none), not under the key `$1`. */
const NEEDS_WORK = /* SQL */ `secret and (encrypted_value is not null or value is not null)
  and (encrypted_value is null or encrypted_value not like 'hcs1.' || $1 || '.%')`;

/** Both tables, keyed for a keyset scan (entries by namespace and key, history by id). */
const TABLES = [
  {
    name: 'entries',
    select: /* SQL */ `select (namespace || chr(1) || key) as id, namespace, key, value::text as value, encrypted_value from entries
      where ${NEEDS_WORK} and (namespace || chr(1) || key) > $2 order by (namespace || chr(1) || key) limit $3`,
    update: /* SQL */ `update entries e set value = null, encrypted_value = t.encrypted
      from jsonb_to_recordset($1::text::jsonb) as t(namespace text, key text, encrypted text)
      where e.namespace = t.namespace and e.key = t.key`,
    count: /* SQL */ `select count(*) filter (where ${NEEDS_WORK}) as pending,
      count(*) filter (where secret and encrypted_value like 'hcs1.' || $1 || '.%') as current from entries`,
    first: '',
  },
  {
    name: 'history',
    select: /* SQL */ `select id::text as id, namespace, key, value::text as value, encrypted_value from history
      where ${NEEDS_WORK} and id > $2::bigint order by id limit $3`,
    update: /* SQL */ `update history h set value = null, encrypted_value = t.encrypted
      from jsonb_to_recordset($1::text::jsonb) as t(id bigint, encrypted text)
      where h.id = t.id`,
    count: /* SQL */ `select count(*) filter (where ${NEEDS_WORK}) as pending,
      count(*) filter (where secret and encrypted_value like 'hcs1.' || $1 || '.%') as current from history`,
    first: '0',
  },
] as const;

async function lockWriters(tx: SqlTransaction): Promise<void> {
  await tx.query(WRITE_PATH_SQL, ['secrets-rotate']);
  // Every write bumps its namespace row first: holding them all keeps writers out until COMMIT.
  await tx.query('select name from namespaces order by name for no key update', [], { prepare: false });
}

/**
 * Re-encrypts every secret value in `entries` and `history` (plaintext ones left from before
 * encryption was turned on included) under `box`'s first key, in one transaction. Throws
 * `SecretUnreadableError` (and changes nothing) when a value is encrypted with a key `box`
 * does not hold.
 *
 * @example
 * await rotateSecretValues({ database, box: createSecretBox(config.secretKeys), onProgress: ({ done, total }) => log(`${done}/${total}`) });
 */
export async function rotateSecretValues({ database, box, batchSize = 500, onProgress = () => {} }: RotateOptions): Promise<RotationResult> {
  const keyId = box.encryptingKeyId;
  return database.transaction(async (tx) => {
    await lockWriters(tx);
    let total = 0;
    let alreadyCurrent = 0;
    for (const table of TABLES) {
      const [counts] = await tx.query<{ pending: string | number; current: string | number }>(table.count, [keyId], { prepare: false });
      total += Number(counts?.pending ?? 0);
      alreadyCurrent += Number(counts?.current ?? 0);
    }
    let done = 0;
    onProgress({ done, total });
    for (const table of TABLES) {
      let after: string = table.first;
      for (;;) {
        const rows = await tx.query<Row>(table.select, [keyId, after, batchSize], { prepare: false });
        if (rows.length === 0) break;
        const updates = rows.map((row) => {
          const context = secretContext(row.namespace, row.key);
          const plaintext = row.encrypted_value !== null ? box.open(row.encrypted_value, context) : row.value!;
          const encrypted = box.seal(plaintext, context);
          return table.name === 'entries' ? { namespace: row.namespace, key: row.key, encrypted } : { id: Number(row.id), encrypted };
        });
        await tx.query(table.update, [JSON.stringify(updates)], { prepare: false });
        after = rows[rows.length - 1]!.id;
        done += rows.length;
        onProgress({ done, total });
      }
    }
    return { done, total, alreadyCurrent, keyId };
  });
}

export { SecretUnreadableError };
