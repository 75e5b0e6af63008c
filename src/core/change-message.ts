import type { Change, ChangeMessage, TraceCarrier, WriteResult } from './types.js';

/**
 * The bus message for one committed write. Secret values never leave Postgres, and values
 * larger than `inlineValueBytes` stay there too: receivers read them from the store. `trace` is
 * the publish span's W3C context, carried only when the gateway traces.
 */
export function toChangeMessage(result: WriteResult, inlineValueBytes: number, trace?: TraceCarrier): ChangeMessage {
  return {
    namespace: result.namespace,
    revision: result.revision,
    ...(trace ? { trace } : {}),
    changes: result.changes.map((change) => {
      const inline =
        !change.secret && (change.value === null || Buffer.byteLength(JSON.stringify(change.value)) <= inlineValueBytes);
      return {
        key: change.key,
        op: change.op,
        version: change.version,
        value: inline ? change.value : null,
        valueOmitted: !inline,
        changedAt: change.changedAt.toISOString(),
        changedBy: change.changedBy,
        reason: change.reason,
        traceId: change.traceId,
        secret: change.secret,
        description: change.description,
        schema: change.schema,
      };
    }),
  };
}

/** Changes of a message whose values travelled inline (for the others, read the store). */
export function fromChangeMessage(message: ChangeMessage): Array<Change & { valueOmitted: boolean }> {
  return message.changes.map((change) => ({
    namespace: message.namespace,
    revision: message.revision,
    key: change.key,
    op: change.op,
    version: change.version,
    value: change.value,
    valueOmitted: change.valueOmitted,
    changedAt: new Date(change.changedAt),
    changedBy: change.changedBy,
    reason: change.reason,
    traceId: change.traceId,
    secret: change.secret,
    // Messages from gateways older than these fields carry neither.
    description: change.description ?? null,
    schema: change.schema ?? null,
  }));
}
