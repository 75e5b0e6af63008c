import { describe, expect, it } from 'vitest';
import { createGuard, NAMESPACE_FORBIDDEN_MESSAGE } from '../../src/auth/guard.js';
import type { Principal, Role } from '../../src/core/types.js';
import { GatewayError } from '../../src/errors.js';

const principal = (role: Role, namespaces: Principal['namespaces'] = ['own'], secrets = false): Principal => ({ sub: `${role}-1`, role, namespaces, secrets, expiresAt: null });

function outcome(run: () => void): 'ok' | string {
  try {
    run();
    return 'ok';
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    return (error as GatewayError).code;
  }
}

describe('guard', () => {
  const table: Array<[string, Principal | null, boolean, { readOwn: string; writeOwn: string; readOther: string; writeOther: string; secrets: boolean }]> = [
    ['anonymous, auth required', null, true, { readOwn: 'UNAUTHENTICATED', writeOwn: 'UNAUTHENTICATED', readOther: 'UNAUTHENTICATED', writeOther: 'UNAUTHENTICATED', secrets: false }],
    ['anonymous, auth off', null, false, { readOwn: 'ok', writeOwn: 'ok', readOther: 'ok', writeOther: 'ok', secrets: true }],
    ['admin of *', principal('admin', '*'), true, { readOwn: 'ok', writeOwn: 'ok', readOther: 'ok', writeOther: 'ok', secrets: true }],
    ['admin of own', principal('admin'), true, { readOwn: 'ok', writeOwn: 'ok', readOther: 'FORBIDDEN', writeOther: 'FORBIDDEN', secrets: true }],
    ['writer of own', principal('writer'), true, { readOwn: 'ok', writeOwn: 'ok', readOther: 'FORBIDDEN', writeOther: 'FORBIDDEN', secrets: false }],
    ['writer with secrets', principal('writer', ['own'], true), true, { readOwn: 'ok', writeOwn: 'ok', readOther: 'FORBIDDEN', writeOther: 'FORBIDDEN', secrets: true }],
    ['reader of own', principal('reader'), true, { readOwn: 'ok', writeOwn: 'FORBIDDEN', readOther: 'FORBIDDEN', writeOther: 'FORBIDDEN', secrets: false }],
    ['reader of *', principal('reader', '*'), true, { readOwn: 'ok', writeOwn: 'FORBIDDEN', readOther: 'ok', writeOther: 'FORBIDDEN', secrets: false }],
    ['writer with no namespaces', principal('writer', []), true, { readOwn: 'FORBIDDEN', writeOwn: 'FORBIDDEN', readOther: 'FORBIDDEN', writeOther: 'FORBIDDEN', secrets: false }],
  ];

  it.each(table)('%s', (_name, who, required, expected) => {
    const guard = createGuard(who, { required });
    expect({
      readOwn: outcome(() => guard.read('own')),
      writeOwn: outcome(() => guard.write('own')),
      readOther: outcome(() => guard.read('other')),
      writeOther: outcome(() => guard.write('other')),
      secrets: guard.canReadSecrets(),
    }).toEqual(expected);
    if (expected.readOwn === 'UNAUTHENTICATED') {
      expect(() => guard.canSee('own')).toThrow(/Authentication required/);
    } else {
      expect(guard.canSee('own')).toBe(expected.readOwn === 'ok');
      expect(guard.canSee('other')).toBe(expected.readOther === 'ok');
    }
  });

  it('answers a namespace outside the claim with one message, whether it exists or not, and for read and write alike', () => {
    const guard = createGuard(principal('reader'), { required: true });
    const messages = new Set<string>();
    for (const ns of ['other', 'does-not-exist', 'demo-platform']) {
      for (const op of [guard.read, guard.write]) {
        try {
          op(ns);
        } catch (error) {
          messages.add((error as Error).message);
        }
      }
    }
    expect([...messages]).toEqual([NAMESPACE_FORBIDDEN_MESSAGE]);
  });

  it('tells a reader of its own namespace that its role may not write', () => {
    const guard = createGuard(principal('reader'), { required: true });
    expect(() => guard.write('own')).toThrow(/reader may not/);
  });

  it('keeps the claims of a token even when auth is not required', () => {
    const guard = createGuard(principal('reader'), { required: false });
    expect(outcome(() => guard.write('own'))).toBe('FORBIDDEN');
    expect(guard.principal?.sub).toBe('reader-1');
  });
});
