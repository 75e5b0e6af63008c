/**
 * Single flight with a successor: concurrent requests for the same key share one call, and a
 * request never shares a call that started before it arrived (it joins the next one, started
 * when the running one ends). So a burst of N identical requests costs at most two calls, and
 * each caller still sees state at least as new as when it asked: what a resume replay needs
 * (its watcher buffers live changes from before its read) and what a consistent read needs.
 */
export interface Coalescer<K, V> {
  get(key: K): Promise<V>;
}

/**
 * @example
 * const pages = createCoalescer((key: string) => readPage(key), (key) => key);
 * await Promise.all([pages.get('a'), pages.get('a')]); // one readPage('a')
 */
export function createCoalescer<K, V>(run: (key: K) => Promise<V>, idOf: (key: K) => string): Coalescer<K, V> {
  interface Next {
    promise: Promise<V>;
    resolve: (value: V) => void;
    reject: (error: unknown) => void;
  }
  interface Slot {
    running: boolean;
    next: Next | null;
  }
  const slots = new Map<string, Slot>();

  const start = (id: string, slot: Slot, key: K): Promise<V> => {
    slot.running = true;
    let call: Promise<V>;
    try {
      call = run(key);
    } catch (error) {
      call = Promise.reject(error);
    }
    const settle = () => {
      slot.running = false;
      const waiting = slot.next;
      slot.next = null;
      if (!waiting) {
        slots.delete(id);
        return;
      }
      start(id, slot, key).then(waiting.resolve, waiting.reject);
    };
    call.then(settle, settle);
    return call;
  };

  return {
    get(key) {
      const id = idOf(key);
      let slot = slots.get(id);
      if (!slot) {
        slot = { running: false, next: null };
        slots.set(id, slot);
      }
      if (!slot.running) return start(id, slot, key);
      if (!slot.next) {
        let resolve!: (value: V) => void;
        let reject!: (error: unknown) => void;
        const promise = new Promise<V>((res, rej) => {
          resolve = res;
          reject = rej;
        });
        slot.next = { promise, resolve, reject };
      }
      return slot.next.promise;
    },
  };
}
