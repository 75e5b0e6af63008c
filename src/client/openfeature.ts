/**
 * An OpenFeature server provider over the SDK (`@hotconf/client/openfeature`, also
 * `hotconf/client/openfeature`): flags are evaluated locally from the state the gateway pushes to
 * a config client, with exactly the answers of the gateway's `evaluateFlag` and OFREP endpoint
 * (one shared mapping, `resolveOpenFeature` in `src/shared/flags.ts`).
 *
 * `@openfeature/server-sdk` is an optional peer dependency: only services that import this entry
 * point need it installed.
 */
import {
  ErrorCode,
  FlagNotFoundError,
  GeneralError,
  OpenFeatureEventEmitter,
  ProviderEvents,
  ProviderFatalError,
  ProviderNotReadyError,
  TargetingKeyMissingError,
  TypeMismatchError,
  type EvaluationContext,
  type JsonValue,
  type Provider,
  type ResolutionDetails,
} from '@openfeature/server-sdk';
import { resolveOpenFeature, type OpenFeatureFailure, type OpenFeatureType } from '../shared/flags.js';
import { createConfigClient, type ConfigChangeEvent, type ConfigClient, type ConfigClientOptions } from './config-client.js';
import type { ConfigClientError } from './errors.js';

/**
 * Options of {@link createOpenFeatureProvider}: a config client the service already runs, or the
 * options to create one.
 */
export type OpenFeatureProviderOptions =
  | {
      /**
       * A client the service created: the provider reads it and never closes it (whoever creates
       * a client closes it), so the service can keep using `get()` beside OpenFeature.
       */
      client: ConfigClient;
    }
  | ConfigClientOptions;

/** The provider's status as the OpenFeature SDK tracks it from the provider's events. */
type OpenFeatureProviderStatus = 'NOT_READY' | 'READY' | 'STALE' | 'ERROR' | 'FATAL';

/** An OpenFeature server provider that evaluates hotconf flags from a config client's pushed state. */
export interface HotconfOpenFeatureProvider extends Provider {
  readonly runsOn: 'server';
  readonly events: OpenFeatureEventEmitter;
  /** Waits for the client's first snapshot (`ready()`); rejects as `ready()` does. */
  initialize(): Promise<void>;
  /** Stops listening; closes the client when the provider created it. */
  onClose(): Promise<void>;
  /**
   * The config client the provider reads: the one passed in, or the one it created in
   * `initialize()` (null before and after). For health endpoints: `state`, `revision`, `lastError`.
   */
  readonly client: ConfigClient | null;
}

/** Later than the SDK's own handling of `initialize()`'s result, and never holding the process open. */
function afterInitialization(fn: () => void): void {
  setTimeout(fn, 0).unref?.();
}

function toOpenFeatureError(failure: OpenFeatureFailure): Error {
  switch (failure.errorCode) {
    case 'FLAG_NOT_FOUND':
      return new FlagNotFoundError(failure.errorDetails);
    case 'TARGETING_KEY_MISSING':
      return new TargetingKeyMissingError(failure.errorDetails);
    case 'TYPE_MISMATCH':
      return new TypeMismatchError(failure.errorDetails);
    case 'GENERAL':
      return new GeneralError(failure.errorDetails);
  }
}

/**
 * Creates an OpenFeature server provider that evaluates hotconf flags locally, from the state the
 * gateway pushes to a config client:
 * - answers are exactly `evaluateFlag`'s (same bucketing, same rules), with the reasons of the
 *   OFREP endpoint (`DISABLED`, `TARGETING_MATCH`, `STATIC`, `SPLIT`); plain config values are
 *   typed flags (`STATIC`); errors are `FLAG_NOT_FOUND`, `TARGETING_KEY_MISSING`, `TYPE_MISMATCH`;
 *   the targeting key is the `userId` of `evaluateFlag`;
 * - a change the client applies emits `PROVIDER_CONFIGURATION_CHANGED` with `flagsChanged` (every
 *   key of the revision) and the new `revision` in `metadata`;
 * - `initialize()` waits for the client's `ready()`; afterwards the status follows the client:
 *   `PROVIDER_STALE` while it reconnects (values keep being served from memory),
 *   `PROVIDER_READY` once it is connected again, `PROVIDER_ERROR` (`PROVIDER_FATAL`) when the
 *   client closed for good. Before any snapshot, evaluations answer `PROVIDER_NOT_READY`.
 *
 * The values are the client's resolved ones (environment override > gateway > fallback file >
 * defaults); `flagMetadata` carries `version`, `revision`, `source` and, for a flag asked with a
 * targeting key, the user's `bucket`. While set, the provider listens for changes, which keeps the
 * process alive as a `change` listener does: `OpenFeature.close()` releases it.
 * @example
 * await OpenFeature.setProviderAndWait(createOpenFeatureProvider({ url, namespace: 'demo-platform', token }));
 * await OpenFeature.getClient().getBooleanValue('flags.new-checkout', false, { targetingKey: user.id });
 */
export function createOpenFeatureProvider(options: OpenFeatureProviderOptions): HotconfOpenFeatureProvider {
  const given = 'client' in options ? options.client : null;
  const events = new OpenFeatureEventEmitter();
  let client: ConfigClient | null = given;
  let status: OpenFeatureProviderStatus = 'NOT_READY';
  /** True from `initialize()` until it settles: the SDK itself announces its outcome. */
  let initializing = false;
  let detach: Array<() => void> = [];
  /** Keys changed in the revision being applied: the client emits one `change` per key, synchronously. */
  let changed: { keys: Set<string>; revision: number } | null = null;

  function announce(next: OpenFeatureProviderStatus, cause: ConfigClientError | null): void {
    if (next === status) return;
    status = next;
    const message = cause?.message;
    if (next === 'READY') events.emit(ProviderEvents.Ready, {});
    else if (next === 'STALE') events.emit(ProviderEvents.Stale, message === undefined ? {} : { message });
    else if (next === 'ERROR') events.emit(ProviderEvents.Error, message === undefined ? {} : { message });
    // The SDK reads `errorCode: PROVIDER_FATAL` on an error event as the FATAL status.
    else if (next === 'FATAL') events.emit(ProviderEvents.Error, { message: message ?? 'the hotconf config client was closed', errorCode: ErrorCode.PROVIDER_FATAL });
  }

  /** What the client's state means for OpenFeature. */
  function statusOf(current: ConfigClient): OpenFeatureProviderStatus {
    if (current.state === 'closed') return 'FATAL';
    if (current.snapshotSource === null) return 'ERROR';
    // `connecting` comes only before the first connection: after a fresh list from the gateway
    // the client is current (the watch resumes from the listed revision), after the fallback
    // file it is not. `reconnecting`: a connection was lost and what is in memory may be behind.
    if (current.state === 'connected' || (current.state === 'connecting' && current.snapshotSource === 'gateway')) return 'READY';
    return 'STALE';
  }

  function follow(current: ConfigClient): void {
    if (initializing || client !== current || status === 'NOT_READY') return;
    announce(statusOf(current), current.lastError);
  }

  function onChange(event: ConfigChangeEvent): void {
    if (changed) {
      changed.keys.add(event.key);
      changed.revision = Math.max(changed.revision, event.revision);
      return;
    }
    changed = { keys: new Set([event.key]), revision: event.revision };
    // Every key of one revision (or of one relist) arrives in the same tick: announce them together.
    queueMicrotask(() => {
      const batch = changed;
      changed = null;
      if (!batch || status === 'NOT_READY') return;
      events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: [...batch.keys], metadata: { revision: batch.revision } });
    });
  }

  async function initialize(): Promise<void> {
    const current = (client = given ?? createConfigClient(options as ConfigClientOptions));
    initializing = true;
    detach = [
      current.on('change', onChange),
      current.on('state', () => follow(current)),
    ];
    try {
      await current.ready();
    } catch (error) {
      const closedForGood = current.state === 'closed';
      status = closedForGood ? 'FATAL' : 'ERROR';
      const message = `hotconf: ${error instanceof Error ? error.message : String(error)}`;
      // ERROR, not FATAL, while the client keeps trying: PROVIDER_READY follows when it connects.
      throw closedForGood ? new ProviderFatalError(message, { cause: error }) : new GeneralError(message, { cause: error });
    } finally {
      initializing = false;
      afterInitialization(() => follow(current));
    }
    status = 'READY';
  }

  async function onClose(): Promise<void> {
    for (const stop of detach) stop();
    detach = [];
    changed = null;
    status = 'NOT_READY';
    const current = client;
    client = given;
    if (current && current !== given) await current.close();
  }

  function resolve<T>(type: OpenFeatureType, flagKey: string, context: EvaluationContext): ResolutionDetails<T> {
    const current = client;
    if (!current || status === 'NOT_READY') throw new ProviderNotReadyError('the hotconf provider is not initialized');
    const entry = current.entry(flagKey);
    if (!entry && current.snapshotSource === null) {
      throw new ProviderNotReadyError(`hotconf: no configuration from ${current.url} yet${current.lastError ? `: ${current.lastError.message}` : ''}`);
    }
    const targetingKey = typeof context.targetingKey === 'string' ? context.targetingKey : undefined;
    const result = resolveOpenFeature(flagKey, entry, targetingKey, type);
    if ('errorCode' in result) throw toOpenFeatureError(result);
    return {
      value: result.value as T,
      reason: result.reason,
      ...(result.variant === undefined ? {} : { variant: result.variant }),
      flagMetadata: { ...result.metadata, source: entry!.source },
    };
  }

  return {
    metadata: { name: 'hotconf' },
    runsOn: 'server',
    events,
    initialize,
    onClose,
    get client() {
      return client;
    },
    resolveBooleanEvaluation: async (flagKey, _defaultValue, context) => resolve<boolean>('boolean', flagKey, context),
    resolveStringEvaluation: async (flagKey, _defaultValue, context) => resolve<string>('string', flagKey, context),
    resolveNumberEvaluation: async (flagKey, _defaultValue, context) => resolve<number>('number', flagKey, context),
    resolveObjectEvaluation: async <T extends JsonValue>(flagKey: string, _defaultValue: T, context: EvaluationContext) => resolve<T>('object', flagKey, context),
  };
}
