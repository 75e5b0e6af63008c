import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createSchema } from 'graphql-yoga';
import type { GraphQLScalarType, GraphQLSchema } from 'graphql';
import type { Resolvers } from './generated/resolvers.js';
import type { GraphQLContext } from './context.js';
import { DateTimeScalar, JSONScalar, SafeIntScalar } from './scalars.js';
import { Mutation } from './resolvers/mutation.js';
import { Query } from './resolvers/query.js';
import { Subscription } from './resolvers/subscription.js';
import { ConfigChange, ConfigChangePage, RestoredState, ConfigEntry } from './resolvers/types.js';

const SCHEMA_DIR = fileURLToPath(new URL('../../schema/', import.meta.url));

/** The SDL from `schema/*.graphql`: the single source for the server and for codegen. */
export function loadTypeDefs(): string {
  return readdirSync(SCHEMA_DIR)
    .filter((file) => file.endsWith('.graphql'))
    .sort()
    .map((file) => readFileSync(SCHEMA_DIR + file, 'utf8'))
    .join('\n');
}

export const resolvers: Resolvers<GraphQLContext> = {
  JSON: JSONScalar,
  DateTime: DateTimeScalar,
  SafeInt: SafeIntScalar,
  Query,
  Mutation,
  Subscription,
  ConfigEntry,
  ConfigChange,
  ConfigChangePage,
  RestoredState,
};

/**
 * A scalar's behaviour only, so that its description and `@specifiedBy` URL come from the SDL:
 * graphql-tools copies every own property of a GraphQLScalarType onto the schema's type, and
 * `specifiedByURL: undefined` would erase what introspection (and codegen) should see.
 */
function behaviourOf({ serialize, parseValue, parseLiteral }: GraphQLScalarType): ScalarBehaviour {
  return { serialize, parseValue, parseLiteral };
}

type ScalarName = 'JSON' | 'DateTime' | 'SafeInt';
type ScalarBehaviour = Pick<GraphQLScalarType, 'serialize' | 'parseValue' | 'parseLiteral'>;
/** The generated `Resolvers` (context, mappers and all), with the scalars as behaviour only. */
type SchemaResolvers = Omit<Resolvers<GraphQLContext>, ScalarName> & Record<ScalarName, ScalarBehaviour>;

export function createGatewaySchema(): GraphQLSchema {
  const schemaResolvers: SchemaResolvers = {
    ...resolvers,
    JSON: behaviourOf(JSONScalar),
    DateTime: behaviourOf(DateTimeScalar),
    SafeInt: behaviourOf(SafeIntScalar),
  };
  return createSchema<GraphQLContext>({ typeDefs: loadTypeDefs(), resolvers: schemaResolvers });
}
