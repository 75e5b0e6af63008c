-- A write in one round trip (issue 14.2). The gateway reads the rows a write touches, decides the
-- write in JavaScript (src/core/write-plan.ts: compare-and-set, tombstones, rollback, secrets, JSON
-- Schema; secret values encrypted there), then sends the planned rows here in one statement. This
-- function takes the namespace revision row lock, re-checks under it everything the plan assumed,
-- and writes the entries and history rows, so the lock is held only inside PostgreSQL, never
-- across the gateway's JavaScript or a network round trip.
--
-- What the plan assumed, checked under the lock (each statement of a VOLATILE function sees what
-- committed before it, lock wait included):
--   * every key's version (tombstones included) is still the one the plan read (base_version):
--     a key's value, description, secret flag and schema change only with its version, so this
--     covers per-key compare-and-set, the schema the value was validated against and the
--     settings carried over;
--   * the namespace is still at p_expected_revision, when the caller asked for that (namespace
--     compare-and-set, restore);
--   * a namespace that requires a reason gets one (p_has_reason; configureNamespace may have
--     turned the rule on since the read).
-- Anything else means the plan is stale: SQLSTATE HC409 rolls the statement back and the
-- gateway reads again and re-plans (after a few tries, under the namespace lock).
--
-- It marks its own transaction as hotconf's write path (migration 0004's guard), stamps the write
-- with clock_timestamp() (as close to COMMIT as a statement gets; p_changed_at overrides it for
-- tests), truncated to the millisecond, and returns the revision and that instant. No session
-- state: it works behind a transaction-mode pooler, with or without prepared statements.
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
    FROM jsonb_to_recordset(p_rows) AS r(key text, base_version int)
    LEFT JOIN entries e ON e.namespace = p_namespace AND e.key = r.key
    WHERE coalesce(e.version, 0) <> r.base_version
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
