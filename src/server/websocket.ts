import type { Server } from 'node:http';
import {
  GraphQLError,
  getOperationAST,
  parse,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from 'graphql';
import { CloseCode, type Context } from 'graphql-ws';
import type { WebSocket } from 'ws';
import { TOKEN_EXPIRED_MESSAGE, isExpired, onExpiry } from '../auth/lifetime.js';
import { authorizationFromConnectionParams } from '../auth/tokens.js';
import type { Principal } from '../core/types.js';
import type { Shareable } from '../graphql/shareable.js';
import { isGatewayError } from '../errors.js';
import { toGraphQLError, tokenExpiredError } from './errors.js';
import { isAsyncIterable as isStream, onStreamEnd, type TransportContext } from './transport.js';
import { subjectOf, type SubscriptionLimiter, type SubscriptionSlot } from './use-subscription-limits.js';
import { settleOperation } from './use-tracing.js';
import { retainUsedParams } from './subscription-params.js';
import { createSharedExecutions, type DirectTarget } from './shared-executions.js';
import { attachGraphqlWs, type FrameWriter, type SocketExtra } from './ws-adapter.js';
import type { GatewayYoga } from './yoga.js';

/** The graphql-ws context of one socket, with the caller `onConnect` verified. */
export type SocketContext = Context<Record<string, unknown> | undefined, SocketExtra & { principal?: Principal | null }>;

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
   * Says whether a subscription may share one execution with others, and under which key (the
   * GraphQL layer's `shareableSubscription`): subscriptions under one key share one execution,
   * each result serialized once and sent to all of them. One that resumes joins only when it
   * needs no replay (see `createSharedExecutions`). Without it nothing is shared.
   */
  shareable?: (args: ExecutionArgs) => Shareable | null;
  /** Results one subscriber of a shared execution may have unsent before it is ended. @default 1_000 */
  maxQueuedResults?: number;
  /** Interval of WebSocket pings that detect dead peers. @default 12_000 (12 s) */
  keepAliveMs?: number;
  /**
   * Members of a shared execution write their `next` frames themselves (through the socket's
   * batching frame writer) from the result serialized once, instead of each going through
   * graphql-ws' per-subscriber serialization. @default true
   */
  directWrites?: boolean;
  /** Bytes a socket may have unsent before its shared subscriptions are ended as too slow. @default 8 MiB */
  maxBufferedBytes?: number;
  /**
   * Largest WebSocket message accepted, from the first frame on (before `connection_init` is
   * authenticated): a bigger one closes the socket with 1009 (Message Too Big) as soon as its
   * frame header announces the size, before its payload is buffered. Set it like the HTTP body
   * limit (`HOTCONF_MAX_BODY_BYTES`).
   * @default 4_194_304 (4 MiB)
   */
  maxMessageBytes?: number;
  /**
   * Counts each subscription (each subscriber of a shared execution too) against the
   * per-connection and per-subject limits; one over a limit gets a `RATE_LIMITED` result and the
   * socket stays open. @default undefined (unlimited)
   */
  subscriptionLimiter?: SubscriptionLimiter;
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

/**
 * graphql-ws (protocol `graphql-transport-ws`) on the HTTP server's port and path, executing
 * through yoga's envelop so plugins, context and error masking are the same as over HTTP/SSE.
 * The socket itself (size cap, keepalive, batched frame writes, shutdown) is `ws-adapter.ts`;
 * shared executions are `shared-executions.ts`, keyed by the `shareable` hook.
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
  shareable,
  maxQueuedResults = 1_000,
  keepAliveMs = 12_000, // 12 s
  directWrites = true,
  maxBufferedBytes = 8 * 1_048_576, // 8 MiB
  maxMessageBytes = 4 * 1_048_576, // 4 MiB
  subscriptionLimiter,
}: WebSocketOptions): WebSocketEndpoint {
  const shared = createSharedExecutions(maxQueuedResults, maxBufferedBytes);
  const queryTexts = createInterner(1_048_576); // 1 MiB of distinct documents

  /** Runs a subscription: sharing an execution with others under the same key where it may, else on its own. */
  const subscribeOnSocket = (args: ExecutionArgs) => {
    const root = args.rootValue as RootValue;
    const share = shareable?.(args) ?? null;
    if (share === null) return root.subscribe(args);
    const start = (inGroup: boolean) => {
      // The group's stream outlives its creator: its end is not bound to the creator's token.
      if (inGroup) (args.contextValue as TransportContext).sharedExecution = true;
      return root.subscribe(args);
    };
    return shared.subscribe(share, start, directWrites ? root.target : null);
  };

  // The slots of each socket's subscriptions: each is given back when its stream ends, and all
  // of them when the socket closes (release is idempotent: whichever comes first counts).
  const socketSlots = new WeakMap<WebSocket, Set<SubscriptionSlot>>();
  const takeSlot = (args: ExecutionArgs, socket: WebSocket): (() => void) | GraphQLError | null => {
    if (!subscriptionLimiter) return null;
    let slot: SubscriptionSlot;
    try {
      slot = subscriptionLimiter.acquire(subjectOf(args.contextValue as Parameters<typeof subjectOf>[0]), socket);
    } catch (error) {
      if (isGatewayError(error)) return toGraphQLError(error);
      throw error;
    }
    let slots = socketSlots.get(socket);
    if (!slots) {
      const created = new Set<SubscriptionSlot>();
      socketSlots.set(socket, created);
      socket.on('close', () => {
        for (const held of created) held.release();
        created.clear();
      });
      slots = created;
    }
    const held = slots;
    held.add(slot);
    return () => {
      slot.release();
      held.delete(slot);
    };
  };

  const adapter = attachGraphqlWs<Record<string, unknown> | undefined, { principal?: Principal | null }>({
    server,
    path,
    maxMessageBytes,
    keepAliveMs,
    compactMessage: compactSubscribeMessage,
    graphql: {
      execute: (args) => (args.rootValue as RootValue).execute(args),
      subscribe: (args) => {
        const release = takeSlot(args, (args.rootValue as RootValue).target.socket);
        // Refused before it starts; the socket stays open for the caller's other subscriptions.
        if (release instanceof GraphQLError) return settleOperation(args.contextValue, { errors: [release] });
        const outcome = settleOperation(args.contextValue, subscribeOnSocket(args));
        if (!release) return outcome;
        // Every end path gives the slot back once: the stream finishing or failing, being returned
        // (a complete message, the socket closing), or no stream at all.
        return Promise.resolve(outcome).then(
          (result) => {
            if (isStream<ExecutionResult>(result)) return onStreamEnd(result, release);
            release();
            return result;
          },
          (error: unknown) => {
            release();
            throw error;
          },
        );
      },
      onConnect: async (ctx) => {
        if (!onConnect) return true;
        try {
          const outcome = await onConnect(ctx);
          if (outcome === false) return false;
          // Never echo the principal in connection_ack: keep it for the socket's operations.
          if (outcome !== true && outcome !== undefined) {
            ctx.extra.principal = outcome;
            closeAtExpiry(ctx.extra.socket, ctx.extra.frames, outcome);
          }
          keepOnlyAuthorization(ctx.connectionParams);
          return true;
        } catch (error) {
          const code = isGatewayError(error) && error.code === 'UNAUTHENTICATED' ? 4401 : 4403;
          ctx.extra.socket.close(code, isGatewayError(error) ? error.message.slice(0, 120) : 'Forbidden');
          return false;
        }
      },
      // yoga's `http` extension (status and headers for an HTTP answer) means nothing here.
      onNext: (_ctx, _id, _payload, _args, result) => (result.errors?.some(hasHttpExtension) ? { ...result, errors: result.errors.map(withoutHttpExtension) } : undefined),
      onError: (_ctx, _id, _payload, errors) => (errors.some(hasHttpExtension) ? errors.map(withoutHttpExtension) : undefined),
      onSubscribe: async (ctx, id, params) => {
        // The connection's token is checked for every operation: one sent after its exp (just
        // before the close at exp reached the client, or by a client that ignores it) never runs.
        if (isExpired(ctx.extra.principal)) {
          ctx.extra.frames.close(CloseCode.Unauthorized, TOKEN_EXPIRED_MESSAGE);
          return [tokenExpiredError()];
        }
        const initial: TransportContext & Record<string, unknown> = {
          transport: 'graphql-ws',
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
        // graphql-ws would refuse it with no code; the code and message HTTP gives.
        if (!getOperationAST(document, params.operationName)) {
          return [new GraphQLError('Could not determine what operation to execute.', { extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } })];
        }
        // The operation's text stays referenced (graphql-ws' message, the context's params) as
        // long as the subscription lives: one copy for every subscriber sending the same document.
        (params as { query: string }).query = queryTexts(params.query);
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
          rootValue: { execute, subscribe, target: { socket: ctx.extra.socket, frames: ctx.extra.frames, id } } satisfies RootValue,
        };
        return args;
      },
    },
  });

  let disposing: Promise<void> | null = null;
  const dispose = () =>
    (disposing ??= (async () => {
      // graphql-ws closes every client with 1001 'Going away', then closes the ws server.
      await adapter.dispose();
      shared.close();
    })());

  return {
    dispose,
    stats: () => ({ sockets: adapter.sockets, ...shared.stats() }),
    [Symbol.asyncDispose]: dispose,
  };
}

/**
 * Empties an accepted connection's `connection_init` payload, in place, but for its token:
 * graphql-ws keeps it as `ctx.connectionParams` for as long as the connection is open, and
 * nothing after `onConnect` reads anything else, so whatever else the caller sent (up to
 * HOTCONF_MAX_BODY_BYTES) would stay in memory on every one of its connections.
 */
function keepOnlyAuthorization(params: Record<string, unknown> | undefined): void {
  if (typeof params !== 'object' || params === null) return;
  const authorization = authorizationFromConnectionParams(params);
  for (const name of Object.keys(params)) delete params[name];
  if (authorization !== null) params.authorization = authorization;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A large `subscribe` message of a subscription, rewritten with only what its operation uses
 * (`retainUsedParams`): graphql-ws keeps a subscription's message text until it ends, and a
 * connection may hold a hundred subscriptions, a subject a thousand, each message up to
 * HOTCONF_MAX_BODY_BYTES. Anything else (queries and mutations end at once, a message that does
 * not parse is refused at once) is returned as it came.
 */
export function compactSubscribeMessage(text: string): string {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return text;
  }
  if (!isRecord(message) || message.type !== 'subscribe' || !isRecord(message.payload) || typeof message.payload.query !== 'string') return text;
  const { payload } = message;
  let document: DocumentNode;
  try {
    // The operation limits apply when graphql-ws hands it over; this only needs its shape.
    document = parse(payload.query as string, { maxTokens: 10_000 });
  } catch {
    return text;
  }
  const operationName = typeof payload.operationName === 'string' ? payload.operationName : null;
  if (getOperationAST(document, operationName)?.operation !== 'subscription') return text;
  retainUsedParams(payload, document, operationName);
  return JSON.stringify({ id: message.id, type: message.type, payload });
}

/**
 * One shared copy of each string seen, up to `maxBytes` of distinct ones (after that a string is
 * returned as given): the thousands of SDK subscriptions that send the same document hold one copy.
 */
export function createInterner(maxBytes: number): (text: string) => string {
  const seen = new Map<string, string>();
  let bytes = 0;
  return (text) => {
    const known = seen.get(text);
    if (known !== undefined) return known;
    if (bytes + text.length <= maxBytes) {
      seen.set(text, text);
      bytes += text.length;
    }
    return text;
  };
}

const hasHttpExtension = (error: { extensions?: Record<string, unknown> }) => error.extensions?.http !== undefined;

/** The error as JSON for a WebSocket client: yoga's HTTP-only `http` extension left out. */
function withoutHttpExtension(error: GraphQLError): GraphQLFormattedError {
  const json = error.toJSON();
  if (!json.extensions || !('http' in json.extensions)) return json;
  const { http: _http, ...extensions } = json.extensions;
  return { ...json, extensions };
}

/** Closes `socket` with 4401 when `principal`'s token expires; the timer goes with the socket. */
function closeAtExpiry(socket: WebSocket, frames: FrameWriter, principal: Principal | null): void {
  if (socket.readyState !== socket.OPEN) return;
  const cancel = onExpiry(principal, () => frames.close(CloseCode.Unauthorized, TOKEN_EXPIRED_MESSAGE));
  // `on`, not `once`: ws emits 'close' once, and a `once` wrapper is two more objects per socket.
  socket.on('close', cancel);
}
