import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createSchema } from 'graphql-yoga';
import type { GraphQLSchema } from 'graphql';
import type { Resolvers } from './generated/resolvers.js';
import type { GraphQLContext } from './context.js';
import { DateTimeScalar, JSONScalar, SafeIntScalar } from './scalars.js';
import { Mutation } from './resolvers/mutation.js';
import { Query } from './resolvers/query.js';
import { Subscription } from './resolvers/subscription.js';
import { ConfigChange, ConfigChangePage, ConfigEntry } from './resolvers/types.js';

const SCHEMA_DIR = fileURLToPath(new URL('../../schema/', import.meta.url));

/** The SDL from `schema/*.graphql`: the single source for the server and for codegen. */
export function loadTypeDefs(): string {
  return readdirSync(SCHEMA_DIR)
    .filter((file) => file.endsWith('.graphql'))
    .sort()
    .map((file) => readFileSync(SCHEMA_DIR + file, 'utf8'))
    .join('\n');
}

export const resolvers: Resolvers = {
  JSON: JSONScalar,
  DateTime: DateTimeScalar,
  SafeInt: SafeIntScalar,
  Query,
  Mutation,
  Subscription,
  ConfigEntry,
  ConfigChange,
  ConfigChangePage,
};

export function createGatewaySchema(): GraphQLSchema {
  return createSchema<GraphQLContext>({ typeDefs: loadTypeDefs(), resolvers: resolvers as never });
}
