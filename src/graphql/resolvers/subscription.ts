import type { DeliveredChange } from '../../core/types.js';
import { GatewayError, isGatewayError, toGatewayError } from '../../errors.js';
import type { SubscriptionResolvers } from '../generated/resolvers.js';

/**
 * What the `configChanged` source stream yields: a change, or the error that ended the stream
 * (a subscriber that fell too far behind, history compacted under a resume). The error is raised
 * by `resolve`, so the client receives it as a GraphQL error with `extensions.code` on its own
 * subscription instead of losing the whole WebSocket.
 */
/** Keys one `configChanged` subscription may name (`keys`); more is BAD_USER_INPUT. */
export const MAX_WATCHED_KEYS = 1_000;

type ChangeEvent = DeliveredChange | { readonly endedWith: GatewayError };

async function* untilError(source: AsyncIterableIterator<DeliveredChange>): AsyncGenerator<ChangeEvent, void, undefined> {
  try {
    for (;;) {
      let next: IteratorResult<DeliveredChange>;
      try {
        next = await source.next();
      } catch (error) {
        yield { endedWith: isGatewayError(error) ? error : toGatewayError(error) };
        return;
      }
      if (next.done) return;
      yield next.value;
    }
  } finally {
    // The client unsubscribed or the socket closed: free the watch at once.
    await source.return?.();
  }
}

/** `configChanged`: authorization first, then a watch on the process' change feed. */
export const Subscription: SubscriptionResolvers = {
  configChanged: {
    async subscribe(_root, { namespace, keys, prefix, sinceRevision }, { guard, feed, validate }) {
      validate.namespace(namespace);
      guard.read(namespace);
      if (keys && keys.length > MAX_WATCHED_KEYS) {
        // A subscription keeps its keys for its lifetime, and a subject may hold a thousand.
        throw new GatewayError('BAD_USER_INPUT', `A subscription watches at most ${MAX_WATCHED_KEYS} keys, got ${keys.length}: use a prefix`, {
          field: 'keys',
          limit: MAX_WATCHED_KEYS,
          actual: keys.length,
        });
      }
      if (keys) for (const [index, key] of keys.entries()) validate.key(key, `keys[${index}]`);
      if (prefix) validate.prefix(prefix);
      if (sinceRevision !== null && sinceRevision !== undefined) validate.revision(sinceRevision, 'sinceRevision');
      const source = await feed.watch(namespace, { keys, prefix, sinceRevision });
      return untilError(source);
    },
    resolve(event: ChangeEvent) {
      if ('endedWith' in event) throw event.endedWith;
      return event;
    },
  },
};
