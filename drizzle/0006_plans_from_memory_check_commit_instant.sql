-- Plans made from a gateway's memory of the rows it wrote last (src/db/write-path.ts, KnownRows)
-- skip the read, so nothing but this function stands between them and the table. A version alone
-- does not identify a row's settings across a restore: a database restored from a backup and then
-- written through another gateway can bring a key back to the version this gateway remembers with
-- another secret flag or schema. Such plans now also carry the commit instant of the row as this
-- gateway wrote it (base_updated_at_ms, to the millisecond, as the function stamped it), and the
-- function refuses them (HC409, the gateway then reads) unless the row still carries it. Plans made
-- from a read send no instant and are checked by version as before.
CREATE OR REPLACE FUNCTION hotconf_apply_write(
  p_namespace text,
  p_rows jsonb,
  p_actor text,
  p_reason text,
  p_trace_id text,
  p_expected_revision bigint,
  p_has_reason boolean,
  p_changed_at timestamptz
) RETURNS TABLE (revision bigint, changed_at_ms bigint)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_revision bigint;
  v_require_reason boolean;
  v_at timestamptz;
  v_stale text;
BEGIN
  PERFORM set_config('hotconf.write_path', 'api', true);
  INSERT INTO namespaces AS n (name, revision) VALUES (p_namespace, 1)
    ON CONFLICT (name) DO UPDATE SET revision = n.revision + 1
    RETURNING n.revision, n.require_reason INTO v_revision, v_require_reason;
  IF p_expected_revision IS NOT NULL AND p_expected_revision <> v_revision - 1 THEN
    RAISE EXCEPTION USING ERRCODE = 'HC409', MESSAGE = 'hotconf: stale write plan: the namespace revision moved';
  END IF;
  IF v_require_reason AND NOT p_has_reason THEN
    RAISE EXCEPTION USING ERRCODE = 'HC409', MESSAGE = 'hotconf: stale write plan: the namespace now requires a reason';
  END IF;
  SELECT r.key INTO v_stale
    FROM jsonb_to_recordset(p_rows) AS r(key text, base_version int, base_updated_at_ms bigint)
    LEFT JOIN entries e ON e.namespace = p_namespace AND e.key = r.key
    WHERE coalesce(e.version, 0) <> r.base_version
       OR (r.base_updated_at_ms IS NOT NULL
           AND (e.updated_at IS NULL OR (extract(epoch FROM e.updated_at) * 1000)::bigint <> r.base_updated_at_ms))
    LIMIT 1;
  IF v_stale IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'HC409', MESSAGE = 'hotconf: stale write plan: a key changed since it was read';
  END IF;
  v_at := coalesce(p_changed_at, date_trunc('milliseconds', clock_timestamp()));
  INSERT INTO entries AS e (namespace, key, value, encrypted_value, version, revision, deleted, updated_at, updated_by, description, secret, schema)
    SELECT p_namespace, r.key, r.value, r.encrypted, r.version, v_revision, r.deleted, v_at, p_actor, r.description, r.secret, r.schema
    FROM jsonb_to_recordset(p_rows) AS r(key text, version int, value jsonb, encrypted text, deleted bool, description text, secret bool, schema jsonb)
    ON CONFLICT (namespace, key) DO UPDATE SET
      value = excluded.value, encrypted_value = excluded.encrypted_value, version = excluded.version,
      revision = excluded.revision, deleted = excluded.deleted, updated_at = excluded.updated_at,
      updated_by = excluded.updated_by, description = excluded.description, secret = excluded.secret, schema = excluded.schema;
  INSERT INTO history (namespace, revision, key, op, version, value, encrypted_value, secret, description, schema, actor, reason, trace_id, changed_at)
    SELECT p_namespace, v_revision, r.key, r.op, r.version, r.value, r.encrypted, r.secret, r.description, r.schema, p_actor, p_reason, p_trace_id, v_at
    FROM jsonb_to_recordset(p_rows) AS r(key text, op text, version int, value jsonb, encrypted text, secret bool, description text, schema jsonb);
  RETURN QUERY SELECT v_revision, (extract(epoch FROM v_at) * 1000)::bigint;
END
$$;
