import type { ChangeBus, ChangeMessage } from '../core/types.js';

/** Options of the in-process bus. */
export interface MemoryBusOptions {
  /**
   * Carry messages as JSON, as Redis would, so receivers never share objects with the publisher.
   * @default true
   */
  copyMessages?: boolean;
}

/**
 * The bus of a single-instance gateway (no `REDIS_URL`): same contract as the Redis bus, delivery
 * on a later microtask so a publisher never runs subscriber code inside its own call.
 */
export function createMemoryBus({ copyMessages = true }: MemoryBusOptions = {}): ChangeBus {
  const topics = new Map<string, Set<(message: ChangeMessage) => void>>();
  const reconnectListeners = new Set<() => void>();
  let lastMessageAt: number | null = null;
  let closed = false;

  return {
    publish(message) {
      if (closed) return;
      const listeners = topics.get(message.namespace);
      if (!listeners || listeners.size === 0) return;
      const payload = copyMessages ? (JSON.parse(JSON.stringify(message)) as ChangeMessage) : message;
      queueMicrotask(() => {
        lastMessageAt = Date.now();
        for (const listener of [...listeners]) {
          try {
            listener(payload);
          } catch {
            // One faulty listener must not starve the others.
          }
        }
      });
    },
    async subscribe(namespace, listener) {
      if (closed) throw new Error('bus is closed');
      let listeners = topics.get(namespace);
      if (!listeners) topics.set(namespace, (listeners = new Set()));
      // A fresh wrapper per call, so subscribing the same function twice needs two unsubscribes.
      const entry = (message: ChangeMessage) => listener(message);
      listeners.add(entry);
      return async () => {
        listeners.delete(entry);
        if (listeners.size === 0 && topics.get(namespace) === listeners) topics.delete(namespace);
      };
    },
    onReconnect(listener) {
      reconnectListeners.add(listener);
      return () => reconnectListeners.delete(listener);
    },
    status() {
      return { kind: 'memory', connected: !closed, publishFailures: 0, lastMessageAt };
    },
    async close() {
      closed = true;
      topics.clear();
      reconnectListeners.clear();
    },
  };
}
