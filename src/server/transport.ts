import type { Plugin } from 'graphql-yoga';

/**
 * Context fields a transport sets for the plugins, beyond the GraphQL context: who already
 * enforces what, so a rule is applied once per subscription whatever the transport.
 */
export interface TransportContext {
  /** Set by the graphql-ws endpoint, which counts its subscriptions against the limits itself. */
  transport?: 'graphql-ws';
  /**
   * Set on a graphql-ws execution that several subscribers share: its stream must not end with
   * the token of the one that started it (each member's socket closes at its own token's expiry).
   */
  sharedExecution?: boolean;
}

/** An async iterator that can be ended early, as graphql-ws and yoga expect of a subscription. */
export type ClosableStream<T> = AsyncIterableIterator<T> & {
  return(value?: unknown): Promise<IteratorResult<T>>;
};

/**
 * `source`, calling `onEnd` exactly once when the stream is over for whatever reason: it
 * finished, it failed, or its consumer ended it (`return`, `throw`).
 *
 * @example
 * const slot = limiter.acquire(subject);
 * return onStreamEnd(stream, slot.release);
 */
export function onStreamEnd<T>(source: AsyncIterable<T>, onEnd: () => void): ClosableStream<T> {
  const iterator = source[Symbol.asyncIterator]();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    onEnd();
  };
  const stream: ClosableStream<T> = {
    next: () =>
      iterator.next().then(
        (result) => {
          if (result.done) end();
          return result;
        },
        (error: unknown) => {
          end();
          throw error;
        },
      ),
    return: (value?: unknown) => {
      end();
      return iterator.return ? iterator.return(value) : Promise.resolve({ value: undefined, done: true as const });
    },
    throw: (error?: unknown) => {
      end();
      return iterator.throw ? iterator.throw(error) : Promise.reject(error);
    },
    [Symbol.asyncIterator]: () => stream,
  };
  return stream;
}

export const isAsyncIterable = <T = unknown>(value: unknown): value is AsyncIterable<T> =>
  typeof value === 'object' && value !== null && typeof (value as Record<symbol, unknown>)[Symbol.asyncIterator] === 'function';

/**
 * Ends a subscription stream that no response will carry: yoga executes a subscription before it
 * picks a media type, and answers 406 to a request that accepts no streaming type
 * (`text/event-stream`, `multipart/mixed`) without ever ending the stream, which would keep its
 * feed watch and its subscription slot for ever. Runs after yoga's own result processors.
 */
export function useEndUnsentStreams(): Plugin {
  return {
    onResultProcess({ result, resultProcessor }) {
      if (resultProcessor || !isAsyncIterable(result)) return;
      const iterator = result[Symbol.asyncIterator]();
      void Promise.resolve(iterator.return?.()).catch(() => {});
    },
  };
}
