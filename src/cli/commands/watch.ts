import { closeCodeOf } from '../../client/close-codes.js';
import type { ConfigClientError } from '../../client/errors.js';
import { createRevisionStream } from '../../client/revision-stream.js';
import { resolveWebSocketImpl } from '../../client/web-socket.js';
import { intOption, stringOption, type Command, type CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { errorFromClient } from '../gateway-client.js';
import type { CliWatchSubscription } from '../generated/operations.js';
import { NamespacesDocument, WatchDocument, type ChangeResult } from '../operations.js';
import { compact, when } from '../output.js';
import { createTailCursor } from '../tail-cursor.js';

function line(change: ChangeResult): string {
  const value = change.op === 'DELETE' ? '' : change.redacted ? '[redacted]' : compact(change.value, 80);
  const who = [change.changedBy && `by ${change.changedBy}`, change.reason && `(${change.reason})`].filter(Boolean).join(' ');
  return `${when(change.changedAt)}  rev ${change.revision}  ${change.op.padEnd(6)}  ${change.key}  v${change.version}  ${value}${who ? `  ${who}` : ''}${change.replayed ? '  [replayed]' : ''}\n`;
}

/** The namespace's current revision (0 when it does not exist yet). */
async function currentRevision(context: CommandContext, namespace: string): Promise<number> {
  const { namespaces } = await context.client().request(NamespacesDocument, {});
  return namespaces.find((n) => n.name === namespace)?.revision ?? 0;
}

function describe(error: ConfigClientError | null): string {
  if (error === null) return 'the gateway ended the subscription';
  const close = closeCodeOf(error.code);
  return close !== null ? `close code ${close}` : error.code;
}

/**
 * `watch [PREFIX]`: a live tail of a namespace's changes over graphql-ws, on the SDK's connection
 * loop (src/client/revision-stream.ts) and close-code policy (src/client/close-codes.ts). After
 * any disconnect (network, gateway restart, deploy) it reconnects with backoff and resumes with
 * `sinceRevision` = the last revision it printed, so nothing is missed or printed twice.
 */
export const watch: Command = {
  name: 'watch',
  summary: 'live tail of changes; resumes after disconnects and gateway restarts without gaps',
  usage:
    'watch [PREFIX] [--keys a,b] [--since REVISION] [--count N]\n' +
    '  --since REVISION   first replay every change after REVISION\n' +
    '  --count N          exit after N changes (scripts)\n' +
    '  --json             one JSON object per line',
  options: { keys: { type: 'string' }, since: { type: 'string' }, count: { type: 'string' } },
  async run(context) {
    const namespace = context.namespace();
    const prefix = context.args[0] ?? null;
    const keys = stringOption(context.values, 'keys')?.split(',').map((k) => k.trim()).filter(Boolean) ?? null;
    const maxCount = intOption(context.values, 'count', 1);
    const { output, signal } = context;
    const client = context.client();
    const cursor = createTailCursor(intOption(context.values, 'since') ?? (await currentRevision(context, namespace)));
    let printed = 0;
    let failures = 0;
    let connected = false;
    let relist = false;
    output.err(`watching ${namespace}${prefix ? ` under ${prefix}` : ''} from revision ${cursor.since} (Ctrl-C to stop)\n`);
    if (signal.aborted) return EXIT.OK;

    const stream = createRevisionStream<CliWatchSubscription>({
      urls: [client.url],
      impl: await resolveWebSocketImpl(undefined),
      token: async () => client.token ?? undefined,
      refreshableToken: false,
      query: WatchDocument.toString(),
      variables: () => ({ namespace, prefix, keys, sinceRevision: cursor.resumeFrom() }),
      ackTimeoutMs: 10_000, // 10 s
      keepAliveMs: 10_000, // 10 s
      pongTimeoutMs: 5_000, // 5 s
      // A restarting gateway is back in seconds: the backoff stops growing at 5 s.
      backoffInitialMs: 200,
      backoffMaxMs: 5_000,
      beforeWatch: async () => {
        connected = false;
        if (!relist) return;
        cursor.restart(await currentRevision(context, namespace));
        relist = false;
      },
      onConnected: () => {
        connected = true;
        if (failures > 0) output.err(`reconnected; resuming after revision ${cursor.since}\n`);
        failures = 0;
      },
      onData: ({ configChanged: change }) => {
        if (!cursor.accept(change)) return null;
        output.out(context.json ? `${JSON.stringify(change)}\n` : line(change));
        printed += 1;
        if (maxCount !== undefined && printed >= maxCount) stream.stop();
        return null;
      },
      onRetry: ({ error, verdict, delayMs }) => {
        if (verdict.action === 'relist') {
          output.err(`revision ${cursor.since} cannot be resumed (${error?.code}): continuing from the current revision\n`);
          relist = true;
          return;
        }
        failures += 1;
        output.err(`${connected ? 'disconnected' : 'cannot connect'} (${describe(error)}); retrying in ${(delayMs / 1000).toFixed(1)} s\n`);
      },
    });
    // Sockets and timers of the client library do not keep the process alive; the command does.
    const lifeline = setInterval(() => {}, 2 ** 31 - 1);
    // One listener for the whole command, however many reconnects.
    const onAbort = () => stream.stop();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const fatal = await stream.run();
      if (fatal) throw errorFromClient(fatal);
      return EXIT.OK;
    } finally {
      signal.removeEventListener('abort', onAbort);
      clearInterval(lifeline);
    }
  },
};
