/**
 * Feature flags: which entries are flags, how a flag value is validated, and the one
 * deterministic bucketing function shared by the gateway (`evaluateFlag`) and the SDK
 * (`client.isEnabled`). This module is imported by the client: it must stay pure JS with no
 * Node built-ins and no imports from the rest of `src` (type-only imports aside).
 *
 * ## Which entries are flags
 * An entry is a flag when its value is a JSON object that has an own `rolloutPercentage`
 * property (see {@link isFlagLike}). `enabled` alone is not enough: plenty of ordinary configs
 * carry an `enabled` field (`{ enabled: true, timeoutMs: 500 }`) and the kill switch must not
 * touch them. Every flag-like value must be a valid flag ({@link validateFlagValue}), so a typo
 * such as `rolloutPercentage: "50"` is refused on write instead of silently not being a flag.
 *
 * ## Bucketing algorithm (reimplement exactly this on other platforms)
 * 1. `input = flagKey + ":" + userId`, encoded as UTF-8 (lone surrogates become U+FFFD, as
 *    `TextEncoder` does).
 * 2. `h = MurmurHash3_x86_32(input, seed = 0)` as an unsigned 32-bit integer.
 * 3. `bucket = h mod 100` (0–99).
 * 4. A user is in the rollout when `bucket < rolloutPercentage`, so raising the percentage
 *    only ever adds users (monotone), and 0 = nobody, 100 = everybody.
 * Check an implementation against the golden vectors in `test/unit/flags.test.ts`.
 */

/** One targeting rule: users listed in `userIds` get `enabled` regardless of the rollout. */
export interface FlagRule {
  userIds: string[];
  enabled: boolean;
  description?: string;
}

/** The value of a flag entry. */
export interface FlagValue {
  enabled: boolean;
  /** Integer 0–100: share of users (by bucket) for whom the flag is on. */
  rolloutPercentage: number;
  description?: string;
  /** Evaluated in order before the rollout; the first rule listing the user wins. */
  rules?: FlagRule[];
}

/**
 * Why a flag evaluated the way it did:
 * - `DISABLED`: `enabled` is false (the kill switch wins over rules and rollout);
 * - `RULE`: a targeting rule listed the user;
 * - `FULL`: `rolloutPercentage` is 100;
 * - `ROLLOUT_IN` / `ROLLOUT_OUT`: the user's bucket is below / not below the percentage;
 * - `INVALID`: the value is not a valid flag (evaluates to off).
 */
export type FlagReason = 'DISABLED' | 'RULE' | 'FULL' | 'ROLLOUT_IN' | 'ROLLOUT_OUT' | 'INVALID';

export interface FlagEvaluationResult {
  enabled: boolean;
  /** The user's bucket for this flag, 0–99. */
  bucket: number;
  reason: FlagReason;
}

/** The property whose presence makes an object value a flag. */
export const FLAG_DISCRIMINATOR = 'rolloutPercentage';

const encoder = new TextEncoder();

/**
 * MurmurHash3 x86 32-bit of `bytes` with `seed`, as an unsigned integer.
 * @example murmur3(new TextEncoder().encode('hello')) === 0x248bfa47
 */
export function murmur3(bytes: Uint8Array, seed = 0): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const length = bytes.length;
  const blocks = length & ~3;
  let h = seed >>> 0;
  for (let i = 0; i < blocks; i += 4) {
    let k = (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) >>> 0;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail > 0) {
    let k = 0;
    if (tail === 3) k ^= bytes[blocks + 2]! << 16;
    if (tail >= 2) k ^= bytes[blocks + 1]! << 8;
    k ^= bytes[blocks]!;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The user's bucket (0–99) for a flag: `murmur3(utf8(flagKey + ":" + userId)) % 100`. */
export function flagBucket(flagKey: string, userId: string): number {
  return murmur3(encoder.encode(`${flagKey}:${userId}`)) % 100;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Whether a value is meant to be a flag: an object with an own `rolloutPercentage` property,
 * valid or not. The gateway validates every flag-like value on write and `disableAllFlags`
 * turns off every entry whose value is flag-like.
 */
export function isFlagLike(value: unknown): value is Record<string, unknown> {
  return isPlainObject(value) && Object.prototype.hasOwnProperty.call(value, FLAG_DISCRIMINATOR);
}

/**
 * Problems that make `value` an invalid flag (empty when valid). Messages name the field, e.g.
 * `rolloutPercentage must be an integer from 0 to 100`.
 */
export function validateFlagValue(value: unknown): string[] {
  if (!isPlainObject(value)) return ['a flag value must be an object'];
  const problems: string[] = [];
  if (typeof value.enabled !== 'boolean') problems.push('enabled must be a boolean');
  const rollout = value.rolloutPercentage;
  if (typeof rollout !== 'number' || !Number.isInteger(rollout) || rollout < 0 || rollout > 100) {
    problems.push('rolloutPercentage must be an integer from 0 to 100');
  }
  if (value.description !== undefined && typeof value.description !== 'string') {
    problems.push('description must be a string');
  }
  if (value.rules !== undefined) {
    if (!Array.isArray(value.rules)) {
      problems.push('rules must be an array');
    } else {
      value.rules.forEach((rule: unknown, index) => {
        if (!isPlainObject(rule)) {
          problems.push(`rules[${index}] must be an object`);
          return;
        }
        if (!Array.isArray(rule.userIds) || !rule.userIds.every((id) => typeof id === 'string')) {
          problems.push(`rules[${index}].userIds must be an array of strings`);
        }
        if (typeof rule.enabled !== 'boolean') problems.push(`rules[${index}].enabled must be a boolean`);
        if (rule.description !== undefined && typeof rule.description !== 'string') {
          problems.push(`rules[${index}].description must be a string`);
        }
      });
    }
  }
  return problems;
}

/** Whether `value` is a valid flag value. */
export function isFlagValue(value: unknown): value is FlagValue {
  return validateFlagValue(value).length === 0;
}

/**
 * Evaluates a flag for one user. Deterministic: the same key, value and user id give the same
 * answer in the gateway and in every SDK.
 * @example evaluateFlag('flags.new-checkout', { enabled: true, rolloutPercentage: 10 }, 'user-42')
 */
export function evaluateFlag(flagKey: string, value: unknown, userId: string): FlagEvaluationResult {
  const bucket = flagBucket(flagKey, userId);
  if (!isFlagValue(value)) return { enabled: false, bucket, reason: 'INVALID' };
  if (!value.enabled) return { enabled: false, bucket, reason: 'DISABLED' };
  const rule = value.rules?.find((candidate) => candidate.userIds.includes(userId));
  if (rule) return { enabled: rule.enabled, bucket, reason: 'RULE' };
  if (value.rolloutPercentage >= 100) return { enabled: true, bucket, reason: 'FULL' };
  return bucket < value.rolloutPercentage
    ? { enabled: true, bucket, reason: 'ROLLOUT_IN' }
    : { enabled: false, bucket, reason: 'ROLLOUT_OUT' };
}

// ---- OpenFeature --------------------------------------------------------------------------

/**
 * The OpenFeature resolution reasons hotconf answers with (the OFREP endpoint and the SDK's
 * provider alike): the kill switch is `DISABLED`, a targeting rule `TARGETING_MATCH`, a full
 * rollout and any plain config value `STATIC`, a partial rollout `SPLIT`.
 */
export type OpenFeatureReason = 'STATIC' | 'TARGETING_MATCH' | 'SPLIT' | 'DISABLED';

/** The OpenFeature error codes hotconf answers with; the caller then gets its default value. */
export type OpenFeatureErrorCode = 'FLAG_NOT_FOUND' | 'TARGETING_KEY_MISSING' | 'TYPE_MISMATCH' | 'GENERAL';

/** The OpenFeature flag types (`getBooleanValue`, `getStringValue`, `getNumberValue`, `getObjectValue`). */
export type OpenFeatureType = 'boolean' | 'string' | 'number' | 'object';

/** A successful OpenFeature resolution. */
export interface OpenFeatureSuccess {
  /** A flag's answer (boolean), or a plain config value as it is. */
  value: unknown;
  reason: OpenFeatureReason;
  /** `on` / `off` for flags; none for plain config values. */
  variant?: 'on' | 'off';
  /** The entry's `version` and `revision`, and for a flag asked with a targeting key the user's `bucket`. */
  metadata: Record<string, number>;
}

/** A failed OpenFeature resolution. */
export interface OpenFeatureFailure {
  errorCode: OpenFeatureErrorCode;
  errorDetails: string;
}

export type OpenFeatureResolution = OpenFeatureSuccess | OpenFeatureFailure;

/** What an OpenFeature resolution needs of an entry. */
export interface OpenFeatureEntry {
  value: unknown;
  version: number;
  revision: number;
}

const REASONS: Record<Exclude<FlagReason, 'INVALID'>, OpenFeatureReason> = {
  DISABLED: 'DISABLED',
  RULE: 'TARGETING_MATCH',
  FULL: 'STATIC',
  ROLLOUT_IN: 'SPLIT',
  ROLLOUT_OUT: 'SPLIT',
};

/** Whether `value` is of OpenFeature type `type` (arrays are JSON objects, as `typeof` says). */
export function isOpenFeatureType(value: unknown, type: OpenFeatureType): boolean {
  return type === 'object' ? typeof value === 'object' && value !== null : typeof value === type;
}

/**
 * How hotconf answers an OpenFeature evaluation of `key`: the one mapping behind the gateway's
 * OFREP endpoint and the SDK's OpenFeature provider, so both answer exactly what `evaluateFlag`
 * answers.
 * - no entry: `FLAG_NOT_FOUND`;
 * - a flag (`{ enabled, rolloutPercentage, rules? }`): a boolean, `evaluateFlag`'s answer for
 *   `targetingKey`, with variant `on`/`off`; `TARGETING_KEY_MISSING` when the answer depends on
 *   the user (enabled with rules or a partial rollout) and there is no targeting key; `GENERAL`
 *   for a flag-like value that is not a valid flag;
 * - any other value (`0.85`, `"large"`, an object): the value itself, `STATIC`;
 * - `expectedType` given and the value of another type: `TYPE_MISMATCH` (as OpenFeature SDKs
 *   check; the OFREP endpoint leaves that check to the remote provider).
 * @example resolveOpenFeature('flags.new-checkout', { value: { enabled: true, rolloutPercentage: 30 }, version: 3, revision: 17 }, 'user-42', 'boolean')
 */
export function resolveOpenFeature(
  key: string,
  entry: OpenFeatureEntry | null | undefined,
  targetingKey: string | undefined,
  expectedType?: OpenFeatureType,
): OpenFeatureResolution {
  if (!entry) return { errorCode: 'FLAG_NOT_FOUND', errorDetails: `flag ${key} does not exist` };
  const metadata: Record<string, number> = { version: entry.version, revision: entry.revision };
  let success: OpenFeatureSuccess;
  if (!isFlagLike(entry.value)) {
    success = { value: entry.value, reason: 'STATIC', metadata };
  } else {
    const flag = entry.value;
    if (!isFlagValue(flag)) return { errorCode: 'GENERAL', errorDetails: `${key} is not a valid flag` };
    // The answer depends on who asks only when some users are in and others out.
    const perUser = flag.enabled && ((flag.rules?.length ?? 0) > 0 || (flag.rolloutPercentage > 0 && flag.rolloutPercentage < 100));
    if (perUser && targetingKey === undefined) {
      return { errorCode: 'TARGETING_KEY_MISSING', errorDetails: `${key} is rolled out per user: send context.targetingKey` };
    }
    const result = evaluateFlag(key, flag, targetingKey ?? '');
    if (targetingKey !== undefined) metadata.bucket = result.bucket;
    // A valid flag never evaluates to INVALID.
    success = { value: result.enabled, variant: result.enabled ? 'on' : 'off', reason: REASONS[result.reason as Exclude<FlagReason, 'INVALID'>], metadata };
  }
  if (expectedType !== undefined && !isOpenFeatureType(success.value, expectedType)) {
    const actual = Array.isArray(success.value) ? 'array' : typeof success.value;
    return { errorCode: 'TYPE_MISMATCH', errorDetails: `${key} is of type ${actual}, not ${expectedType}` };
  }
  return success;
}
