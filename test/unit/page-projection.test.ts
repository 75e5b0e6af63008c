import { execute, parse, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { describe, expect, it } from 'vitest';
import { createValidator } from '../../src/core/validation.js';
import { SecretUnreadableError } from '../../src/core/secret-box.js';
import type { Change, ChangePage } from '../../src/core/types.js';
import { GatewayError } from '../../src/errors.js';
import { useProjectedPages } from '../../src/graphql/page-projection.js';
import { createGatewaySchema } from '../../src/graphql/schema.js';
import { ConfigChangesDocument } from '../../src/client/generated/operations.js';

const schema = createGatewaySchema();
const at = new Date('2026-01-02T03:04:05.678Z');

function change(overrides: Partial<Change>): Change {
  return {
    namespace: 'ns',
    key: 'k',
    op: 'SET',
    version: 1,
    revision: 1,
    value: { on: true },
    changedAt: at,
    changedBy: 'alice',
    reason: null,
    traceId: 'trace',
    secret: false,
    description: null,
    schema: null,
    ...overrides,
  };
}

const page: ChangePage = {
  namespace: 'ns',
  revision: 9,
  hasMore: true,
  changes: [
    change({ key: 'a', revision: 2 }),
    change({ key: 'b', revision: 2, secret: true, value: 'hunter2', description: 'pw', schema: { type: 'string' } }),
    change({ key: 'c', revision: 3, op: 'DELETE', value: null, version: 2 }),
    change({ key: 'd', revision: 4, value: [1, 'two', null] }),
  ],
};

function context(changes: () => Promise<ChangePage>, secrets: boolean) {
  return {
    guard: { read: () => {}, canReadSecrets: () => secrets },
    store: { changes },
    validate: createValidator(),
  };
}

/** The plugin's execute around graphql-js' own. */
function projectedExecute(): { run: (args: ExecutionArgs) => Promise<ExecutionResult>; executed: () => number } {
  let wrapped: ((args: ExecutionArgs) => unknown) | null = null;
  let executed = 0;
  const plugin = useProjectedPages();
  (plugin.onExecute as (payload: unknown) => void)({
    executeFn: (args: ExecutionArgs) => {
      executed++;
      return execute(args);
    },
    setExecuteFn: (fn: (args: ExecutionArgs) => unknown) => (wrapped = fn),
  });
  return { run: async (args) => (await wrapped!(args)) as ExecutionResult, executed: () => executed };
}

const DOCUMENTS = {
  client: ConfigChangesDocument.toString(),
  everything: /* GraphQL */ `
    query Everything($namespace: String!, $since: SafeInt!) {
      page: configChanges(namespace: $namespace, sinceRevision: $since, limit: 10) {
        __typename
        hasMore
        ...Counters
        changes {
          __typename
          id
          k: key
          ... on ConfigChange { op version revision value changedAt changedBy reason traceId replayed lastInRevision secret redacted }
          entry { id key value redacted version revision updatedAt updatedBy description secret schema }
        }
      }
    }
    fragment Counters on ConfigChangePage { namespace revision }`,
  // Left to execution: a repeated response key, another root field.
  repeated: 'query($namespace: String!) { configChanges(namespace: $namespace, sinceRevision: 0) { revision revision changes { key } } }',
  twoRoots: 'query($namespace: String!) { configChanges(namespace: $namespace, sinceRevision: 0) { revision } __typename }',
};

describe('useProjectedPages', () => {
  it.each(Object.keys(DOCUMENTS))('answers %s exactly as execution does, with and without the secrets claim', async (name) => {
    const document = parse(DOCUMENTS[name as keyof typeof DOCUMENTS]);
    const projected = projectedExecute();
    for (const secrets of [false, true]) {
      const args = { schema, document, variableValues: { namespace: 'ns', since: 0, sinceRevision: 0, limit: 1000 } };
      const expected = await execute({ ...args, contextValue: context(async () => page, secrets) });
      const actual = await projected.run({ ...args, contextValue: context(async () => page, secrets) });
      expect(JSON.stringify(actual)).toBe(JSON.stringify(expected));
      expect(expected.errors).toBeUndefined();
    }
    // The two pages were projected, not executed, unless the document is one the plan leaves alone.
    expect(projected.executed()).toBe(name === 'repeated' || name === 'twoRoots' ? 2 : 0);
  });

  it('leaves errors to execution: a refused page, an unreadable secret, bad variables', async () => {
    const document = parse(DOCUMENTS.everything);
    const projected = projectedExecute();
    const cases: Array<{ changes: () => Promise<ChangePage>; variables: Record<string, unknown> }> = [
      { changes: () => Promise.reject(new GatewayError('REVISION_COMPACTED', 'compacted', { compactedRevision: 5 })), variables: { namespace: 'ns', since: 1 } },
      {
        changes: async () => ({ ...page, changes: [change({ secret: true, value: new SecretUnreadableError('no key', 'k1') as unknown as null })] }),
        variables: { namespace: 'ns', since: 0 },
      },
      { changes: async () => page, variables: { namespace: 'ns', since: 'nope' } },
      { changes: async () => page, variables: { namespace: 'Bad Namespace!', since: 0 } },
    ];
    for (const { changes, variables } of cases) {
      const expected = await execute({ schema, document, variableValues: variables, contextValue: context(changes, true) });
      const actual = await projected.run({ schema, document, variableValues: variables, contextValue: context(changes, true) });
      expect(expected.errors?.length).toBeGreaterThan(0);
      expect(JSON.stringify(actual)).toBe(JSON.stringify(expected));
      expect(actual.errors?.[0]?.originalError?.constructor).toBe(expected.errors?.[0]?.originalError?.constructor);
    }
    expect(projected.executed()).toBe(cases.length);
  });
});
