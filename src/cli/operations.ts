/**
 * GraphQL documents only the CLI uses (mutations and wider selections). The SDK's typed
 * documents (`src/client/generated/operations.ts`) are reused where they fit.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';

export {
  ConfigDocument,
  ConfigsDocument,
  ConfigChangesDocument,
  ConvergenceDocument,
  EvaluateFlagDocument,
} from '../client/generated/operations.js';

/** An entry as the CLI selects it after a write. */
export interface EntryResult {
  key: string;
  value: unknown;
  version: number;
  revision: number;
  updatedAt: string;
  updatedBy: string | null;
  secret: boolean;
  redacted: boolean;
}

export interface ChangeResult {
  namespace: string;
  key: string;
  op: 'SET' | 'DELETE';
  version: number;
  revision: number;
  value: unknown;
  changedAt: string;
  changedBy: string | null;
  reason: string | null;
  replayed: boolean;
  secret: boolean;
  redacted: boolean;
}

const doc = <TData, TVariables>(text: string): TypedDocumentNode<TData, TVariables> =>
  parse(text) as TypedDocumentNode<TData, TVariables>;

const ENTRY = /* GraphQL */ `key value version revision updatedAt updatedBy secret redacted`;
const CHANGE = /* GraphQL */ `namespace key op version revision value changedAt changedBy reason replayed secret redacted`;

export const SetConfigDocument = doc<
  { setConfig: EntryResult },
  {
    input: {
      namespace: string;
      key: string;
      value: unknown;
      expectedVersion?: number | null;
      reason?: string | null;
      description?: string | null;
      secret?: boolean | null;
      schema?: unknown;
    };
  }
>(/* GraphQL */ `
  mutation CliSetConfig($input: SetConfigInput!) {
    setConfig(input: $input) { ${ENTRY} }
  }
`);

/** One key as `hotconf get` shows it: everything but its history. */
export interface EntryDetail extends EntryResult {
  description: string | null;
  /** The key's JSON Schema, or null when it has none. */
  schema: unknown;
}

export const EntryDocument = doc<{ config: EntryDetail | null }, { namespace: string; key: string }>(/* GraphQL */ `
  query CliEntry($namespace: String!, $key: String!) {
    config(namespace: $namespace, key: $key) { ${ENTRY} description schema }
  }
`);

/** Only the keys of a namespace (the nearest-key suggestion of `set`). */
export const KeysDocument = doc<{ configs: { entries: Array<{ key: string }> } }, { namespace: string }>(/* GraphQL */ `
  query CliKeys($namespace: String!) {
    configs(namespace: $namespace) { entries { key } }
  }
`);

export interface BatchInput {
  key: string;
  value: unknown;
  expectedVersion?: number | null;
  description?: string | null;
  secret?: boolean | null;
  schema?: unknown;
}

export const SetConfigsDocument = doc<
  { setConfigs: Array<{ key: string; version: number; revision: number }> },
  { namespace: string; inputs: BatchInput[]; reason?: string | null }
>(/* GraphQL */ `
  mutation CliSetConfigs($namespace: String!, $inputs: [BatchSetInput!]!, $reason: String) {
    setConfigs(namespace: $namespace, inputs: $inputs, reason: $reason) { key version revision }
  }
`);

export const DeleteConfigDocument = doc<
  { deleteConfig: ChangeResult },
  { namespace: string; key: string; expectedVersion?: number | null; reason?: string | null }
>(/* GraphQL */ `
  mutation CliDeleteConfig($namespace: String!, $key: String!, $expectedVersion: Int, $reason: String) {
    deleteConfig(namespace: $namespace, key: $key, expectedVersion: $expectedVersion, reason: $reason) { ${CHANGE} }
  }
`);

export const RollbackConfigDocument = doc<
  { rollbackConfig: EntryResult },
  { namespace: string; key: string; toVersion: number; expectedVersion?: number | null; reason?: string | null }
>(/* GraphQL */ `
  mutation CliRollbackConfig($namespace: String!, $key: String!, $toVersion: Int!, $expectedVersion: Int, $reason: String) {
    rollbackConfig(namespace: $namespace, key: $key, toVersion: $toVersion, expectedVersion: $expectedVersion, reason: $reason) { ${ENTRY} }
  }
`);

export const DisableAllFlagsDocument = doc<
  { disableAllFlags: EntryResult[] },
  { namespace: string; reason: string }
>(/* GraphQL */ `
  mutation CliDisableAllFlags($namespace: String!, $reason: String!) {
    disableAllFlags(namespace: $namespace, reason: $reason) { ${ENTRY} }
  }
`);

export const HistoryDocument = doc<
  { config: { key: string; version: number; history: ChangeResult[] } | null },
  { namespace: string; key: string; limit: number }
>(/* GraphQL */ `
  query CliHistory($namespace: String!, $key: String!, $limit: Int) {
    config(namespace: $namespace, key: $key) { key version history(limit: $limit) { ${CHANGE} } }
  }
`);

export const ChangesDocument = doc<
  { configChanges: { revision: number; hasMore: boolean; changes: ChangeResult[] } },
  { namespace: string; sinceRevision: number; prefix?: string | null; limit: number }
>(/* GraphQL */ `
  query CliChanges($namespace: String!, $sinceRevision: SafeInt!, $prefix: String, $limit: Int) {
    configChanges(namespace: $namespace, sinceRevision: $sinceRevision, prefix: $prefix, limit: $limit) {
      revision hasMore changes { ${CHANGE} }
    }
  }
`);

export const NamespacesDocument = doc<{ namespaces: Array<{ name: string; revision: number; entryCount: number }> }, Record<string, never>>(
  /* GraphQL */ `query CliNamespaces { namespaces { name revision entryCount } }`,
);

export const WatchDocument = doc<
  { configChanged: ChangeResult },
  { namespace: string; prefix?: string | null; keys?: string[] | null; sinceRevision?: number | null }
>(/* GraphQL */ `
  subscription CliWatch($namespace: String!, $prefix: String, $keys: [String!], $sinceRevision: SafeInt) {
    configChanged(namespace: $namespace, prefix: $prefix, keys: $keys, sinceRevision: $sinceRevision) { ${CHANGE} }
  }
`);

/** An entry with every setting, as `export` writes it and `import` compares it. */
export interface ExportedEntry {
  key: string;
  value: unknown;
  version: number;
  description: string | null;
  secret: boolean;
  redacted: boolean;
  schema: unknown;
}

export const ExportDocument = doc<
  { configs: { namespace: string; revision: number; entries: ExportedEntry[] } },
  { namespace: string; prefix: string | null }
>(/* GraphQL */ `
  query CliExport($namespace: String!, $prefix: String) {
    configs(namespace: $namespace, prefix: $prefix) { namespace revision entries { key value version description secret redacted schema } }
  }
`);

export interface RestoreChangeResult {
  key: string;
  op: 'SET' | 'DELETE';
  current: ExportedEntry | null;
  restored: ExportedEntry | null;
}

const EXPORTED = /* GraphQL */ `key value version description secret redacted schema`;

export const RestorePlanDocument = doc<
  { restorePlan: { namespace: string; revision: number; toRevision: number; changes: RestoreChangeResult[] } },
  { namespace: string; toRevision: number; prefix: string | null }
>(/* GraphQL */ `
  query CliRestorePlan($namespace: String!, $toRevision: SafeInt!, $prefix: String) {
    restorePlan(namespace: $namespace, toRevision: $toRevision, prefix: $prefix) {
      namespace revision toRevision changes { key op current { ${EXPORTED} } restored { ${EXPORTED} } }
    }
  }
`);

export const RestoreConfigsDocument = doc<
  { restoreConfigs: { namespace: string; revision: number; entries: Array<{ key: string }> } },
  { namespace: string; toRevision: number; prefix: string | null; expectedRevision: number; reason: string | null }
>(/* GraphQL */ `
  mutation CliRestoreConfigs($namespace: String!, $toRevision: SafeInt!, $prefix: String, $expectedRevision: SafeInt, $reason: String) {
    restoreConfigs(namespace: $namespace, toRevision: $toRevision, prefix: $prefix, expectedRevision: $expectedRevision, reason: $reason) {
      namespace revision entries { key }
    }
  }
`);
