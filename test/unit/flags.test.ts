import { describe, expect, it } from 'vitest';
import { evaluateFlag, flagBucket, isFlagLike, isFlagValue, murmur3, validateFlagValue } from '../../src/shared/flags.js';

const utf8 = (text: string) => new TextEncoder().encode(text);
const users = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

describe('murmur3 (the bucketing hash)', () => {
  it.each([
    ['', 0, 0],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['\0\0\0\0', 0, 0x2362f9de],
    ['a', 0x9747b28c, 0x7fa09ea6],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['abc', 0, 0xb3dd93fa],
    ['hello', 0, 0x248bfa47],
    ['Hello, world!', 0x9747b28c, 0x24884cba],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
  ])('matches the MurmurHash3_x86_32 reference vector for %j (seed %d)', (input, seed, expected) => {
    expect(murmur3(utf8(input), seed)).toBe(expected);
  });
});

describe('flagBucket', () => {
  // Golden vectors: any change to the algorithm moves users between buckets and must fail here.
  it.each([
    ['flags.new-checkout', 'user-1', 81],
    ['flags.new-checkout', 'user-2', 17],
    ['flags.new-checkout', 'user-42', 73],
    ['ai.beta', 'alice', 91],
    ['ai.beta', 'bob', 70],
    ['flags.ünïcödé', '用户-7', 73],
    ['f', '', 69],
    ['flags.dark-mode', '00000000-0000-0000-0000-000000000001', 23],
  ])('puts %s / %s in bucket %d', (key, user, bucket) => {
    expect(flagBucket(key, user)).toBe(bucket);
  });

  it('hashes the UTF-8 bytes of "key:user"', () => {
    expect(flagBucket('flags.ünïcödé', '用户-7')).toBe(murmur3(utf8('flags.ünïcödé:用户-7')) % 100);
    expect(murmur3(utf8('flags.ünïcödé:用户-7'))).toBe(3522916573);
  });
});

describe('evaluateFlag', () => {
  it.each([1, 10, 25, 50, 75, 90, 99])('enables %d%% of 10,000 users, within 1 percentage point', (rollout) => {
    const enabled = users.filter((u) => evaluateFlag('flags.rollout', { enabled: true, rolloutPercentage: rollout }, u).enabled).length;
    expect(Math.abs((enabled / users.length) * 100 - rollout)).toBeLessThanOrEqual(1);
  });

  it('keeps every user who was in at 10% in at 50% (monotone)', () => {
    const at = (pct: number) =>
      new Set(users.filter((u) => evaluateFlag('flags.checkout', { enabled: true, rolloutPercentage: pct }, u).enabled));
    const steps = [0, 10, 50, 100].map(at);
    for (let i = 1; i < steps.length; i++) {
      for (const user of steps[i - 1]!) expect(steps[i]!.has(user)).toBe(true);
    }
    expect(steps[0]!.size).toBe(0);
    expect(steps[3]!.size).toBe(users.length);
  });

  it('buckets independently per flag (a user in one 10% rollout is not in every other)', () => {
    const a = users.filter((u) => flagBucket('flags.a', u) < 10);
    const bothShare = a.filter((u) => flagBucket('flags.b', u) < 10).length / a.length;
    expect(bothShare).toBeGreaterThan(0.05);
    expect(bothShare).toBeLessThan(0.15);
  });

  it('gives a reason for each outcome', () => {
    const off = { enabled: false, rolloutPercentage: 100 };
    expect(evaluateFlag('f', off, 'u')).toMatchObject({ enabled: false, reason: 'DISABLED' });
    expect(evaluateFlag('f', { enabled: true, rolloutPercentage: 100 }, 'u')).toMatchObject({ enabled: true, reason: 'FULL' });
    expect(evaluateFlag('f', { enabled: true, rolloutPercentage: 0 }, 'u')).toMatchObject({ enabled: false, reason: 'ROLLOUT_OUT' });
    // bucket of flags.new-checkout / user-2 is 17
    expect(evaluateFlag('flags.new-checkout', { enabled: true, rolloutPercentage: 18 }, 'user-2')).toEqual({
      enabled: true,
      bucket: 17,
      reason: 'ROLLOUT_IN',
    });
    expect(evaluateFlag('flags.new-checkout', { enabled: true, rolloutPercentage: 17 }, 'user-2')).toEqual({
      enabled: false,
      bucket: 17,
      reason: 'ROLLOUT_OUT',
    });
    expect(evaluateFlag('f', { enabled: 'yes', rolloutPercentage: 10 }, 'u')).toMatchObject({ enabled: false, reason: 'INVALID' });
  });

  it('applies targeting rules before the rollout, but never over the kill switch', () => {
    const flag = { enabled: true, rolloutPercentage: 0, rules: [{ userIds: ['vip'], enabled: true }] };
    expect(evaluateFlag('f', flag, 'vip')).toMatchObject({ enabled: true, reason: 'RULE' });
    expect(evaluateFlag('f', flag, 'other')).toMatchObject({ enabled: false, reason: 'ROLLOUT_OUT' });
    expect(evaluateFlag('f', { ...flag, enabled: false }, 'vip')).toMatchObject({ enabled: false, reason: 'DISABLED' });
  });
});

describe('flag values', () => {
  it('treats an object with rolloutPercentage as a flag, and an ordinary `enabled` config as not one', () => {
    expect(isFlagLike({ enabled: true, rolloutPercentage: 5 })).toBe(true);
    expect(isFlagLike({ rolloutPercentage: 'oops' })).toBe(true);
    expect(isFlagLike({ enabled: true, timeoutMs: 500 })).toBe(false);
    expect(isFlagLike([1, 2])).toBe(false);
    expect(isFlagLike(0.85)).toBe(false);
  });

  it('accepts valid flags and names every problem of invalid ones', () => {
    expect(validateFlagValue({ enabled: true, rolloutPercentage: 50, description: 'x', rules: [{ userIds: ['a'], enabled: false }] })).toEqual([]);
    expect(isFlagValue({ enabled: false, rolloutPercentage: 0 })).toBe(true);
    expect(validateFlagValue({ enabled: 'true', rolloutPercentage: 101 })).toEqual([
      'enabled must be a boolean',
      'rolloutPercentage must be an integer from 0 to 100',
    ]);
    expect(validateFlagValue({ enabled: true, rolloutPercentage: -1 })).toHaveLength(1);
    expect(validateFlagValue({ enabled: true, rolloutPercentage: 12.5 })).toHaveLength(1);
    expect(validateFlagValue({ enabled: true, rolloutPercentage: 5, rules: [{ userIds: 'a', enabled: true }] })).toEqual([
      'rules[0].userIds must be an array of strings',
    ]);
    expect(validateFlagValue('on')).toEqual(['a flag value must be an object']);
  });
});
