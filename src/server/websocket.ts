import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import {
  GraphQLError,
  Kind,
  getOperationAST,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLSchema,
} from 'graphql';
import type { Context } from 'graphql-ws';
import { useServer, type Extra } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Principal } from '../core/types.js';
import { isGatewayError } from '../errors.js';
import type { GatewayYoga } from './yoga.js';

/** The graphql-ws context of one socket, with the caller `onConnect` verified. */
export type SocketContext = Context<Record<string, unknown> | undefined, Extra & { principal?: Principal | null }>;

/**
 * Verifies `connection_init`. `false` refuses the socket (4403 unless the hook closed it with its
 * own code); a `Principal` (or null for anonymous) is kept for every operation of the socket, so
 * tokens are verified once per connection. Throwing a `GatewayError` closes with 4401
 * (`UNAUTHENTICATED`) or 4403 (anything else).
 */
export type ConnectHook = (ctx: SocketContext) => Promise<boolean | Principal | null | void> | boolean | Principal | null | void;

/** Options of the graphql-ws endpoint. */
export interface WebSocketOptions {
  /** The HTTP server yoga serves on; WebSocket upgrades on `path` are taken over. */
  server: Server;
  yoga: GatewayYoga;
  /** @default '/graphql' */
  path?: string;
  onConnect?: ConnectHook;
  /**
   * Subscriptions with the same document, variables and caller visibility, started without
   * `sinceRevision`, share one execution: each change is executed once and the result is sent to
   * all of them. @default true
   */
  shareExecution?: boolean;
  /** Results one subscriber of a shared execution may have unsent before it is ended. @default 1_000 */
  maxQueuedResults?: number;
  /** Interval of WebSocket pings that detect dead peers. @default 12_000 (12 s) */
  keepAliveMs?: number;
  /**
   * Coalesce the frames a socket sends within one event-loop turn into one write: a change for
   * many subscriptions on one socket costs one syscall instead of one per subscription.
   * @default true
   */
  batchWrites?: boolean;
  /**
   * Members of a shared execution write their `next` frames themselves from the result serialized
   * once, instead of each going through graphql-ws' per-subscriber serialization. @default true
   */
  directWrites?: boolean;
  /** Bytes a socket may have unsent before its shared subscriptions are ended as too slow. @default 8 MiB */
  maxBufferedBytes?: number;
}

/** Counts for /ready and metrics. */
export interface WebSocketStats {
  sockets: number;
  /** Subscriptions sharing an execution with others. */
  sharedSubscriptions: number;
  /** Distinct shared executions. */
  sharedExecutions: number;
}

export interface WebSocketEndpoint extends AsyncDisposable {
  /** Closes every socket with 1001 (Going Away) so clients reconnect elsewhere, then the server. */
  dispose(): Promise<void>;
  stats(): WebSocketStats;
}

type Enveloped = ReturnType<GatewayYoga['getEnveloped']>;
type RootValue = { execute: Enveloped['execute']; subscribe: Enveloped['subscribe']; target: DirectTarget };
type ResultStream = AsyncIterableIterator<ExecutionResult>;

const isAsyncIterable = (value: unknown): value is AsyncIterable<ExecutionResult> =>
  typeof value === 'object' && value !== null && Symbol.asyncIterator in value;

/**
 * graphql-ws (protocol `graphql-transport-ws`) on the HTTP server's port and path, executing
 * through yoga's envelop so plugins, context and error masking are the same as over HTTP/SSE.
 *
 * @example
 * const ws = attachWebSocket({ server, yoga, onConnect: (ctx) => verify(ctx.connectionParams) });
 * await ws.dispose(); // on shutdown
 */
export function attachWebSocket({
  server,
  yoga,
  path = '/graphql',
  onConnect,
  shareExecution = true,
  maxQueuedResults = 1_000,
  keepAliveMs = 12_000, // 12 s
  batchWrites = true,
  directWrites = true,
  maxBufferedBytes = 8 * 1_048_576, // 8 MiB
}: WebSocketOptions): WebSocketEndpoint {
  const wsServer = new WebSocketServer({ server, path });
  const shared = createSharedExecutions(maxQueuedResults, maxBufferedBytes);

  const disposable = useServer<Record<string, unknown> | undefined, { principal?: Principal | null }>(
    {
      execute: (args) => (args.rootValue as RootValue).execute(args),
      subscribe: (args) => {
        const root = args.rootValue as RootValue;
        const key = shareExecution ? shareKey(args) : null;
        return key === null ? root.subscribe(args) : shared.subscribe(key, () => root.subscribe(args), directWrites ? root.target : null);
      },
      onConnect: async (ctx) => {
        if (!onConnect) return true;
        try {
          const outcome = await onConnect(ctx);
          if (outcome === false) return false;
          // Never echo the principal in connection_ack: keep it for the socket's operations.
          if (outcome !== true && outcome !== undefined) ctx.extra.principal = outcome;
          return true;
        } catch (error) {
          const code = isGatewayError(error) && error.code === 'UNAUTHENTICATED' ? 4401 : 4403;
          ctx.extra.socket.close(code, isGatewayError(error) ? error.message.slice(0, 120) : 'Forbidden');
          return false;
        }
      },
      onSubscribe: async (ctx, id, params) => {
        const initial = {
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
          connectionParams: ctx.connectionParams,
          ...(ctx.extra.principal !== undefined ? { principal: ctx.extra.principal } : {}),
        };
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped(initial as never);
        let document: DocumentNode;
        try {
          document = parse(params.query);
        } catch (error) {
          return [error instanceof GraphQLError ? error : new GraphQLError('Syntax error')];
        }
        const errors = validate(schema as GraphQLSchema, document);
        if (errors.length > 0) return errors;
        let contextValue: unknown;
        try {
          contextValue = await contextFactory();
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const args: ExecutionArgs = {
          schema: schema as GraphQLSchema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue,
          rootValue: { execute, subscribe, target: { socket: ctx.extra.socket, id } } satisfies RootValue,
        };
        return args;
      },
    },
    wsServer,
    keepAliveMs,
  );

  // Registered after graphql-ws' own handler, before any message is sent on the socket.
  if (batchWrites) wsServer.on('connection', corkPerTick);

  let disposing: Promise<void> | null = null;
  const dispose = () =>
    (disposing ??= (async () => {
      // graphql-ws closes every client with 1001 'Going away', then closes the ws server.
      await disposable.dispose();
      shared.close();
    })());

  return {
    dispose,
    stats: () => ({ sockets: wsServer.clients.size, ...shared.stats() }),
    [Symbol.asyncDispose]: dispose,
  };
}

/**
 * Corks the socket at its first send of an event-loop turn and uncorks it once the turn's
 * microtasks (where a fan-out's sends happen) are done.
 */
function corkPerTick(ws: WebSocket): void {
  const raw = (ws as unknown as { _socket?: Socket })._socket;
  if (!raw || typeof raw.cork !== 'function') return;
  const send = ws.send.bind(ws) as (...args: unknown[]) => void;
  let corked = false;
  const uncork = () => {
    corked = false;
    if (!raw.destroyed) raw.uncork();
  };
  ws.send = ((...args: unknown[]) => {
    if (!corked && !raw.destroyed) {
      corked = true;
      raw.cork();
      setImmediate(uncork);
    }
    send(...args);
  }) as WebSocket['send'];
}

/**
 * The key under which a subscription may share its execution, or null. Shareable: a
 * `configChanged` without `sinceRevision` (a replay is per subscriber). The caller's visibility
 * (role, namespaces, secrets) is part of the key because `ConfigChange` output and authorization
 * depend on it; nothing else in the context changes the result.
 */
function shareKey(args: ExecutionArgs): string | null {
  const operation = getOperationAST(args.document, args.operationName);
  if (!operation || operation.operation !== 'subscription') return null;
  const variables = (args.variableValues ?? {}) as Record<string, unknown>;
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD || selection.name.value !== 'configChanged') return null;
    for (const argument of selection.arguments ?? []) {
      if (argument.name.value !== 'sinceRevision') continue;
      const value = argument.value;
      if (value.kind === Kind.NULL) continue;
      if (value.kind === Kind.VARIABLE && (variables[value.name.value] === undefined || variables[value.name.value] === null)) continue;
      return null;
    }
  }
  const context = args.contextValue as { principal?: Principal | null } | undefined;
  const principal = context?.principal ?? null;
  const visibility = principal ? [principal.role, principal.namespaces, principal.secrets] : null;
  const source = args.document.loc?.source.body;
  if (source === undefined) return null;
  return JSON.stringify([source, args.operationName ?? null, variables, visibility]);
}

interface Member {
  /** `json` is the result serialized once for every member. */
  push(result: ExecutionResult, json: () => string): void;
  end(): void;
}

/** Where a shared member writes its frames itself: its socket and subscription id. */
interface DirectTarget {
  socket: WebSocket;
  id: string;
}

const slowSubscriberError = () =>
  new GraphQLError('subscriber too slow: changes were not consumed in time; resume with sinceRevision', {
    extensions: { code: 'SERVICE_UNAVAILABLE' },
  });

interface Group {
  members: Set<Member>;
  /** Resolves to null once the shared stream runs, or to the non-stream result (an error). */
  ready: Promise<ExecutionResult | null>;
  source: ResultStream | null;
}

/** One execution per key, its results broadcast to every member in order. */
function createSharedExecutions(maxQueuedResults: number, maxBufferedBytes: number) {
  const groups = new Map<string, Group>();
  let members = 0;

  const leave = (key: string, group: Group, member: Member) => {
    if (!group.members.delete(member)) return;
    members--;
    if (group.members.size === 0) {
      if (groups.get(key) === group) groups.delete(key);
      void group.source?.return?.();
    }
  };

  const pumpGroup = async (key: string, group: Group, source: ResultStream) => {
    try {
      for await (const result of source) {
        let json: string | null = null;
        const serialize = () => (json ??= JSON.stringify(result));
        for (const member of group.members) member.push(result, serialize);
      }
    } catch (error) {
      const failure = error instanceof GraphQLError ? error : new GraphQLError('Internal server error', { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
      const result: ExecutionResult = { errors: [failure] };
      const json = JSON.stringify(result);
      for (const member of group.members) member.push(result, () => json);
    } finally {
      if (groups.get(key) === group) groups.delete(key);
      for (const member of [...group.members]) member.end();
    }
  };

  const join = (key: string, group: Group, direct: DirectTarget | null): { member: Member; stream: ResultStream } => {
    const queue: ExecutionResult[] = [];
    let waiting: ((result: IteratorResult<ExecutionResult>) => void) | null = null;
    let ended = false;
    // The frame graphql-ws would send, built around the shared serialization: per subscriber only
    // a string concatenation and a (corked) socket write.
    const framePrefix = direct ? `{"id":${JSON.stringify(direct.id)},"type":"next","payload":` : '';
    const member: Member = {
      push(result, json) {
        if (ended) return;
        if (direct) {
          if (direct.socket.readyState !== direct.socket.OPEN) {
            member.end();
            return;
          }
          if (direct.socket.bufferedAmount > maxBufferedBytes) {
            // This subscriber cannot keep up; the others must not wait for it.
            direct.socket.send(framePrefix + JSON.stringify({ errors: [slowSubscriberError()] }) + '}');
            member.end();
            return;
          }
          direct.socket.send(framePrefix + json() + '}');
          return;
        }
        if (waiting) {
          const resolve = waiting;
          waiting = null;
          resolve({ value: result, done: false });
          return;
        }
        queue.push(result);
        if (queue.length > maxQueuedResults) {
          // This subscriber cannot keep up; the others must not wait for it.
          queue.push({ errors: [slowSubscriberError()] });
          ended = true;
          leave(key, group, member);
        }
      },
      end() {
        if (ended) return;
        ended = true;
        leave(key, group, member);
        if (waiting) {
          const resolve = waiting;
          waiting = null;
          resolve({ value: undefined, done: true });
        }
      },
    };
    const stream: ResultStream = {
      next() {
        const value = queue.shift();
        if (value) return Promise.resolve({ value, done: false });
        if (ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          waiting = resolve;
        });
      },
      return() {
        queue.length = 0;
        member.end();
        return Promise.resolve({ value: undefined, done: true });
      },
      throw(error?: unknown) {
        queue.length = 0;
        member.end();
        return Promise.reject(error);
      },
      [Symbol.asyncIterator]() {
        return stream;
      },
    };
    group.members.add(member);
    members++;
    return { member, stream };
  };

  return {
    async subscribe(key: string, start: () => Promise<unknown> | unknown, direct: DirectTarget | null): Promise<ResultStream | ExecutionResult> {
      let group = groups.get(key);
      const creator = !group;
      if (!group) {
        const created: Group = { members: new Set(), ready: Promise.resolve(null), source: null };
        created.ready = (async () => {
          const result = await start();
          if (!isAsyncIterable(result)) {
            if (groups.get(key) === created) groups.delete(key);
            return result as ExecutionResult;
          }
          const source = result[Symbol.asyncIterator]() as ResultStream;
          created.source = source;
          void pumpGroup(key, created, source);
          return null;
        })().catch((error: unknown) => {
          if (groups.get(key) === created) groups.delete(key);
          throw error;
        });
        groups.set(key, created);
        group = created;
      }
      // Join before the stream starts so no result between "started" and "joined" is missed.
      const { member, stream } = join(key, group, direct);
      let failure: ExecutionResult | null;
      try {
        failure = await group.ready;
      } catch (error) {
        member.end();
        if (creator) throw error;
        return (await start()) as ResultStream | ExecutionResult;
      }
      if (failure) {
        member.end();
        // The creator's own answer; anyone who joined meanwhile gets an answer of its own.
        return creator ? failure : ((await start()) as ResultStream | ExecutionResult);
      }
      return stream;
    },
    stats() {
      return { sharedSubscriptions: members, sharedExecutions: groups.size };
    },
    close() {
      for (const group of groups.values()) void group.source?.return?.();
      groups.clear();
    },
  };
}
