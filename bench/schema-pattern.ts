/**
 * JSON Schema pattern cost: the linear-time engine (re2js, as the gateway runs it) against the
 * backtracking engine ajv uses by default. Prints timings; asserts nothing.
 *
 *   npx tsx bench/schema-pattern.ts
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { assertValueMatches } from '../src/core/json-schema.js';
import { format, summarize } from './lib/stats.js';

const ROUNDS = 2_000;
const kib = (unit: string) => unit.repeat(Math.ceil(1024 / unit.length)).slice(0, 1024);
const cases: Array<[string, string, string]> = [
  ['hostname-like', '^[a-z0-9-]{1,63}(\\.[a-z0-9-]{1,63})*$', kib('abc-def.')],
  ['base64', '^[A-Za-z0-9+/=]*$', kib('QUJD')],
  ['unanchored word', 'BEGIN [A-Z]+ KEY', kib('x') + 'BEGIN RSA KEY'],
  ['^(a+)+$ (matching)', '^(a+)+$', kib('a')],
];

const backtracking = new Ajv2020({ allErrors: true, strict: false });
const time = (fn: () => void) => {
  const samples: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const started = performance.now();
    fn();
    samples.push(performance.now() - started);
  }
  return summarize(samples);
};

console.log(`validation of a 1 KiB string against one pattern, ${ROUNDS} rounds each`);
for (const [name, pattern, input] of cases) {
  const schema = { type: 'string', pattern };
  const before = backtracking.compile(schema);
  const after = () => {
    try {
      assertValueMatches(schema, input, 'k');
    } catch {
      // a refusal costs the same to reach
    }
  };
  after(); // compile once, as the gateway caches it
  console.log(`  ${name.padEnd(20)} before (V8 RegExp)  ${format(time(() => before(input)))}`);
  console.log(`  ${''.padEnd(20)} after  (re2js)      ${format(time(after))}`);
}

console.log('\n^(a+)+$ against n × "a" + "!" (the reported attack)');
const evil = { type: 'string', pattern: '^(a+)+$' };
const evilBefore = backtracking.compile(evil);
for (const n of [20, 22, 24, 26, 1024]) {
  const input = `${'a'.repeat(n)}!`;
  const after = (() => {
    const started = performance.now();
    try {
      assertValueMatches(evil, input, 'k');
    } catch {
      // VALIDATION_FAILED
    }
    return performance.now() - started;
  })();
  let before = 'not run (2^n steps)';
  if (n <= 26) {
    const started = performance.now();
    evilBefore(input);
    before = `${(performance.now() - started).toFixed(1)} ms`;
  }
  console.log(`  n=${String(n).padEnd(5)} before ${before.padEnd(22)} after ${after.toFixed(2)} ms`);
}
