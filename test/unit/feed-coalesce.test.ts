import { describe, expect, it } from 'vitest';
import { createCoalescer } from '../../src/core/coalesce.js';

const deferred = <T>() => {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

describe('coalescer', () => {
  it('a burst of identical requests costs at most two calls, and nobody shares a call started before it asked', async () => {
    const calls: Array<ReturnType<typeof deferred<number>>> = [];
    const coalescer = createCoalescer((_key: string) => {
      const call = deferred<number>();
      calls.push(call);
      return call.promise;
    }, (key) => key);
    const first = coalescer.get('a');
    const later = Array.from({ length: 500 }, () => coalescer.get('a'));
    expect(calls).toHaveLength(1);
    calls[0]!.resolve(1);
    expect(await first).toBe(1);
    await Promise.resolve();
    expect(calls).toHaveLength(2);
    calls[1]!.resolve(2);
    expect(new Set(await Promise.all(later))).toEqual(new Set([2]));
  });

  it('different keys do not wait for each other; a failure reaches only the callers of that call', async () => {
    let n = 0;
    const coalescer = createCoalescer(async (key: string) => {
      n++;
      if (key === 'bad') throw new Error('no');
      return key;
    }, (key) => key);
    const [good, bad] = await Promise.allSettled([coalescer.get('good'), coalescer.get('bad')]);
    expect(good).toMatchObject({ status: 'fulfilled', value: 'good' });
    expect(bad).toMatchObject({ status: 'rejected' });
    expect(n).toBe(2);
    expect(await coalescer.get('good')).toBe('good');
  });
});
