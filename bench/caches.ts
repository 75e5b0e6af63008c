/**
 * The two LRU/TTL caches, hand-written Map vs lru-cache, on the gateway's access pattern:
 * `npx tsx bench/caches.ts`. Prints ns per operation (hit, miss+insert with eviction) and the
 * end-to-end cost of `authenticate` on a cached token.
 */
import { LRUCache } from 'lru-cache';
import { createAuthenticator, mintToken } from '../src/auth/tokens.js';
import { assertValueMatches } from '../src/core/json-schema.js';

const N = 2_000_000;
const KEYS = 10_000;
const keys = Array.from({ length: KEYS * 2 }, (_, i) => `eyJhbGciOiJIUzI1NiJ9.${i.toString(36).padStart(200, 'x')}.sig`);

function time(label: string, run: () => void): void {
  for (let i = 0; i < 3; i++) run(); // warm-up
  const start = process.hrtime.bigint();
  run();
  const ns = Number(process.hrtime.bigint() - start) / N;
  console.log(`${label.padEnd(48)} ${ns.toFixed(1)} ns/op`);
}

// The old hand-written TTL map of src/auth/tokens.ts (FIFO eviction, expiry checked on read).
function handTtl() {
  const map = new Map<string, { value: number; until: number }>();
  return {
    set(key: string, value: number, ttl: number) {
      if (map.size >= KEYS) map.delete(map.keys().next().value as string);
      map.set(key, { value, until: Date.now() + ttl });
    },
    get(key: string) {
      const hit = map.get(key);
      if (!hit) return undefined;
      if (hit.until <= Date.now()) {
        map.delete(key);
        return undefined;
      }
      return hit.value;
    },
  };
}
// The old hand-written LRU of src/core/json-schema.ts (delete + set on hit).
function handLru() {
  const map = new Map<string, number>();
  return {
    set(key: string, value: number) {
      map.set(key, value);
      if (map.size > KEYS) map.delete(map.keys().next().value as string);
    },
    get(key: string) {
      const hit = map.get(key);
      if (hit === undefined) return undefined;
      map.delete(key);
      map.set(key, hit);
      return hit;
    },
  };
}

const ttlHand = handTtl();
const ttlLib = new LRUCache<string, number>({ max: KEYS, ttl: 60_000 });
const lruHand = handLru();
const lruLib = new LRUCache<string, number>({ max: KEYS });
for (let i = 0; i < KEYS; i++) {
  ttlHand.set(keys[i]!, i, 60_000);
  ttlLib.set(keys[i]!, i, { ttl: 60_000 });
  lruHand.set(keys[i]!, i);
  lruLib.set(keys[i]!, i);
}
let sink = 0;
time('token cache hit, hand-written Map', () => { for (let i = 0; i < N; i++) sink += ttlHand.get(keys[i % KEYS]!) ?? 0; });
time('token cache hit, lru-cache', () => { for (let i = 0; i < N; i++) sink += ttlLib.get(keys[i % KEYS]!) ?? 0; });
time('token cache insert+evict, hand-written Map', () => { for (let i = 0; i < N; i++) ttlHand.set(keys[i % (KEYS * 2)]!, i, 60_000); });
time('token cache insert+evict, lru-cache', () => { for (let i = 0; i < N; i++) ttlLib.set(keys[i % (KEYS * 2)]!, i, { ttl: 60_000 }); });
time('schema cache hit, hand-written Map', () => { for (let i = 0; i < N; i++) sink += lruHand.get(keys[i % KEYS]!) ?? 0; });
time('schema cache hit, lru-cache', () => { for (let i = 0; i < N; i++) sink += lruLib.get(keys[i % KEYS]!) ?? 0; });

// End to end: authenticate with a cached token (what every request of a long-lived service does).
const secret = 'x'.repeat(40);
const auth = createAuthenticator({ jwtSecret: secret });
const token = await mintToken({ secret, sub: 'svc', role: 'reader', namespaces: '*' });
const header = `Bearer ${token}`;
await auth.authenticate(header);
const M = 200_000;
let start = process.hrtime.bigint();
for (let i = 0; i < M; i++) await auth.authenticate(header);
console.log(`${'authenticate, cached token'.padEnd(48)} ${(Number(process.hrtime.bigint() - start) / M).toFixed(0)} ns/op`);
const uncached = createAuthenticator({ jwtSecret: secret, verifiedCacheSize: 0 });
start = process.hrtime.bigint();
for (let i = 0; i < 20_000; i++) await uncached.authenticate(header);
console.log(`${'authenticate, cache off (HMAC every time)'.padEnd(48)} ${(Number(process.hrtime.bigint() - start) / 20_000).toFixed(0)} ns/op`);
// Schema check with a cached validator.
const schema = { type: 'object', properties: { threshold: { type: 'number', maximum: 1 } } };
start = process.hrtime.bigint();
for (let i = 0; i < M; i++) assertValueMatches(schema, { threshold: 0.5 }, 'k');
console.log(`${'assertValueMatches, cached validator'.padEnd(48)} ${(Number(process.hrtime.bigint() - start) / M).toFixed(0)} ns/op`);
if (sink === -1) console.log(sink);
