import { describe, expect, it } from 'vitest';
import { GraphQLError, buildSchema, parse, subscribe, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { compileSubscription, projectedSubscribe, sourceEventOf } from '../../src/graphql/projection.js';
import { shareableSubscription } from '../../src/graphql/shareable.js';
import { createFrameWriter } from '../../src/server/ws-adapter.js';

const WATCH = /* GraphQL */ `
  subscription Watch($namespace: String!, $sinceRevision: SafeInt) {
    configChanged(namespace: $namespace, sinceRevision: $sinceRevision) { key revision }
  }
`;

const fakeFeed = (position: number | null) => ({ position: () => position, follow: async () => position });
const principal = (secrets: boolean) => ({ sub: 's', role: 'reader', namespaces: ['a'], secrets, expiresAt: null });

function share(query: string, variables: Record<string, unknown>, context: Record<string, unknown> = { feed: fakeFeed(7), principal: principal(false) }) {
  return shareableSubscription({ document: parse(query), variableValues: variables, contextValue: context });
}

describe('shareableSubscription', () => {
  it('keys subscriptions that differ only in sinceRevision together, and returns the revision to resume from', () => {
    const live = share(WATCH, { namespace: 'a' });
    const resumed = share(WATCH, { namespace: 'a', sinceRevision: 7 });
    const older = share(WATCH, { namespace: 'a', sinceRevision: 3 });
    expect(live?.key).toBeTypeOf('string');
    expect(resumed?.key).toBe(live?.key);
    expect(older?.key).toBe(live?.key);
    expect(live?.resume).toBeNull();
    expect(resumed?.resume).toBe(7);
    expect(resumed?.position()).toBe(7);
  });

  it('keeps apart other variables and callers who see different things', () => {
    const base = share(WATCH, { namespace: 'a' })!.key;
    expect(share(WATCH, { namespace: 'b' })!.key).not.toBe(base);
    expect(share(WATCH, { namespace: 'a' }, { feed: fakeFeed(7), principal: principal(true) })!.key).not.toBe(base);
    expect(share(WATCH, { namespace: 'a' }, { feed: fakeFeed(7), principal: null })!.key).not.toBe(base);
  });

  it('shares nothing it cannot key safely', () => {
    expect(share('query { __typename }', {})).toBeNull();
    expect(share('subscription { configChanged(namespace: "a", sinceRevision: 3) { key } }', {})).toBeNull();
    const withDefault = 'subscription($s: SafeInt = 3) { configChanged(namespace: "a", sinceRevision: $s) { key } }';
    expect(share(withDefault, {})).toBeNull();
    for (const bad of [-1, 1.5, '3']) expect(share(WATCH, { namespace: 'a', sinceRevision: bad })).toBeNull();
    expect(share(WATCH, { namespace: 'a' }, { principal: null })).toBeNull(); // no feed
    expect(share('subscription { somethingElse { key } }', {})).toBeNull();
  });

  it('reads where a result stands from the event it was projected from', async () => {
    const schema = changeSchema();
    const stream = (await projectedSubscribe({ schema, document: parse(WATCH), variableValues: { namespace: 'a' }, contextValue: { canRead: true } })) as AsyncGenerator<ExecutionResult>;
    const { value } = await stream.next();
    const share = shareableSubscription({ document: parse(WATCH), variableValues: { namespace: 'a' }, contextValue: { feed: fakeFeed(1), principal: null } })!;
    expect(share.positionOf(value as ExecutionResult)).toBe(1);
    expect(share.positionOf({ errors: [new GraphQLError('x')] })).toBeUndefined();
    await stream.return(undefined);
  });
});

/** A small schema with a redacting resolver, and a stream of three events (the last ends it with an error). */
function changeSchema(): GraphQLSchema {
  const schema = buildSchema(/* GraphQL */ `
    scalar SafeInt
    scalar JSON
    type Entry { key: String! value: JSON }
    type Change { key: String! revision: SafeInt! value: JSON redacted: Boolean! tags: [String!]! entry: Entry }
    type Query { ok: Boolean }
    type Subscription { configChanged(namespace: String!, sinceRevision: SafeInt): Change! }
  `);
  const subscription = schema.getSubscriptionType()!.getFields().configChanged!;
  subscription.subscribe = async function* () {
    yield { key: 'k1', revision: 1, value: { secret: 1 }, secret: true, tags: ['x'] };
    yield { key: 'k2', revision: 2, value: 2, secret: false, tags: [] };
    yield { endedWith: new GraphQLError('ended', { extensions: { code: 'REVISION_COMPACTED' } }) };
  };
  subscription.resolve = (event: { endedWith?: GraphQLError }) => {
    if (event.endedWith) throw event.endedWith;
    return event;
  };
  const change = schema.getType('Change') as unknown as { getFields(): Record<string, { resolve?: unknown }> };
  change.getFields().value!.resolve = (source: { value: unknown; secret: boolean }, _args: unknown, context: { canRead: boolean }) =>
    source.secret && !context.canRead ? null : source.value;
  change.getFields().redacted!.resolve = (source: { secret: boolean }, _args: unknown, context: { canRead: boolean }) => source.secret && !context.canRead;
  change.getFields().entry!.resolve = (source: { key: string; value: unknown }) => ({ key: source.key, value: source.value });
  return schema;
}

async function collect(stream: unknown): Promise<ExecutionResult[]> {
  const results: ExecutionResult[] = [];
  for await (const result of stream as AsyncIterable<ExecutionResult>) results.push(JSON.parse(JSON.stringify(result)) as ExecutionResult);
  return results;
}

describe('projected subscriptions', () => {
  const query = /* GraphQL */ `
    subscription($ns: String!) {
      configChanged(namespace: $ns) { __typename k: key revision value redacted tags ...more entry { key value } }
    }
    fragment more on Change { ... on Change { redacted2: redacted } }
  `;

  it('give exactly the results of a GraphQL execution per event, redaction and errors included', async () => {
    const schema = changeSchema();
    for (const canRead of [true, false]) {
      const args = { schema, document: parse(query), variableValues: { ns: 'a' }, contextValue: { canRead } };
      expect(compileSubscription(schema, args.document)).not.toBeNull();
      const projected = await collect(await projectedSubscribe(args));
      const executed = await collect(await subscribe(args));
      expect(projected).toEqual(executed);
      expect(projected).toHaveLength(3);
      expect(projected[0]!.data).toEqual({
        configChanged: { __typename: 'Change', k: 'k1', revision: 1, value: canRead ? { secret: 1 } : null, redacted: !canRead, tags: ['x'], redacted2: !canRead, entry: { key: 'k1', value: { secret: 1 } } },
      });
      expect(projected[2]!.errors?.[0]?.extensions?.code).toBe('REVISION_COMPACTED');
    }
  });

  it('leave selections they do not handle to execution', async () => {
    const schema = changeSchema();
    const document = parse('subscription($ns: String!, $on: Boolean!) { configChanged(namespace: $ns) { key @include(if: $on) revision } }');
    const args = { schema, document, variableValues: { ns: 'a', on: false }, contextValue: { canRead: true } };
    expect(compileSubscription(schema, document)?.bind(args.variableValues) ?? null).toBeNull();
    expect(await collect(await projectedSubscribe(args))).toEqual(await collect(await subscribe(args)));
  });

  it('remember the event of each result', async () => {
    const schema = changeSchema();
    const stream = (await projectedSubscribe({ schema, document: parse(query), variableValues: { ns: 'a' }, contextValue: { canRead: true } })) as AsyncGenerator<ExecutionResult>;
    const first = await stream.next();
    expect((sourceEventOf(first.value as ExecutionResult) as { revision: number }).revision).toBe(1);
    await stream.return(undefined);
  });
});

describe('frame writer', () => {
  function fakeSocket(bufferedAmount = 0) {
    const log: string[] = [];
    const drains: Array<() => void> = [];
    const socket = { readyState: 1, OPEN: 1 as const, bufferedAmount, send: (frame: string) => void log.push(`send ${frame}`) };
    const raw = {
      cork: () => void log.push('cork'),
      uncork: () => void log.push('uncork'),
      once: (_event: string, listener: () => void) => {
        drains.push(listener);
        return raw;
      },
    };
    const closes: string[] = [];
    const writer = createFrameWriter(socket as never, raw as never, 100, (code) => {
      log.push(`close ${code}`);
      closes.push(String(code));
    });
    return { socket, log, drains, writer };
  }
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  it('writes the frames of one turn in one corked write, in order', async () => {
    const { log, writer } = fakeSocket();
    writer.write('a');
    writer.write('b');
    expect(writer.send('c')).toBeUndefined();
    expect(log).toEqual([]);
    expect(writer.buffered).toBe(3);
    await turn();
    expect(log).toEqual(['cork', 'send a', 'send b', 'send c', 'uncork']);
    writer.write('d');
    await turn();
    expect(log.slice(5)).toEqual(['cork', 'send d', 'uncork']);
  });

  it('sends what is queued before a close, and drops frames for a closed socket', async () => {
    const { socket, log, writer } = fakeSocket();
    writer.write('a');
    writer.close(1001, 'Going away');
    expect(log).toEqual(['cork', 'send a', 'uncork', 'close 1001']);
    socket.readyState = 3;
    writer.write('late');
    await turn();
    expect(log).not.toContain('send late');
    expect(writer.open).toBe(false);
  });

  it('makes graphql-ws wait only while the socket is over its high-water mark', async () => {
    const { socket, drains, writer } = fakeSocket(150);
    let released = false;
    void writer.send('x')!.then(() => (released = true));
    await turn();
    expect(released).toBe(false);
    socket.bufferedAmount = 0;
    for (const drain of drains) drain();
    await turn();
    expect(released).toBe(true);
  });
});
