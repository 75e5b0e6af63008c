/**
 * Encryption of secret values at rest: AES-256-GCM from `node:crypto`, a random 96-bit IV per
 * value, the key's id in the envelope, and the entry's namespace and key as additional
 * authenticated data (a ciphertext copied onto another key does not decrypt).
 *
 * Envelope (text, stored in `encrypted_value`):
 * `hcs1.<key id>.<iv>.<ciphertext>.<tag>` (base64url parts). The key id is the first 8 bytes of
 * SHA-256 over the key, hex: it identifies a key without revealing it, and needs no naming.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { GatewayError } from '../errors.js';

const VERSION = 'hcs1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** Why a stored secret value cannot be read: its key is not configured, or it does not authenticate. */
export class SecretUnreadableError extends GatewayError {
  readonly keyId: string | null;

  constructor(message: string, keyId: string | null) {
    super('SERVICE_UNAVAILABLE', message, { reason: 'SECRET_UNREADABLE', ...(keyId ? { keyId } : {}) });
    this.name = 'SecretUnreadableError';
    this.keyId = keyId;
  }
}

export interface SecretBox {
  /** Id of the key that encrypts (the first of `HOTCONF_SECRET_KEYS`). */
  readonly encryptingKeyId: string;
  /** Ids of every key that decrypts, encrypting key first. */
  readonly keyIds: readonly string[];
  /** Encrypts `plaintext` (a value's JSON text) bound to `context` (namespace and key). */
  seal(plaintext: string, context: string): string;
  /** Decrypts an envelope; throws `SecretUnreadableError` without its key or when it fails to authenticate. */
  open(envelope: string, context: string): string;
  /** The key id an envelope names, or null when it is not an envelope. */
  keyIdOf(envelope: string): string | null;
}

/** The id of a key: first 8 bytes of SHA-256 over it, hex. */
export function secretKeyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/**
 * Parses `HOTCONF_SECRET_KEYS`: comma-separated base64 (or base64url) encodings of 32 random
 * bytes each (`openssl rand -base64 32`). Throws an Error naming the bad entry by position,
 * never quoting it.
 */
export function parseSecretKeys(text: string): Buffer[] {
  const parts = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  return parts.map((part, index) => {
    const key = /^[A-Za-z0-9+/_-]+={0,2}$/.test(part) ? Buffer.from(part, part.includes('-') || part.includes('_') ? 'base64url' : 'base64') : null;
    if (!key || key.length !== KEY_BYTES) {
      throw new Error(`key ${index + 1} is not the base64 encoding of ${KEY_BYTES} bytes (make one with: openssl rand -base64 32)`);
    }
    return key;
  });
}

const b64 = (buffer: Buffer) => buffer.toString('base64url');

/**
 * A `SecretBox` over `keys` (the first encrypts, all decrypt).
 *
 * @example
 * const box = createSecretBox(parseSecretKeys(config.secretKeys));
 * const stored = box.seal(JSON.stringify(value), `${namespace}\u0000${key}`);
 */
export function createSecretBox(keys: readonly Buffer[]): SecretBox {
  if (keys.length === 0) throw new Error('a secret box needs at least one key');
  const byId = new Map<string, Buffer>();
  for (const key of keys) {
    if (key.length !== KEY_BYTES) throw new Error(`secret keys are ${KEY_BYTES} bytes`);
    const id = secretKeyId(key);
    if (!byId.has(id)) byId.set(id, key);
  }
  const [encryptingKeyId] = byId.keys() as IterableIterator<string>;
  const encryptingKey = byId.get(encryptingKeyId!)!;

  const parse = (envelope: string) => {
    const parts = envelope.split('.');
    if (parts.length !== 5 || parts[0] !== VERSION) return null;
    const [, keyId, iv, data, tag] = parts as [string, string, string, string, string];
    return { keyId, iv, data, tag };
  };

  return {
    encryptingKeyId: encryptingKeyId!,
    keyIds: [...byId.keys()],
    seal(plaintext, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', encryptingKey, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [VERSION, encryptingKeyId, b64(iv), b64(data), b64(cipher.getAuthTag())].join('.');
    },
    open(envelope, context) {
      const parsed = parse(envelope);
      if (!parsed) throw new SecretUnreadableError('A stored secret value is not in a format this gateway reads', null);
      const key = byId.get(parsed.keyId);
      if (!key) {
        throw new SecretUnreadableError(
          `A secret value is encrypted with key id ${parsed.keyId}, which this gateway does not have: add that key to HOTCONF_SECRET_KEYS`,
          parsed.keyId,
        );
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(parsed.iv, 'base64url'), { authTagLength: TAG_BYTES });
        decipher.setAAD(Buffer.from(context, 'utf8'));
        decipher.setAuthTag(Buffer.from(parsed.tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(parsed.data, 'base64url')), decipher.final()]).toString('utf8');
      } catch {
        // GCM authenticates: a wrong key, a changed byte or a ciphertext moved from another key
        // all land here. Nothing of the value or the key is in the message.
        throw new SecretUnreadableError(`A secret value encrypted with key id ${parsed.keyId} does not authenticate (damaged, or moved from another key)`, parsed.keyId);
      }
    },
    keyIdOf: (envelope) => parse(envelope)?.keyId ?? null,
  };
}

/** The additional authenticated data of a value: its namespace and key. */
export const secretContext = (namespace: string, key: string): string => `${namespace}\u0000${key}`;
