import type { CodegenConfig } from '@graphql-codegen/cli';

/** Resolver types for the server and typed documents for the SDK/CLI, both from `schema/`. */
const config: CodegenConfig = {
  schema: 'schema/*.graphql',
  hooks: {},
  generates: {
    'src/graphql/generated/resolvers.ts': {
      plugins: ['typescript', 'typescript-resolvers'],
      config: {
        useTypeImports: true,
        contextType: '../context.js#GraphQLContext',
        mappers: {
          ConfigEntry: '../mappers.js#EntryModel',
          ConfigChange: '../mappers.js#ChangeModel',
          ConfigSnapshot: '../mappers.js#SnapshotModel',
          ConfigChangePage: '../mappers.js#ChangePageModel',
          ConfigDrift: '../mappers.js#DriftModel',
          RestorePlan: '../mappers.js#RestorePlanModel',
          RestoreChange: '../mappers.js#RestoreChangeModel',
          RestoredState: '../mappers.js#EntryModel',
        },
        scalars: {
          JSON: { input: '../../core/types.js#JsonValue', output: '../../core/types.js#JsonValue' },
          DateTime: { input: 'Date', output: 'Date | string' },
          SafeInt: { input: 'number', output: 'number' },
        },
        enumsAsTypes: true,
        avoidOptionals: false,
        maybeValue: 'T | null',
        inputMaybeValue: 'T | null | undefined',
      },
    },
    'src/client/generated/operations.ts': {
      documents: 'src/client/operations/*.graphql',
      plugins: ['typescript-operations', 'typed-document-node'],
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { JSON: 'unknown', DateTime: 'string', SafeInt: 'number' },
        documentMode: 'string',
      },
    },
    // The CLI's own documents (mutations, wider selections); it reuses the SDK's where they fit.
    'src/cli/generated/operations.ts': {
      documents: 'src/cli/operations/*.graphql',
      plugins: ['typescript-operations', 'typed-document-node'],
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { JSON: 'unknown', DateTime: 'string', SafeInt: 'number' },
        documentMode: 'string',
      },
    },
  },
};

export default config;
