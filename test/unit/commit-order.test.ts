import { describe, expect, it } from 'vitest';
import { createCommitOrder } from '../../src/core/commit-order.js';

describe('createCommitOrder', () => {
  it('publishes a commit at once when nothing else of its namespace is in flight', async () => {
    const order = createCommitOrder();
    const published: number[] = [];
    await order.committed(order.begin('a'), 1, () => published.push(1));
    expect(published).toEqual([1]);
  });

  it('holds a commit whose answer came first until the write in flight beside it finished, then publishes in revision order', async () => {
    const order = createCommitOrder();
    const published: number[] = [];
    const first = order.begin('a');
    const second = order.begin('a');
    const other = order.begin('b');
    // `second` committed revision 8 and answered before `first`, which committed revision 7.
    const eight = order.committed(second, 8, () => published.push(8));
    await order.committed(other, 1, () => published.push(100)); // another namespace does not wait
    expect(published).toEqual([100]);
    await order.committed(first, 7, () => published.push(7));
    await eight;
    expect(published).toEqual([100, 7, 8]);
  });

  it('a failed write releases the commits waiting for it', async () => {
    const order = createCommitOrder();
    const published: number[] = [];
    const failing = order.begin('a');
    const done = order.committed(order.begin('a'), 3, () => published.push(3));
    expect(published).toEqual([]);
    order.abandon(failing);
    await done;
    expect(published).toEqual([3]);
  });

  it('does not wait for writes that started after the commit', async () => {
    const order = createCommitOrder();
    const published: number[] = [];
    const ticket = order.begin('a');
    const committed = order.committed(ticket, 4, () => published.push(4));
    order.begin('a'); // never finishes
    await committed;
    expect(published).toEqual([4]);
  });

  it('rejects the commit whose publish threw, and still publishes the rest', async () => {
    const order = createCommitOrder();
    const published: number[] = [];
    const a = order.begin('a');
    const b = order.begin('a');
    const failing = order.committed(b, 2, () => {
      throw new Error('feed closed');
    });
    await order.committed(a, 1, () => published.push(1));
    await expect(failing).rejects.toThrow('feed closed');
    expect(published).toEqual([1]);
  });
});
