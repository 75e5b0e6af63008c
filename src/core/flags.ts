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
