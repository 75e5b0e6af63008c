/**
 * Environment overrides: the highest layer of the SDK's resolution. Pure functions, so the
 * mapping can be documented, tested and reimplemented.
 *
 * Mapping (variable name → key), for names that start with the prefix (default `HOTCONF__`):
 * strip the prefix, lower-case, then a single `_` becomes `.` and a double `__` becomes `_`.
 * `HOTCONF__AI_THRESHOLD` → `ai.threshold`; `HOTCONF__CACHE__TTL_MS` → `cache_ttl.ms`.
 * It is reversible for keys of lower-case letters and digits separated by single `.` or `_`
 * (see {@link envNameForKey}). Names with three or more underscores in a row, or a leading or
 * trailing underscore, are ignored. Keys the mapping cannot spell (`-`, `/`, `:`, upper case)
 * are overridden with a JSON object in `HOTCONF_OVERRIDES`: `{"flags.new-checkout": {...}}`;
 * a per-key variable wins over the same key in `HOTCONF_OVERRIDES`.
 *
 * Values are parsed as JSON when they parse (`0.9` → number, `true` → boolean, `{"a":1}` →
 * object, `"0.9"` → the string 0.9) and are otherwise taken as the raw string (`fast` → "fast").
 * An empty value, or JSON `null`, is no override.
 */

/** The default prefix of per-key override variables. */
export const DEFAULT_ENV_PREFIX = 'HOTCONF__';
/** The variable holding a JSON object of overrides, for keys the name mapping cannot spell. */
export const OVERRIDES_VARIABLE = 'HOTCONF_OVERRIDES';

/** The key a variable name overrides, or null when the name is not an override variable. */
export function keyForEnvName(name: string, prefix = DEFAULT_ENV_PREFIX): string | null {
  if (!name.startsWith(prefix)) return null;
  const rest = name.slice(prefix.length);
  if (!/^[A-Za-z0-9]+(?:_{1,2}[A-Za-z0-9]+)*$/.test(rest)) return null;
  return rest.toLowerCase().replace(/_{1,2}/g, (run) => (run === '_' ? '.' : '_'));
}

/** The variable name that overrides `key`, or null when the mapping cannot spell it. */
export function envNameForKey(key: string, prefix = DEFAULT_ENV_PREFIX): string | null {
  if (!/^[a-z0-9]+(?:[._][a-z0-9]+)*$/.test(key)) return null;
  return prefix + key.replace(/[._]/g, (c) => (c === '.' ? '_' : '__')).toUpperCase();
}

/** Parses an override value: JSON when it parses, else the raw string; undefined = no override. */
export function parseEnvValue(raw: string | undefined): unknown {
  if (raw === undefined || raw === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    return parsed === null ? undefined : parsed;
  } catch {
    return raw;
  }
}

/**
 * Every override found in `env`, keyed by config key. Only keys under `keyPrefix` (the
 * client's `prefix`) are kept, so a client never reports a key it does not watch.
 */
export function readEnvOverrides(
  env: Readonly<Record<string, string | undefined>>,
  { prefix = DEFAULT_ENV_PREFIX, keyPrefix = '' }: { prefix?: string; keyPrefix?: string } = {},
): Map<string, unknown> {
  const overrides = new Map<string, unknown>();
  const bulk = env[OVERRIDES_VARIABLE];
  if (bulk) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(bulk);
    } catch {
      throw new Error(`${OVERRIDES_VARIABLE} must be a JSON object of key → value`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error(`${OVERRIDES_VARIABLE} must be a JSON object of key → value`);
    }
    for (const [key, value] of Object.entries(parsed)) {
      if (value !== null && key.startsWith(keyPrefix)) overrides.set(key, value);
    }
  }
  for (const [name, raw] of Object.entries(env)) {
    const key = keyForEnvName(name, prefix);
    if (key === null || !key.startsWith(keyPrefix)) continue;
    const value = parseEnvValue(raw);
    if (value !== undefined) overrides.set(key, value);
  }
  return overrides;
}
