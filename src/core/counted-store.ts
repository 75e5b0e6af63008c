import type { ConfigStore } from './types.js';

/**
 * The store with every call counted by method (each call is one statement or one transaction on
 * Postgres): an honest count of what the gateway asks of the database, for `/metrics`.
 *
 * @example
 * const store = countStoreCalls(createConfigStore(options), (method) => calls.inc({ method }));
 */
export function countStoreCalls(store: ConfigStore, onCall: (method: keyof ConfigStore) => void): ConfigStore {
  const counted = { ...store };
  for (const method of Object.keys(store) as Array<keyof ConfigStore>) {
    if (method === 'stats') continue; // pool statistics, no query
    const call = store[method] as (...args: unknown[]) => unknown;
    (counted as Record<string, unknown>)[method] = (...args: unknown[]) => {
      onCall(method);
      return call(...args);
    };
  }
  return counted;
}
