import { describe, expect, it } from 'vitest';
import { evaluateFlag, resolveOpenFeature } from '../../src/shared/flags.js';

const entry = (value: unknown) => ({ value, version: 3, revision: 17 });

describe('resolveOpenFeature: the one mapping behind OFREP and the SDK provider', () => {
  it('answers a partial rollout with evaluateFlag, as SPLIT, with the bucket', () => {
    const flag = { enabled: true, rolloutPercentage: 30 };
    for (const user of ['user-1', 'user-2', 'user-3', 'user-4', 'user-5']) {
      const expected = evaluateFlag('flags.checkout', flag, user);
      expect(resolveOpenFeature('flags.checkout', entry(flag), user, 'boolean')).toEqual({
        value: expected.enabled,
        variant: expected.enabled ? 'on' : 'off',
        reason: 'SPLIT',
        metadata: { version: 3, revision: 17, bucket: expected.bucket },
      });
    }
  });

  it('names the kill switch, targeting rules and full rollouts', () => {
    expect(resolveOpenFeature('f', entry({ enabled: false, rolloutPercentage: 100, rules: [{ userIds: ['u'], enabled: true }] }), 'u')).toMatchObject({ value: false, reason: 'DISABLED', variant: 'off' });
    expect(resolveOpenFeature('f', entry({ enabled: true, rolloutPercentage: 0, rules: [{ userIds: ['u'], enabled: true }] }), 'u')).toMatchObject({ value: true, reason: 'TARGETING_MATCH', variant: 'on' });
    expect(resolveOpenFeature('f', entry({ enabled: true, rolloutPercentage: 100 }), undefined)).toEqual({ value: true, reason: 'STATIC', variant: 'on', metadata: { version: 3, revision: 17 } });
  });

  it('serves plain values as static typed flags and refuses the wrong type', () => {
    expect(resolveOpenFeature('ai.threshold', entry(0.85), undefined, 'number')).toEqual({ value: 0.85, reason: 'STATIC', metadata: { version: 3, revision: 17 } });
    expect(resolveOpenFeature('ai.models', entry(['a']), undefined, 'object')).toMatchObject({ value: ['a'], reason: 'STATIC' });
    expect(resolveOpenFeature('ai.model', entry('large'), undefined, 'boolean')).toMatchObject({ errorCode: 'TYPE_MISMATCH' });
    expect(resolveOpenFeature('ai.models', entry(['a']), undefined, 'string')).toMatchObject({ errorCode: 'TYPE_MISMATCH', errorDetails: 'ai.models is of type array, not string' });
    expect(resolveOpenFeature('f', entry({ enabled: true, rolloutPercentage: 100 }), 'u', 'number')).toMatchObject({ errorCode: 'TYPE_MISMATCH' });
    // Without an expected type (OFREP), the value goes out as it is.
    expect(resolveOpenFeature('ai.model', entry('large'), undefined)).toMatchObject({ value: 'large', reason: 'STATIC' });
  });

  it('refuses a missing entry, a per-user flag without a targeting key and an invalid flag', () => {
    expect(resolveOpenFeature('nope', undefined, 'u')).toMatchObject({ errorCode: 'FLAG_NOT_FOUND' });
    expect(resolveOpenFeature('nope', null, 'u')).toMatchObject({ errorCode: 'FLAG_NOT_FOUND' });
    expect(resolveOpenFeature('f', entry({ enabled: true, rolloutPercentage: 30 }), undefined)).toMatchObject({ errorCode: 'TARGETING_KEY_MISSING' });
    expect(resolveOpenFeature('f', entry({ enabled: true, rolloutPercentage: 0, rules: [{ userIds: ['u'], enabled: true }] }), undefined)).toMatchObject({
      errorCode: 'TARGETING_KEY_MISSING',
    });
    // The answer does not depend on the user: no key needed.
    expect(resolveOpenFeature('f', entry({ enabled: false, rolloutPercentage: 30 }), undefined)).toMatchObject({ value: false, reason: 'DISABLED' });
    expect(resolveOpenFeature('f', entry({ enabled: true, rolloutPercentage: '50' }), 'u')).toMatchObject({ errorCode: 'GENERAL' });
  });
});
