/**
 * The reads baseline: a plain graphql-yoga server answering `{ __typename }` on node:http, with
 * nothing of hotconf's. Run as its own process (`node --import tsx bench/lib/plain-yoga.ts`);
 * prints `listening <port>` once it listens on PORT (0 = any free port).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSchema, createYoga } from 'graphql-yoga';

const yoga = createYoga({
  schema: createSchema({ typeDefs: /* GraphQL */ `type Query { hello: String }`, resolvers: { Query: { hello: () => 'world' } } }),
  graphqlEndpoint: '/graphql',
  landingPage: false,
  graphiql: false,
  logging: false,
});
const server = createServer(yoga);
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
