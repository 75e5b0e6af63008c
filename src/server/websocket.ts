import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import {
  GraphQLError,
  Kind,
  getOperationAST,
  type DocumentNode,
  type ExecutionArgs,
  type ValueNode,
  type ExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from 'graphql';
import { CloseCode, type Context } from 'graphql-ws';
import { useServer, type Extra } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { TOKEN_EXPIRED_MESSAGE, isExpired, onExpiry, tokenExpiredError } from '../auth/lifetime.js';
import type { ChangeFeed, DeliveredChange, Principal, WatchOptions } from '../core/types.js';
import { isGatewayError } from '../errors.js';
import { toGraphQLError } from './errors.js';
import { isAsyncIterable as isStream, onStreamEnd, type TransportContext } from './transport.js';
import { subjectOf, type SubscriptionLimiter, type SubscriptionSlot } from './use-subscription-limits.js';
import { settleOperation } from './use-tracing.js';
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
   * Subscriptions with the same document, variables (`sinceRevision` aside) and caller visibility
   * share one execution: each change is executed once and the result is sent to all of them. One
   * with `sinceRevision` joins only when it needs no replay (see `createSharedExecutions`).
   * @default true
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
type ResultStream = AsyncIterableIterator<ExecutionResult>;


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
  maxMessageBytes = 4 * 1_048_576, // 4 MiB
  subscriptionLimiter,
}: WebSocketOptions): WebSocketEndpoint {
  // ws' own default (100 MiB) would buffer a whole hostile frame before anyone authenticated.
  const wsServer = new WebSocketServer({ server, path, maxPayload: maxMessageBytes });
  const shared = createSharedExecutions(maxQueuedResults, maxBufferedBytes);

  /** Runs a subscription: sharing an execution with others under the same key where it may, else on its own. */
  const subscribeOnSocket = (args: ExecutionArgs) => {
    const root = args.rootValue as RootValue;
    const share = shareExecution ? shareKey(args) : null;
    if (share === null) return root.subscribe(args);
    const feed = (args.contextValue as { feed?: ChangeFeed } | undefined)?.feed;
    // Without the feed a resume cannot be checked (and a group cannot tell where it stands).
    if (share.resume && !feed) return root.subscribe(args);
    const resume = share.resume && feed ? { ...share.resume, feed } : null;
    const start = (tracker: Tracker | null) => {
      if (tracker) {
        if (feed) (args.contextValue as { feed: ChangeFeed }).feed = trackingFeed(feed, tracker);
        // The group's stream outlives its creator: its end is not bound to the creator's token.
        (args.contextValue as TransportContext).sharedExecution = true;
      }
      return root.subscribe(args);
    };
    return shared.subscribe(share.key, resume, start, directWrites ? root.target : null);
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
      socket.once('close', () => {
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

  const disposable = useServer<Record<string, unknown> | undefined, { principal?: Principal | null }>(
    {
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
            closeAtExpiry(ctx.extra.socket, outcome);
          }
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
          ctx.extra.socket.close(CloseCode.Unauthorized, TOKEN_EXPIRED_MESSAGE);
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

const hasHttpExtension = (error: { extensions?: Record<string, unknown> }) => error.extensions?.http !== undefined;

/** The error as JSON for a WebSocket client: yoga's HTTP-only `http` extension left out. */
function withoutHttpExtension(error: GraphQLError): GraphQLFormattedError {
  const json = error.toJSON();
  if (!json.extensions || !('http' in json.extensions)) return json;
  const { http: _http, ...extensions } = json.extensions;
  return { ...json, extensions };
}

/** Closes `socket` with 4401 when `principal`'s token expires; the timer goes with the socket. */
function closeAtExpiry(socket: WebSocket, principal: Principal | null): void {
  if (socket.readyState !== socket.OPEN) return;
  const cancel = onExpiry(principal, () => socket.close(CloseCode.Unauthorized, TOKEN_EXPIRED_MESSAGE));
  socket.once('close', cancel);
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

/** A subscription's `sinceRevision` and the namespace it applies to. */
interface ResumePoint {
  namespace: string;
  revision: number;
}

/**
 * The key under which a subscription may share its execution, or null. Shareable: a
 * `configChanged` whose `sinceRevision` (if any) is a variable; the variable is left out of the
 * key so subscribers resuming from any revision meet in one group, and is returned as `resume`
 * for the join check. The caller's visibility (role, namespaces, secrets) is part of the key
 * because `ConfigChange` output and authorization depend on it; nothing else in the context
 * changes the result.
 */
function shareKey(args: ExecutionArgs): { key: string; resume: ResumePoint | null } | null {
  const operation = getOperationAST(args.document, args.operationName);
  if (!operation || operation.operation !== 'subscription') return null;
  const variables = (args.variableValues ?? {}) as Record<string, unknown>;
  const valueOf = (node: ValueNode): unknown =>
    node.kind === Kind.VARIABLE ? variables[node.name.value] : node.kind === Kind.NULL ? null : node.kind === Kind.STRING ? node.value : undefined;
  let keyed = variables;
  let resume: ResumePoint | null = null;
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD || selection.name.value !== 'configChanged') return null;
    const since = selection.arguments?.find((argument) => argument.name.value === 'sinceRevision')?.value;
    if (!since || since.kind === Kind.NULL) continue;
    // A literal revision is in the document itself: such subscribers cannot meet in one key.
    if (since.kind !== Kind.VARIABLE) return null;
    const name = since.name.value;
    const revision = variables[name];
    if (revision === undefined || revision === null) {
      // A default would apply the same replay to every member: not a live subscription.
      if (operation.variableDefinitions?.some((definition) => definition.variable.name.value === name && definition.defaultValue)) return null;
      continue;
    }
    // Anything the resolver would refuse takes the private path and gets its error there.
    if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 0) return null;
    const namespaceArgument = selection.arguments?.find((argument) => argument.name.value === 'namespace')?.value;
    const namespace = namespaceArgument ? valueOf(namespaceArgument) : undefined;
    if (typeof namespace !== 'string') return null;
    resume = { namespace, revision };
    keyed = { ...variables };
    delete keyed[name];
  }
  const context = args.contextValue as { principal?: Principal | null } | undefined;
  const principal = context?.principal ?? null;
  const visibility = principal ? [principal.role, principal.namespaces, principal.secrets] : null;
  const source = args.document.loc?.source.body;
  if (source === undefined) return null;
  return { key: JSON.stringify([source, args.operationName ?? null, keyed, visibility]), resume };
}

/**
 * What a group learns from the feed watch behind its execution: the revision after which its
 * stream is complete, and the revision of each change on its way to becoming a result.
 */
interface Tracker {
  /** Every matching change after this revision will be a result of the group; null until known. */
  floor: number | null;
  /** Revisions of changes taken from the watch whose results have not been broadcast yet, in order. */
  revisions: number[];
}

/**
 * The feed, as the group's execution sees it: its watch reports to `tracker`. The resolver's
 * stream maps each change to exactly one result, pulled one at a time, so the revisions queued
 * here line up with the results the group broadcasts.
 */
function trackingFeed(feed: ChangeFeed, tracker: Tracker): ChangeFeed {
  return {
    async watch(namespace: string, options: WatchOptions) {
      const source = await feed.watch(namespace, options);
      // A resumed watch yields everything after its revision; a live one everything after the
      // feed's position when it was created, which is at most the position now.
      tracker.floor = options.sinceRevision ?? feed.position(namespace);
      const iterator: AsyncIterableIterator<DeliveredChange> = {
        next: () =>
          source.next().then((result) => {
            if (!result.done) tracker.revisions.push(result.value.revision);
            return result;
          }),
        return: () => source.return?.() ?? Promise.resolve({ value: undefined, done: true }),
        throw: (error?: unknown) => source.throw?.(error) ?? Promise.reject(error),
        [Symbol.asyncIterator]: () => iterator,
      };
      return iterator;
    },
    committed: (result) => feed.committed(result),
    position: (namespace) => feed.position(namespace),
    follow: (namespace) => feed.follow(namespace),
    stats: () => feed.stats(),
    close: () => feed.close(),
  };
}

interface Member {
  /** Results of changes at or below this revision are not for this member (it had them already). */
  since: number;
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

interface Group extends Tracker {
  members: Set<Member>;
  /** Resolves to null once the shared stream runs, or to the non-stream result (an error). */
  ready: Promise<ExecutionResult | null>;
  source: ResultStream | null;
  /** Highest revision of a result broadcast so far. */
  broadcast: number;
}

/** A subscription's `sinceRevision`, with the feed that knows where its namespace stands. */
interface Resume extends ResumePoint {
  feed: ChangeFeed;
}

/**
 * One execution per key, its results broadcast to every member in order.
 *
 * A subscriber with `sinceRevision: R` joins only when nothing needs replaying: R is the
 * revision the feed has delivered for the namespace, checked in the same turn as the join, so no
 * change falls between. The group's stream holds every change after its floor, and it has
 * broadcast nothing above R, so it still carries every change after R; changes up to R that are
 * still on their way through the execution (the feed delivered them, the group has not broadcast
 * them yet) are skipped for that member by its `since`. Everything else (R behind: a replay; R
 * ahead: not delivered here yet, or REVISION_AHEAD; the namespace not followed here) keeps the
 * private path, which replays or raises as a lone subscription does.
 */
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
        // An error that ended the stream comes without a change: every member gets it.
        const revision = group.revisions.shift();
        if (revision !== undefined && revision > group.broadcast) group.broadcast = revision;
        let json: string | null = null;
        const serialize = () => (json ??= JSON.stringify(result));
        for (const member of group.members) if (revision === undefined || revision > member.since) member.push(result, serialize);
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

  const join = (key: string, group: Group, direct: DirectTarget | null, since: number): { member: Member; stream: ResultStream } => {
    const queue: ExecutionResult[] = [];
    let waiting: ((result: IteratorResult<ExecutionResult>) => void) | null = null;
    let ended = false;
    // The frame graphql-ws would send, built around the shared serialization: per subscriber only
    // a string concatenation and a (corked) socket write.
    const framePrefix = direct ? `{"id":${JSON.stringify(direct.id)},"type":"next","payload":` : '';
    const member: Member = {
      since,
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

  /** Whether a subscriber resuming from `resume` can join `group` now and miss nothing. */
  const canResume = (group: Group, resume: Resume): boolean =>
    group.source !== null &&
    group.floor !== null &&
    resume.feed.position(resume.namespace) === resume.revision &&
    resume.revision >= group.floor &&
    resume.revision >= group.broadcast;

  return {
    /**
     * Joins (or starts) the execution under `key`. `start(tracker)` runs the subscription; with a
     * tracker it runs as the group's execution. Without sharing it returns `start(null)`.
     */
    async subscribe(
      key: string,
      resume: Resume | null,
      start: (tracker: Tracker | null) => Promise<unknown> | unknown,
      direct: DirectTarget | null,
    ): Promise<ResultStream | ExecutionResult> {
      let group = groups.get(key);
      if (resume) {
        if (!group && resume.feed.position(resume.namespace) === null) {
          // A namespace not followed here yet (every SDK reconnecting after a restart): follow it
          // first, so the burst meets in one group instead of each going private.
          await resume.feed.follow(resume.namespace);
          group = groups.get(key);
        }
        if (group && !group.source) {
          // Where a group stands is known once it runs; a failed start leaves the private path.
          await group.ready.catch(() => null);
          group = groups.get(key);
        }
        if (group) {
          if (!canResume(group, resume)) return (await start(null)) as ResultStream | ExecutionResult;
          // Synchronously after the check: no result can be broadcast in between.
          return join(key, group, direct, resume.revision).stream;
        }
        // No group: this subscriber starts one from its own revision, if that needs no replay.
        if (resume.feed.position(resume.namespace) !== resume.revision) return (await start(null)) as ResultStream | ExecutionResult;
      }
      const creator = !group;
      if (!group) {
        const created: Group = { members: new Set(), ready: Promise.resolve(null), source: null, floor: null, revisions: [], broadcast: -1 };
        created.ready = (async () => {
          const result = await start(created);
          if (!isStream<ExecutionResult>(result)) {
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
      const { member, stream } = join(key, group, direct, resume?.revision ?? -1);
      let failure: ExecutionResult | null;
      try {
        failure = await group.ready;
      } catch (error) {
        member.end();
        if (creator) throw error;
        return (await start(null)) as ResultStream | ExecutionResult;
      }
      if (failure) {
        member.end();
        // The creator's own answer; anyone who joined meanwhile gets an answer of its own.
        return creator ? failure : ((await start(null)) as ResultStream | ExecutionResult);
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
