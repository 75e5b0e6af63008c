import postgres from 'postgres';

/**
 * The floor of a write: a raw postgres.js transaction doing what a hotconf write must do in the
 * database (bump the namespace revision, update the entry, append history), in tables of its own.
 */
export interface RawWriter {
  /** One write of `key` in `namespace` (created on first use); its revision. */
  write(namespace: string, key: string, value: unknown): Promise<number>;
  end(): Promise<void>;
}

export async function createRawWriter(databaseUrl: string, { max = 1 }: { max?: number } = {}): Promise<RawWriter> {
  const sql = postgres(databaseUrl, { max, onnotice: () => {} });
  await sql`create table if not exists raw_ns (namespace text primary key, revision bigint not null)`;
  await sql`create table if not exists raw_entry (namespace text, key text, value jsonb, version int, primary key (namespace, key))`;
  await sql`create table if not exists raw_history (namespace text, revision bigint, key text, value jsonb, version int, changed_at timestamptz default now(), primary key (namespace, revision, key))`;
  return {
    async write(namespace, key, value) {
      return sql.begin(async (tx) => {
        const [row] = await tx`
          insert into raw_ns values (${namespace}, 1)
          on conflict (namespace) do update set revision = raw_ns.revision + 1
          returning revision`;
        const json = tx.json(value as postgres.JSONValue);
        const [entry] = await tx`
          insert into raw_entry values (${namespace}, ${key}, ${json}, 1)
          on conflict (namespace, key) do update set value = excluded.value, version = raw_entry.version + 1
          returning version`;
        await tx`insert into raw_history (namespace, revision, key, value, version) values (${namespace}, ${row!.revision}, ${key}, ${json}, ${entry!.version})`;
        return Number(row!.revision);
      });
    },
    end: () => sql.end(),
  };
}
