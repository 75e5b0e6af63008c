-- The database is the log: a change to hotconf's tables that does not come through hotconf's
-- write path (which bumps the namespace revision, writes history and tells every gateway) is
-- refused. hotconf marks its own transactions with the transaction-local setting
-- hotconf.write_path; a hand-written UPDATE has none.
CREATE OR REPLACE FUNCTION hotconf_refuse_direct_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('hotconf.write_path', true), '') = '' THEN
    RAISE EXCEPTION USING
      ERRCODE = 'insufficient_privilege',
      MESSAGE = format('hotconf: %s on %s refused: configuration changes go through hotconf, which bumps the namespace revision, records history and pushes the change to every service', TG_OP, TG_TABLE_NAME),
      HINT = 'Use the GraphQL API (setConfig, setConfigs, deleteConfig, rollbackConfig, restoreConfigs, configureNamespace) or the CLI (hotconf set, delete, rollback, import, restore).';
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER hotconf_guard_entries BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON "entries"
  FOR EACH STATEMENT EXECUTE FUNCTION hotconf_refuse_direct_write();
--> statement-breakpoint
CREATE TRIGGER hotconf_guard_history BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON "history"
  FOR EACH STATEMENT EXECUTE FUNCTION hotconf_refuse_direct_write();
--> statement-breakpoint
CREATE TRIGGER hotconf_guard_namespaces BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON "namespaces"
  FOR EACH STATEMENT EXECUTE FUNCTION hotconf_refuse_direct_write();
