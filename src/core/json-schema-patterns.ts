/**
 * Patterns in JSON Schemas, with RE2 semantics (re2js: linear time, no lookaround or
 * backreferences): bounded pattern length, repetition counts and program size when a schema
 * compiles, and a bounded amount of matching work per validated value. Validation and ajv
 * compilation are synchronous, so one budget counter per process is exact.
 */
import { RE2JS } from 're2js';

/**
 * Largest RE2 program one pattern may compile to (RE2JS `programSize()`: `^[a-z]{1,255}$` is
 * 513, `\p{L}{1000}` 1002). Matching costs up to (program size × string length) steps.
 */
export const MAX_PATTERN_PROGRAM_SIZE = 2_000;
/**
 * Matching work one validation may do: the sum over every pattern test of (string length ×
 * program size). About 0.25 s in the worst case measured (a pattern whose automaton defeats
 * RE2's DFA cache); everyday patterns run far faster. `^[A-Za-z0-9+/=]*$` (size 6) still checks
 * a 700 KB string.
 */
export const MAX_PATTERN_WORK = 4_194_304;
/**
 * Longest pattern, in characters, in a schema or as a `format: "regex"` value. Compiling costs
 * 15-50 µs per program instruction, so patterns, their repetition counts (`{n,m}`: at most 1000
 * in total per pattern) and the program size of all patterns of one schema (at most
 * `MAX_SCHEMA_PATTERN_PROGRAM`) are bounded before and while they compile.
 */
export const MAX_PATTERN_LENGTH = 1_000;
/** Sum of the program sizes of every pattern one schema compiles (about 0.5 s of compiling at most). */
export const MAX_SCHEMA_PATTERN_PROGRAM = 20_000;
const MAX_REPEAT_TOTAL = 1_000;
const REPEAT_RE = /\{(\d+)(?:,(\d*))?\}/g;

/** A validation ran out of its matching budget. */
export class PatternBudgetError extends Error {
  constructor() {
    super('pattern matching budget exhausted');
    this.name = 'PatternBudgetError';
  }
}

/**
 * Matching work left for the validation running now. Validation is synchronous, so one counter
 * per process is exact; it is unlimited outside `assertValueMatches` (compile-time probes).
 */
let patternWorkLeft = Number.POSITIVE_INFINITY;
/** Program size the schema being compiled may still spend (ajv compiles synchronously, too). */
let compileBudgetLeft = Number.POSITIVE_INFINITY;

/** Compiles an ECMA-262 pattern for RE2, within the bounds above; throws a message for BAD_USER_INPUT. */
export function compileLinear(pattern: string): RE2JS {
  const shown = JSON.stringify(pattern.slice(0, 100));
  if (pattern.length > MAX_PATTERN_LENGTH) throw new Error(`pattern ${shown}… is ${pattern.length} characters long; the limit is ${MAX_PATTERN_LENGTH}`);
  let repeats = 0;
  for (const match of pattern.matchAll(REPEAT_RE)) repeats += Math.max(Number(match[1]), Number(match[2] || 0));
  if (repeats > MAX_REPEAT_TOTAL) throw new Error(`pattern ${shown} repeats more than ${MAX_REPEAT_TOTAL} times in total ({n,m} counts)`);
  let compiled: RE2JS;
  try {
    // JSON Schema patterns are ECMA-262 syntax: \u{…}, (?<name>…) and friends become RE2 syntax.
    compiled = RE2JS.compile(RE2JS.translateRegExp(pattern));
  } catch (error) {
    throw new Error(
      `pattern ${shown} is not supported by the linear-time engine (RE2 syntax: no lookaround, no backreferences): ${(error as Error).message}`,
    );
  }
  const size = compiled.programSize();
  if (size > MAX_PATTERN_PROGRAM_SIZE) throw new Error(`pattern ${shown} is too complex (program size ${size}, limit ${MAX_PATTERN_PROGRAM_SIZE})`);
  compileBudgetLeft -= size;
  if (compileBudgetLeft < 0) throw new Error(`the schema's patterns are too complex in total (program size over ${MAX_SCHEMA_PATTERN_PROGRAM})`);
  return compiled;
}

/** ajv's `code.regExp`: RE2 semantics, linear time, metered. */
export const linearRegExp = Object.assign(
  (pattern: string) => {
    const compiled = compileLinear(pattern);
    const size = compiled.programSize();
    return {
      test(input: string): boolean {
        patternWorkLeft -= input.length * size;
        if (patternWorkLeft < 0) throw new PatternBudgetError();
        return compiled.test(input);
      },
      // ajv keys its compiled patterns by this text: without it every pattern would share one.
      toString: () => `re2js:${pattern}`,
    };
  },
  // ajv names the engine by this in standalone code, which hotconf does not generate.
  { code: 're2js' },
);

/** Runs `compile` (one schema's ajv compilation) with the schema's pattern program budget. */
export function withCompileBudget<T>(compile: () => T): T {
  compileBudgetLeft = MAX_SCHEMA_PATTERN_PROGRAM;
  try {
    return compile();
  } finally {
    compileBudgetLeft = Number.POSITIVE_INFINITY;
  }
}

/** Runs `validate` (one value's validation) with the matching budget; throws `PatternBudgetError` past it. */
export function withMatchBudget<T>(validate: () => T): T {
  patternWorkLeft = MAX_PATTERN_WORK;
  try {
    return validate();
  } finally {
    patternWorkLeft = Number.POSITIVE_INFINITY;
  }
}
