import { setTimeout as sleep } from 'node:timers/promises';
import { intOption, stringOption, type Command, type CommandContext } from '../context.js';
import { CliError, EXIT } from '../exit-codes.js';
import { errorFromResponse, type ResponseError } from '../gateway-client.js';
import { NamespacesDocument, WatchDocument, type ChangeResult } from '../operations.js';
import { compact, when } from '../output.js';

const RELIST = new Set(['REVISION_COMPACTED', 'REVISION_AHEAD']);
const FATAL = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED']);
/** graphql-ws close codes after which reconnecting cannot help (bad request, auth). */
const FATAL_CLOSE = new Set([4400, 4401, 4403, 4406, 4409, 4429]);

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

function closeCode(event: unknown): number | null {
  const code = (event as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : null;
}

/**
 * `watch [PREFIX]`: a live tail of a namespace's changes over graphql-ws. After any disconnect
 * (network, gateway restart, deploy) it reconnects with backoff and resumes with
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
    let since = intOption(context.values, 'since') ?? (await currentRevision(context, namespace));
    // Keys already printed at revision `since`: a batch shares one revision, and a disconnect in
    // the middle of one must resume inside it without printing its first keys twice.
    let printedAtSince = new Set<string>();
    let printed = 0;
    let failures = 0;
    output.err(`watching ${namespace}${prefix ? ` under ${prefix}` : ''} from revision ${since} (Ctrl-C to stop)\n`);

    while (!signal.aborted) {
      let connected = false;
      let lastClose: unknown = null;
      const ws = context.client().webSocket({
        onConnected: () => {
          connected = true;
          if (failures > 0) output.err(`reconnected; resuming after revision ${since}\n`);
          failures = 0;
        },
        onClosed: (event) => {
          lastClose = event;
        },
      });
      let onAbort = () => {};
      const outcome = await new Promise<{ kind: 'done' } | { kind: 'error'; error: unknown }>((resolve) => {
        const stop = ws.subscribe(
          { query: WATCH_QUERY, variables: { namespace, prefix, keys, sinceRevision: printedAtSince.size > 0 ? since - 1 : since } },
          {
            next: (result) => {
              if (result.errors?.length) {
                resolve({ kind: 'error', error: errorFromResponse(result.errors as unknown as ResponseError[]) });
                return;
              }
              const change = (result.data as { configChanged?: ChangeResult } | null | undefined)?.configChanged;
              if (!change) return;
              if (change.revision < since || (change.revision === since && printedAtSince.has(change.key))) return;
              if (change.revision > since) {
                since = change.revision;
                printedAtSince = new Set();
              }
              printedAtSince.add(change.key);
              output.out(context.json ? `${JSON.stringify(change)}\n` : line(change));
              printed += 1;
              if (maxCount !== undefined && printed >= maxCount) {
                stop();
                resolve({ kind: 'done' });
              }
            },
            error: (error) => resolve({ kind: 'error', error }),
            complete: () => resolve({ kind: 'error', error: new Error('the gateway ended the subscription') }),
          },
        );
        onAbort = () => {
          stop();
          resolve({ kind: 'done' });
        };
        signal.addEventListener('abort', onAbort, { once: true });
      });
      // One listener per attempt, removed with it: a gateway down for long means many attempts
      // (they used to pile up into a MaxListenersExceededWarning after ~11).
      signal.removeEventListener('abort', onAbort);
      await ws.dispose();
      if (outcome.kind === 'done') return EXIT.OK;

      const error = outcome.error;
      if (Array.isArray(error)) {
        // graphql-ws hands GraphQL errors of a refused subscribe as an array.
        const cliError = errorFromResponse(error as ResponseError[]);
        if (cliError.code && RELIST.has(cliError.code)) {
          output.err(`revision ${since} cannot be resumed (${cliError.code}): continuing from the current revision\n`);
          since = await currentRevision(context, namespace);
          printedAtSince = new Set();
          continue;
        }
        throw cliError;
      }
      if (error instanceof CliError) {
        if (error.code && RELIST.has(error.code)) {
          output.err(`revision ${since} cannot be resumed (${error.code}): continuing from the current revision\n`);
          since = await currentRevision(context, namespace).catch(() => since);
          printedAtSince = new Set();
          continue;
        }
        if (error.code && FATAL.has(error.code)) throw error;
      }
      const code = closeCode(error) ?? closeCode(lastClose);
      if (code !== null && FATAL_CLOSE.has(code)) {
        throw new CliError(`the gateway closed the connection (${code}${(error as { reason?: string }).reason ? `: ${(error as { reason?: string }).reason}` : ''})`, code === 4401 || code === 4403 ? EXIT.AUTH : EXIT.USAGE);
      }
      failures += 1;
      // Exponential backoff with jitter, capped at 5 s: a restarting gateway is back in seconds.
      const delay = Math.min(5_000, 200 * 2 ** Math.min(failures - 1, 5)) * (0.5 + Math.random() / 2);
      output.err(`${connected ? 'disconnected' : 'cannot connect'} (${describe(error, code)}); retrying in ${(delay / 1000).toFixed(1)} s\n`);
      try {
        await sleep(delay, undefined, { signal });
      } catch {
        return EXIT.OK; // aborted while waiting
      }
    }
    return EXIT.OK;
  },
};

function describe(error: unknown, code: number | null): string {
  if (code !== null) return `close code ${code}`;
  if (error instanceof Error) return (error as NodeJS.ErrnoException).code ?? error.message;
  return 'connection lost';
}

const WATCH_QUERY = WatchDocument.toString();
