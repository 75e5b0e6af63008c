import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // vitest would load graphql twice (ESM for our code, CJS for yoga/graphql-ws), and a
    // GraphQLError from a resolver would then be masked as unexpected.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    // Above the 2 min a gateway process may take to become ready (test/helpers/gateway.ts), so a
    // slow start fails with its own message and output.
    hookTimeout: 180_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
