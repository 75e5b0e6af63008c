/** `hotconf watch`'s resume bookkeeping: nothing missed, nothing printed twice, across disconnects. */
import { describe, expect, it } from 'vitest';
import { createTailCursor } from '../../src/cli/tail-cursor.js';

describe('watch tail cursor', () => {
  it('resumes after the last whole revision, and inside a batch cut off by a disconnect', () => {
    const cursor = createTailCursor(4);
    expect(cursor.resumeFrom()).toBe(4);
    expect(cursor.accept({ revision: 5, key: 'a' })).toBe(true);
    expect(cursor.accept({ revision: 5, key: 'b' })).toBe(true);
    // Disconnected in the middle of revision 5: replay it, skipping what was printed.
    expect(cursor.resumeFrom()).toBe(4);
    expect(cursor.accept({ revision: 5, key: 'a' })).toBe(false);
    expect(cursor.accept({ revision: 5, key: 'b' })).toBe(false);
    expect(cursor.accept({ revision: 5, key: 'c' })).toBe(true);
    expect(cursor.accept({ revision: 6, key: 'a' })).toBe(true);
    expect(cursor.since).toBe(6);
    expect(cursor.accept({ revision: 3, key: 'z' })).toBe(false);
  });

  it('a relist continues from the current revision with nothing printed there', () => {
    const cursor = createTailCursor(2);
    cursor.accept({ revision: 3, key: 'a' });
    cursor.restart(10);
    expect(cursor.since).toBe(10);
    expect(cursor.resumeFrom()).toBe(10);
    expect(cursor.accept({ revision: 10, key: 'a' })).toBe(true);
  });
});
