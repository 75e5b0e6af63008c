/**
 * A bounded single-consumer async queue: what one subscription has been handed and not yet
 * consumed. The producer never waits; the consumer pulls with `next()`. Ending with an error lets
 * the consumer take what is queued first, then raises the error; finishing drops what is queued.
 *
 * Hand-written rather than `Repeater` (@repeaterjs/repeater, which yoga ships): the feed needs a
 * producer that never awaits (one batch is offered to thousands of queues synchronously), an
 * overflow decided by the producer on the count of unconsumed items (live items only: replayed
 * history is paced by `space()` instead), and a low-water wake-up for replay paging; Repeater's
 * buffers either drop silently or throw on push after 1,024 pending pushes.
 */
export interface WatchQueue<T> {
  readonly iterator: AsyncIterableIterator<T>;
  /** Items queued and not consumed. */
  readonly size: number;
  readonly ended: boolean;
  /**
   * Hands `item` to the consumer (at once when it is waiting). Returns false when `counted` and
   * the queue now holds more than `maxQueued`: the caller decides what an overflow means.
   */
  push(item: T, counted: boolean): boolean;
  /** Ends with `error` after what is queued (no-op once ended). */
  fail(error: unknown): void;
  /** Ends now, dropping what is queued (no-op once ended). */
  finish(): void;
  /** Resolves once at most `lowWater` items are queued, the consumer waits, or the queue ended. */
  space(): Promise<void>;
}

/** Options of a watch queue. */
export interface WatchQueueOptions {
  /** Counted items queued before `push` reports an overflow. */
  maxQueued: number;
  /** `space()` resolves at or below this many queued items. */
  lowWater: number;
  /** Called once when the queue ends (fail, finish, or the consumer's return/throw). */
  onEnd?: () => void;
}

/**
 * @example
 * const queue = createWatchQueue<number>({ maxQueued: 10, lowWater: 2 });
 * queue.push(1, true);
 * await queue.iterator.next(); // { value: 1, done: false }
 */
export function createWatchQueue<T>({ maxQueued, lowWater, onEnd }: WatchQueueOptions): WatchQueue<T> {
  let items: T[] = [];
  let head = 0;
  let waiting: ((result: IteratorResult<T>) => void) | null = null;
  let failWaiting: ((error: unknown) => void) | null = null;
  let spaceWaiter: (() => void) | null = null;
  let ended = false;
  let hasError = false;
  let error: unknown = null;

  const queued = () => items.length - head;
  const wakeSpace = () => {
    const wake = spaceWaiter;
    spaceWaiter = null;
    wake?.();
  };
  const end = () => {
    ended = true;
    onEnd?.();
    wakeSpace();
  };

  const iterator: AsyncIterableIterator<T> = {
    next() {
      if (queued() > 0) {
        const value = items[head]!;
        items[head++] = undefined as unknown as T;
        if (head > 1_024 && head * 2 > items.length) {
          items = items.slice(head);
          head = 0;
        }
        if (spaceWaiter && queued() <= lowWater) wakeSpace();
        return Promise.resolve({ value, done: false });
      }
      if (hasError) {
        const failure = error;
        hasError = false;
        error = null;
        return Promise.reject(failure);
      }
      if (ended) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => {
        waiting = resolve;
        failWaiting = reject;
        if (spaceWaiter) wakeSpace();
      });
    },
    return() {
      queue.finish();
      return Promise.resolve({ value: undefined, done: true });
    },
    throw(reason?: unknown) {
      queue.finish();
      return Promise.reject(reason);
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };

  const queue: WatchQueue<T> = {
    iterator,
    get size() {
      return queued();
    },
    get ended() {
      return ended;
    },
    push(item, counted) {
      if (waiting) {
        const resolve = waiting;
        waiting = null;
        failWaiting = null;
        resolve({ value: item, done: false });
        return true;
      }
      items.push(item);
      return !(counted && queued() > maxQueued);
    },
    fail(failure) {
      if (ended) return;
      hasError = true;
      error = failure;
      end();
      if (waiting && queued() === 0) {
        const reject = failWaiting!;
        waiting = null;
        failWaiting = null;
        hasError = false;
        error = null;
        reject(failure);
      }
    },
    finish() {
      if (ended) return;
      end();
      items = [];
      head = 0;
      if (waiting) {
        const resolve = waiting;
        waiting = null;
        failWaiting = null;
        resolve({ value: undefined, done: true });
      }
    },
    space() {
      if (ended || queued() <= lowWater) return Promise.resolve();
      return new Promise<void>((resolve) => {
        spaceWaiter = resolve;
      });
    },
  };
  return queue;
}
