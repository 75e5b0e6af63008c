import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { isExpired, onExpiry } from '../auth/lifetime.js';
import { tokenExpiredError } from './errors.js';
import type { Principal } from '../core/types.js';
import { INVALID_TOKEN_CHALLENGE, principalOf, setHttpStatus, type SecurityContext } from './use-operation-limits.js';
import { isAsyncIterable, type ClosableStream, type TransportContext } from './transport.js';

/**
 * `source` until `principal`'s credential expires: then one result carrying `expired()` is
 * yielded, the source is ended, and the stream is done. Ends early (timer cleared) when the
 * source finishes or the consumer ends it.
 */
export function untilExpiry<T>(source: AsyncIterable<T>, principal: Pick<Principal, 'expiresAt'>, expired: () => T): ClosableStream<T> {
  const iterator = source[Symbol.asyncIterator]();
  let finished = false;
  let hasExpired = false;
  // The pending `next()` of the consumer, woken by the expiry instead of by the source.
  let wake: (() => void) | null = null;
  const cancel = onExpiry(principal, () => {
    hasExpired = true;
    const pending = wake;
    wake = null;
    pending?.();
  });
  const finish = () => {
    finished = true;
    wake = null;
    cancel();
  };
  const expire = (): IteratorResult<T> => {
    finish();
    // A pending source `next()` is abandoned; ending the source releases what it holds.
    void Promise.resolve(iterator.return?.()).catch(() => {});
    return { value: expired(), done: false };
  };
  const stream: ClosableStream<T> = {
    next() {
      if (finished) return Promise.resolve({ value: undefined, done: true });
      if (hasExpired) return Promise.resolve(expire());
      return new Promise<IteratorResult<T>>((resolve, reject) => {
        let settled = false;
        wake = () => {
          if (settled) return;
          settled = true;
          resolve(expire());
        };
        iterator.next().then(
          (result) => {
            if (settled) return;
            settled = true;
            wake = null;
            if (result.done) finish();
            resolve(result);
          },
          (error: unknown) => {
            if (settled) return;
            settled = true;
            finish();
            reject(error);
          },
        );
      });
    },
    return(value?: unknown) {
      finish();
      return iterator.return ? iterator.return(value) : Promise.resolve({ value: undefined, done: true });
    },
    throw(error?: unknown) {
      finish();
      return iterator.throw ? iterator.throw(error) : Promise.reject(error);
    },
    [Symbol.asyncIterator]: () => stream,
  };
  return stream;
}

/** UNAUTHENTICATED for an expired token, answered over HTTP as 401 with a `WWW-Authenticate` challenge. */
function expiredRefusal() {
  const error = tokenExpiredError();
  setHttpStatus(error, { 'WWW-Authenticate': INVALID_TOKEN_CHALLENGE });
  return error;
}

/**
 * A token's `exp` bounds everything done with it (`Principal.expiresAt`):
 * - an operation whose caller's token has expired is refused with UNAUTHENTICATED, never run
 *   (a graphql-ws connection keeps the principal of its `connection_init`, so this is the check
 *   for every operation on it; over HTTP the token was verified moments before);
 * - a subscription stream ends at the token's expiry with one UNAUTHENTICATED error, whatever the
 *   transport (yoga's SSE, graphql-ws). A graphql-ws execution shared by several subscribers is
 *   left alone: each member's socket closes with 4401 at its own token's expiry.
 *
 * @example createYoga({ plugins: [useTokenLifetime()] })
 */
export function useTokenLifetime(): Plugin<SecurityContext & TransportContext> {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      if (isExpired(principalOf(args.contextValue))) setResultAndStopExecution({ errors: [expiredRefusal()] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const principal = principalOf(args.contextValue);
      if (isExpired(principal)) {
        setResultAndStopExecution({ errors: [expiredRefusal()] });
        return undefined;
      }
      if (principal?.expiresAt == null || args.contextValue.sharedExecution) return undefined;
      return {
        onSubscribeResult({ result, setResult }) {
          if (!isAsyncIterable<ExecutionResult>(result)) return;
          setResult(untilExpiry<ExecutionResult>(result, principal, () => ({ errors: [tokenExpiredError()] })));
        },
      };
    },
  };
}
