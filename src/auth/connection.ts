import { CloseCode } from 'graphql-ws';
import type { Principal } from '../core/types.js';
import { isGatewayError } from '../errors.js';
import { authorizationFromConnectionParams, type Authenticator } from './tokens.js';

/** WebSocket close code for "try again later" (RFC 6455 registry): the JWKS could not be fetched. */
export const CLOSE_TRY_AGAIN_LATER = 1013;

/**
 * Authenticates a graphql-ws `connection_init`. On failure it closes the socket itself and
 * resolves `false` (return that from `onConnect`):
 * - 4401 Unauthorized: no token while one is required, or a bad/expired/forged/unsigned token;
 * - 4403 Forbidden: a valid token that grants no namespace at all;
 * - 1013 Try Again Later: the token keys (JWKS) cannot be fetched right now.
 * The close reason is the error's message, which never contains the token.
 *
 * @example
 * onConnect: async (ctx) => {
 *   const principal = await authenticateConnection(auth, ctx.connectionParams, (code, reason) => ctx.extra.socket.close(code, reason));
 *   if (principal === false) return false;
 *   (ctx.extra as { principal?: Principal | null }).principal = principal;
 *   return true;
 * }
 */
export async function authenticateConnection(
  auth: Pick<Authenticator, 'authenticate' | 'required'>,
  connectionParams: Readonly<Record<string, unknown>> | null | undefined,
  close: (code: number, reason: string) => void,
): Promise<Principal | null | false> {
  let principal: Principal | null;
  try {
    principal = await auth.authenticate(authorizationFromConnectionParams(connectionParams));
  } catch (error) {
    if (isGatewayError(error) && error.code === 'UNAUTHENTICATED') {
      close(CloseCode.Unauthorized, error.message);
    } else {
      close(CLOSE_TRY_AGAIN_LATER, 'Token keys cannot be fetched right now');
    }
    return false;
  }
  if (principal === null && auth.required) {
    close(CloseCode.Unauthorized, 'Authentication required: send { authorization: "Bearer <token>" } in connection_init');
    return false;
  }
  if (principal !== null && principal.namespaces !== '*' && principal.namespaces.length === 0) {
    close(CloseCode.Forbidden, 'Token grants no namespace');
    return false;
  }
  return principal;
}
