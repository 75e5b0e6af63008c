import type { Guard, Principal, Role } from '../core/types.js';
import { GatewayError } from '../errors.js';

/**
 * One message for every namespace the caller may not use, whether or not it exists: a caller
 * outside namespace B must not learn from an error that B is there.
 */
export const NAMESPACE_FORBIDDEN_MESSAGE = 'Not authorized for this namespace';

const UNAUTHENTICATED_MESSAGE = 'Authentication required: send a bearer token';

/** The principal anonymous callers get when auth is not required (embedded, single-user use). */
export const ANONYMOUS_ADMIN: Principal = Object.freeze({
  sub: 'anonymous',
  role: 'admin',
  namespaces: '*',
  secrets: true,
  expiresAt: null,
});

const WRITE_ROLES: ReadonlySet<Role> = new Set<Role>(['admin', 'writer']);

export interface GuardOptions {
  /**
   * Whether a caller must present a token. With `false`, an anonymous caller is treated as
   * admin (`ANONYMOUS_ADMIN`); a caller that does present a valid token keeps its own claims.
   */
  required: boolean;
}

/** Whether `principal`'s `namespaces` claim covers `namespace`. */
export function coversNamespace(principal: Principal, namespace: string): boolean {
  return principal.namespaces === '*' || principal.namespaces.includes(namespace);
}

/**
 * Authorization decisions for one request or one subscription.
 *
 * - `admin`: queries, subscriptions and mutations, secret values included;
 * - `writer`: what a reader may, plus mutations;
 * - `reader`: queries and subscriptions.
 *
 * Every role is confined to its `namespaces` claim (`'*'` = all): an admin token minted for
 * `['demo-platform']` administers only that namespace. Outside the claim, `read` and `write`
 * throw FORBIDDEN with one fixed message, so existence is never revealed. Without a principal
 * where one is required, every method but `canReadSecrets` throws UNAUTHENTICATED.
 *
 * @example
 * const guard = createGuard(await auth.authenticate(req.headers.authorization), { required: auth.required });
 * guard.write('demo-platform');
 */
export function createGuard(principal: Principal | null, { required }: GuardOptions): Guard {
  const effective: Principal | null = principal ?? (required ? null : ANONYMOUS_ADMIN);

  const authenticated = (): Principal => {
    if (!effective) throw new GatewayError('UNAUTHENTICATED', UNAUTHENTICATED_MESSAGE);
    return effective;
  };

  return {
    principal: effective,
    authenticated,
    read(namespace) {
      const caller = authenticated();
      if (!coversNamespace(caller, namespace)) throw new GatewayError('FORBIDDEN', NAMESPACE_FORBIDDEN_MESSAGE);
    },
    write(namespace) {
      const caller = authenticated();
      // Namespace first: a reader of A asking to write B must get the same answer as for any
      // other namespace it cannot see, not a role message that confirms B is worth asking about.
      if (!coversNamespace(caller, namespace)) throw new GatewayError('FORBIDDEN', NAMESPACE_FORBIDDEN_MESSAGE);
      if (!WRITE_ROLES.has(caller.role)) {
        throw new GatewayError('FORBIDDEN', `Role ${caller.role} may not change configuration`);
      }
    },
    canSee(namespace) {
      // An anonymous caller where tokens are required gets UNAUTHENTICATED from lists too,
      // not an empty list that looks like an answer.
      return coversNamespace(authenticated(), namespace);
    },
    canReadSecrets() {
      return effective !== null && (effective.role === 'admin' || effective.secrets);
    },
  };
}
