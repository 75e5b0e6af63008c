/**
 * hotconf service SDK (`@hotconf/client`, also `hotconf/client`): an in-memory, hot-reloaded
 * view of one namespace, kept current over graphql-ws. Imports nothing from the gateway except
 * the shared flag evaluation in `src/shared/flags.ts`.
 */
export {
  createConfigClient,
  type ClientState,
  type ConfigChangeEvent,
  type ConfigClient,
  type ConfigClientEvents,
  type ConfigClientOptions,
  type EntrySource,
  type ResolvedEntry,
  type TokenProvider,
} from './config-client.js';
export { ConfigClientError } from './errors.js';
export { DEFAULT_ENV_PREFIX, OVERRIDES_VARIABLE, envNameForKey, keyForEnvName, parseEnvValue, readEnvOverrides } from './env-overrides.js';
export { readFallbackFile, writeFallbackFile, type FallbackEntry, type FallbackSnapshot } from './fallback-file.js';
export {
  evaluateFlag,
  flagBucket,
  isFlagLike,
  isFlagValue,
  validateFlagValue,
  type FlagEvaluationResult,
  type FlagReason,
  type FlagRule,
  type FlagValue,
} from '../shared/flags.js';
