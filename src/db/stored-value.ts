import type { JsonValue } from '../core/types.js';
import { secretContext, SecretUnreadableError, type SecretBox } from '../core/secret-box.js';

/**
 * A stored value as the domain sees it: plaintext JSON. An encrypted value this gateway cannot
 * decrypt (its key is not configured, or it does not authenticate) is represented by the
 * `SecretUnreadableError` itself: a reader allowed to see secrets gets that error at the value's
 * field (SERVICE_UNAVAILABLE, naming the key id), a reader without the claim gets null as for any
 * secret, and a rollback to it is refused. Never garbage, never a crash, and other keys stay
 * readable.
 */
export function decodeValue(box: SecretBox | null, namespace: string, key: string, value: unknown, encrypted: string | null): JsonValue | null {
  if (encrypted === null) return (value ?? null) as JsonValue | null;
  if (!box) {
    return new SecretUnreadableError(
      'A secret value is encrypted at rest, but this gateway has no HOTCONF_SECRET_KEYS: set the keys it was encrypted with',
      null,
    ) as unknown as JsonValue;
  }
  try {
    return JSON.parse(box.open(encrypted, secretContext(namespace, key))) as JsonValue;
  } catch (error) {
    if (error instanceof SecretUnreadableError) return error as unknown as JsonValue;
    throw error;
  }
}
