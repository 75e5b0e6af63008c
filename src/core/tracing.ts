import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context as otelContext,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TimeInput,
  type Tracer,
} from '@opentelemetry/api';
import { isGatewayError } from '../errors.js';
import type { Change, TraceCarrier, WriteResult } from './types.js';

/**
 * Span names and attributes of a change's way through the fleet (docs/TRACING.md). Only the
 * OpenTelemetry API is used here: the SDK is wired in the composition root, and without it every
 * caller skips these helpers (they take a `Tracer`, which is absent when tracing is off).
 *
 * No span or attribute ever carries a value, a description, a schema, an actor or a reason: a
 * change is described by its namespace, revision and key count.
 */
export const SPAN = {
  /** The store's write transaction (one revision). */
  commit: 'hotconf.commit',
  /** Handing the change message to the bus. */
  publish: 'hotconf.publish',
  /** A gateway's change feed handing one revision to its watchers. */
  deliver: 'hotconf.deliver',
  /** A change feed reading missed revisions from history (its deliveries are its children). */
  repair: 'hotconf.repair',
} as const;

export const ATTR = {
  namespace: 'hotconf.namespace',
  revision: 'hotconf.revision',
  /** Keys changed in the revision (a batch is one revision). */
  keyCount: 'hotconf.key_count',
  /** Where a delivered revision came from: `local` (this gateway's write), `bus`, `history`. */
  deliverySource: 'hotconf.delivery.source',
  /** Subscriptions of this gateway the revision was offered to (before their key filters). */
  watchers: 'hotconf.delivery.watchers',
  /** The trace id recorded with a change read from history: the writer's trace. */
  originTraceId: 'hotconf.origin.trace_id',
  repairReason: 'hotconf.repair.reason',
  repairFrom: 'hotconf.repair.from_revision',
  repairTo: 'hotconf.repair.to_revision',
  errorType: 'error.type',
} as const;

export type DeliverySource = 'local' | 'bus' | 'history';

/**
 * What an error may say in a span: its code (a gateway code, SQLSTATE, socket code) or its type,
 * never its message (a driver's message can quote the value that was refused).
 */
export function errorType(error: unknown): string {
  if (isGatewayError(error)) return error.code;
  if (error !== null && typeof error === 'object') {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Za-z0-9_]{1,40}$/.test(code)) return code;
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string' && name !== '') return name.slice(0, 60);
  }
  return typeof error;
}

/** Marks `span` failed with `error`'s code only (see `errorType`). */
export function failSpan(span: Span, error: unknown): void {
  const type = errorType(error);
  span.setAttribute(ATTR.errorType, type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
}

/** Attributes of a committed revision. */
export function revisionAttributes(namespace: string, revision: number, keyCount: number): Attributes {
  return { [ATTR.namespace]: namespace, [ATTR.revision]: revision, [ATTR.keyCount]: keyCount };
}

/**
 * The store's write as the `hotconf.commit` span, a child of the active span (the request's).
 * The namespace is known up front; revision and key count once committed.
 */
export async function traceCommit(tracer: Tracer, namespace: string, write: () => Promise<WriteResult>): Promise<WriteResult> {
  return tracer.startActiveSpan(SPAN.commit, { kind: SpanKind.INTERNAL, attributes: { [ATTR.namespace]: namespace } }, async (span) => {
    try {
      const result = await write();
      span.setAttributes(revisionAttributes(namespace, result.revision, result.changes.length));
      return result;
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * Runs `publish` inside a `hotconf.publish` span (a producer, child of the active span) and hands
 * it the span's W3C trace context for the message.
 */
export function tracePublish(tracer: Tracer, result: WriteResult, publish: (carrier: TraceCarrier | undefined) => void): void {
  const span = tracer.startSpan(SPAN.publish, {
    kind: SpanKind.PRODUCER,
    attributes: revisionAttributes(result.namespace, result.revision, result.changes.length),
  });
  try {
    publish(toCarrier(trace.setSpan(otelContext.active(), span)));
  } catch (error) {
    failSpan(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** `fn`, to run later in the context active now (the request's span stays its parent). */
export function inActiveContext<T>(fn: () => T): () => T {
  return otelContext.bind(otelContext.active(), fn);
}

/** The W3C trace context of `ctx` as a message field; undefined when `ctx` has no valid span. */
export function toCarrier(ctx: Context): TraceCarrier | undefined {
  const carrier: TraceCarrier = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent ? carrier : undefined;
}

/** The context a message's trace field continues; the root context when it has none (or a bad one). */
export function fromCarrier(carrier: TraceCarrier | undefined): Context {
  if (!carrier || typeof carrier.traceparent !== 'string') return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/** Where a revision a change feed delivers came from, for its delivery span. */
export interface DeliveryOrigin {
  /** The parent: the writer's request (local), the publish (bus), or a repair. */
  parent: Context;
  source: DeliverySource;
  /** When the revision reached this gateway (the span starts there: waiting on a gap or a value read is part of it). */
  receivedAt?: TimeInput;
}

/**
 * The `hotconf.deliver` span of one revision handed to a feed's watchers. For a revision from the
 * bus it is a consumer span, child of the writer's publish span: one trace shows the change
 * reaching every gateway.
 */
export function startDelivery(tracer: Tracer, revision: number, changes: readonly Change[], watchers: number, origin: DeliveryOrigin): Span {
  const first = changes[0];
  const attributes: Attributes = {
    ...revisionAttributes(first?.namespace ?? '', revision, changes.length),
    [ATTR.deliverySource]: origin.source,
    [ATTR.watchers]: watchers,
  };
  // A revision read from history has no message and so no parent context; the trace id its
  // writer recorded (history.trace_id) lets a trace search find this delivery from the write.
  if (origin.source === 'history' && first?.traceId) attributes[ATTR.originTraceId] = first.traceId.slice(0, 64);
  return tracer.startSpan(
    SPAN.deliver,
    { kind: origin.source === 'bus' ? SpanKind.CONSUMER : SpanKind.INTERNAL, attributes, startTime: origin.receivedAt },
    origin.parent,
  );
}

/**
 * A `hotconf.repair` span: the root of its own trace (a repair answers a gap, a reconnect or the
 * periodic check, not a request).
 */
export function startRepair(tracer: Tracer, namespace: string, reason: string, fromRevision: number, startTime: TimeInput): Span {
  return tracer.startSpan(SPAN.repair, {
    root: true,
    kind: SpanKind.INTERNAL,
    startTime,
    attributes: { [ATTR.namespace]: namespace, [ATTR.repairReason]: reason, [ATTR.repairFrom]: fromRevision },
  });
}

/** The trace of one repair: its span is started at the first revision it delivers (an empty repair leaves none). */
export interface RepairTrace {
  /**
   * The origin of a revision read from history: its bus message's when that arrived (`held`
   * behind the gap), else the repair.
   */
  originOf(held: DeliveryOrigin | undefined): DeliveryOrigin;
  /** Ends the repair's span (if it delivered anything) at `toRevision`; `error` marks it failed. */
  end(toRevision: number, error?: unknown): void;
}

/** Starts tracing a repair of `namespace` from `fromRevision` (see `RepairTrace`). */
export function traceRepair(tracer: Tracer, namespace: string, reason: string, fromRevision: number): RepairTrace {
  const startedAt = performance.now();
  let span: Span | null = null;
  let parent: Context | null = null;
  return {
    originOf(held) {
      // A message that did arrive keeps the writer's trace, even when its revision is read from history.
      if (held) return held;
      span ??= startRepair(tracer, namespace, reason, fromRevision, startedAt);
      parent ??= trace.setSpan(ROOT_CONTEXT, span);
      return { parent, source: 'history' };
    },
    end(toRevision, error) {
      if (!span) return;
      span.setAttribute(ATTR.repairTo, toRevision);
      if (error !== undefined) failSpan(span, error);
      span.end();
    },
  };
}

/** Where a revision handed over by this gateway's own write comes from: the active (request) context. */
export function localOrigin(): DeliveryOrigin {
  return { parent: otelContext.active(), source: 'local', receivedAt: performance.now() };
}

/** Where a revision received from the bus comes from: the publish context its message carries. */
export function busOrigin(carrier: TraceCarrier | undefined): DeliveryOrigin {
  return { parent: fromCarrier(carrier), source: 'bus', receivedAt: performance.now() };
}
