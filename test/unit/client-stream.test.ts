/**
 * The client library's state machines, driven by fakes (no sockets, no timers): the close-code
 * policy, the backoff, whole-revision assembly, and the connection loop's resume/relist/rotate.
 */
import { describe, expect, it } from 'vitest';
import { closeCodeOf, describeSocketFailure, judge } from '../../src/client/close-codes.js';
import type { Ending } from '../../src/client/close-codes.js';
import type { Watch, WatchOptions } from '../../src/client/connection.js';
import { ConfigClientError } from '../../src/client/errors.js';
import { createRevisionAssembler } from '../../src/client/revision-assembler.js';
import { backoffDelay, createRevisionStream, type Retry } from '../../src/client/revision-stream.js';
import type { WebSocketConstructor } from '../../src/client/web-socket.js';

const err = (code: string) => new ConfigClientError(code, code);
const closed = (code: number, reason = '') => describeSocketFailure({ code, reason }, 'ws://gw/graphql');

describe('close-code policy', () => {
  const fixed = { refreshableToken: false };
  const refreshable = { refreshableToken: true };

  it('maps close events to error codes: 4401/4403 by name, others as CLOSE_<code>', () => {
    expect(closed(4401, 'Token expired').code).toBe('UNAUTHENTICATED');
    expect(closed(4403).code).toBe('FORBIDDEN');
    expect(closed(1006).code).toBe('CLOSE_1006');
    expect(closed(4400).code).toBe('CLOSE_4400');
    expect(closeCodeOf('CLOSE_1001')).toBe(1001);
    expect(closeCodeOf('UNAUTHENTICATED')).toBeNull();
    expect(describeSocketFailure([{ message: 'gone', extensions: { code: 'REVISION_COMPACTED' } }], 'ws://gw').code).toBe('REVISION_COMPACTED');
  });

  it('stops on a refused token (fixed), on 4403 whatever the token, and on bad input', () => {
    for (const code of ['UNAUTHENTICATED', 'HTTP_401', 'FORBIDDEN', 'HTTP_403', 'BAD_USER_INPUT']) {
      expect(judge({ error: err(code), acknowledged: false }, fixed), code).toEqual({ action: 'stop' });
    }
    // graphql-ws retries 4403 by default; here a token that grants nothing is final.
    expect(judge({ error: closed(4403), acknowledged: true }, refreshable)).toEqual({ action: 'stop' });
    expect(judge({ error: err('HTTP_403'), acknowledged: false }, refreshable)).toEqual({ action: 'stop' });
  });

  it('with a token function: an expired token (4401 after ack) reconnects on the same URL, unreported', () => {
    expect(judge({ error: closed(4401), acknowledged: true }, refreshable)).toEqual({ action: 'retry', report: false, rotate: false });
    // Refused at connect: reported, and the next URL is tried as for any failure.
    expect(judge({ error: closed(4401), acknowledged: false }, refreshable)).toEqual({ action: 'retry', report: true, rotate: true });
  });

  it('relists on REVISION_* on the same URL, unreported', () => {
    for (const code of ['REVISION_COMPACTED', 'REVISION_AHEAD']) {
      expect(judge({ error: err(code), acknowledged: true }, fixed)).toEqual({ action: 'relist', report: false, rotate: false });
    }
  });

  it('a gateway going away (1000/1001 after ack) is a quiet move to the next URL; before ack it is a failure', () => {
    expect(judge({ error: closed(1001), acknowledged: true }, fixed)).toEqual({ action: 'retry', report: false, rotate: true });
    expect(judge({ error: closed(1000), acknowledged: false }, fixed)).toEqual({ action: 'retry', report: true, rotate: true });
    expect(judge({ error: null, acknowledged: true }, fixed)).toEqual({ action: 'retry', report: false, rotate: true });
  });

  it('retries everything else with a report: network, timeouts, protocol close codes', () => {
    for (const error of [err('ECONNREFUSED'), err('HTTP_502'), err('TIMEOUT'), err('PONG_TIMEOUT'), closed(1006), closed(1013), closed(4400), closed(4429), closed(4500), err('GRAPHQL_VALIDATION_FAILED')]) {
      expect(judge({ error, acknowledged: true }, fixed), error.code).toEqual({ action: 'retry', report: true, rotate: true });
    }
    // The token function failed: not the gateway's fault, so the same URL.
    expect(judge({ error: err('TOKEN_UNAVAILABLE'), acknowledged: false }, refreshable)).toEqual({ action: 'retry', report: true, rotate: false });
  });
});

describe('backoff', () => {
  const limits = { initialMs: 200, maxMs: 10_000 };
  it('fails over almost at once in the first round, then doubles per round up to the cap, with jitter in [50%, 100%]', () => {
    const top = () => 0.999999;
    expect(backoffDelay(1, 3, limits, top)).toBeCloseTo(50, 0);
    expect(backoffDelay(3, 3, limits, top)).toBeCloseTo(50, 0);
    expect(backoffDelay(4, 3, limits, top)).toBeCloseTo(200, 0);
    expect(backoffDelay(7, 3, limits, top)).toBeCloseTo(400, 0);
    expect(backoffDelay(300, 3, limits, top)).toBeCloseTo(10_000, 0);
    expect(backoffDelay(300, 3, limits, () => 0)).toBe(5_000);
  });
});

describe('whole revisions', () => {
  type Part = { key: string; revision: number; lastInRevision: boolean };
  const part = (key: string, revision: number, lastInRevision = true): Part => ({ key, revision, lastInRevision });

  it('hands over a revision only when its last change arrives, and skips applied ones', () => {
    const assembler = createRevisionAssembler<Part>();
    expect(assembler.push(part('a', 5, false), 4)).toEqual({ kind: 'wait' });
    expect(assembler.push(part('b', 5, false), 4)).toEqual({ kind: 'wait' });
    expect(assembler.push(part('c', 5), 4)).toEqual({ kind: 'revision', revision: 5, changes: [part('a', 5, false), part('b', 5, false), part('c', 5)] });
    expect(assembler.push(part('c', 5), 5)).toEqual({ kind: 'wait' });
    expect(assembler.push(part('d', 6), 5)).toEqual({ kind: 'revision', revision: 6, changes: [part('d', 6)] });
  });

  it('a revision that starts before the previous one ended breaks the stream; reset drops the half', () => {
    const assembler = createRevisionAssembler<Part>();
    assembler.push(part('a', 5, false), 4);
    const broken = assembler.push(part('x', 6), 4);
    expect(broken.kind).toBe('broken');
    expect(broken.kind === 'broken' && broken.error.code).toBe('INCOMPLETE_REVISION');
    assembler.reset();
    expect(assembler.push(part('a', 5), 4)).toEqual({ kind: 'revision', revision: 5, changes: [part('a', 5)] });
  });
});

/** A scripted transport: each `open` takes the next script, which may deliver data, then ends. */
function fakeTransport(scripts: Array<(watch: WatchOptions<{ n: number }>) => Ending | Promise<Ending>>) {
  const opened: Array<{ url: string; token: string | undefined; variables: Record<string, unknown> }> = [];
  const open = <T,>(options: WatchOptions<T>): Watch => {
    const script = scripts.shift();
    opened.push({ url: options.url, token: options.token, variables: options.variables });
    let stop: (ending: Ending) => void = () => {};
    const ended = new Promise<Ending>((resolve) => {
      stop = resolve;
      if (!script) return; // runs until stopped
      void Promise.resolve(script(options as unknown as WatchOptions<{ n: number }>)).then(resolve);
    });
    return { ended, stop: () => stop({ error: null, acknowledged: true }) };
  };
  return { open, opened };
}

function stream(scripts: Parameters<typeof fakeTransport>[0], overrides: { refreshableToken?: boolean; urls?: string[]; beforeWatch?: () => Promise<void> } = {}) {
  const transport = fakeTransport(scripts);
  let position = 0;
  const retries: Retry[] = [];
  const sleeps: number[] = [];
  let tokens = 0;
  const instance = createRevisionStream<{ n: number }>({
    urls: overrides.urls ?? ['http://a/graphql', 'http://b/graphql'],
    token: async () => `token-${++tokens}`,
    refreshableToken: overrides.refreshableToken ?? true,
    query: 'subscription { x }',
    variables: () => ({ since: position }),
    ...(overrides.beforeWatch ? { beforeWatch: overrides.beforeWatch } : {}),
    onData: (data) => {
      position = data.n;
      return null;
    },
    onRetry: (retry) => void retries.push(retry),
    ackTimeoutMs: 1_000,
    keepAliveMs: 0,
    pongTimeoutMs: 1_000,
    backoffInitialMs: 200,
    backoffMaxMs: 10_000,
    impl: class {} as unknown as WebSocketConstructor,
    open: transport.open,
    sleep: async (ms) => void sleeps.push(ms),
    random: () => 0.5,
  });
  return { instance, opened: transport.opened, retries, sleeps };
}

describe('revision stream (connection loop)', () => {
  it('resumes from the position reached, with a fresh token on every attempt, rotating URLs on failure', async () => {
    const { instance, opened, retries } = stream([
      (watch) => {
        watch.onConnected?.();
        watch.onData({ n: 7 });
        return { error: closed(1006), acknowledged: true };
      },
      () => ({ error: err('ECONNREFUSED'), acknowledged: false }),
      (watch) => {
        watch.onData({ n: 9 });
        return { error: err('FORBIDDEN'), acknowledged: true };
      },
    ]);
    const fatal = await instance.run();
    expect(fatal?.code).toBe('FORBIDDEN');
    expect(opened.map((o) => [o.url, o.token, o.variables.since])).toEqual([
      ['http://a/graphql', 'token-1', 0],
      ['http://b/graphql', 'token-2', 7],
      ['http://a/graphql', 'token-3', 7],
    ]);
    expect(retries.map((r) => [r.error?.code, r.verdict.action, r.failures])).toEqual([
      ['CLOSE_1006', 'retry', 1],
      ['ECONNREFUSED', 'retry', 2],
    ]);
  });

  it('data resets the failure count, so the backoff starts over after a healthy stretch', async () => {
    const { instance, sleeps } = stream([
      () => ({ error: err('ECONNREFUSED'), acknowledged: false }),
      () => ({ error: err('ECONNREFUSED'), acknowledged: false }),
      () => ({ error: err('ECONNREFUSED'), acknowledged: false }),
      (watch) => {
        watch.onData({ n: 1 });
        return { error: closed(1006), acknowledged: true };
      },
      () => ({ error: err('BAD_USER_INPUT'), acknowledged: false }),
    ]);
    await instance.run();
    // jitter fixed at 75%: 50 → 37.5, 200 → 150
    expect(sleeps).toEqual([37.5, 37.5, 150, 37.5]);
  });

  it('relists on REVISION_COMPACTED on the same URL, and an expired token reconnects on the same URL', async () => {
    const { instance, opened, retries } = stream([
      () => ({ error: err('REVISION_COMPACTED'), acknowledged: true }),
      () => ({ error: closed(4401, 'Token expired'), acknowledged: true }),
      () => ({ error: closed(4403), acknowledged: false }),
    ]);
    expect((await instance.run())?.code).toBe('FORBIDDEN');
    expect(opened.map((o) => o.url)).toEqual(['http://a/graphql', 'http://a/graphql', 'http://a/graphql']);
    expect(retries.map((r) => [r.verdict.action, r.verdict.report])).toEqual([
      ['relist', false],
      ['retry', false],
    ]);
  });

  it('a fixed token that is refused stops at once', async () => {
    const { instance, opened } = stream([() => ({ error: closed(4401), acknowledged: false })], { refreshableToken: false });
    expect((await instance.run())?.code).toBe('UNAUTHENTICATED');
    expect(opened).toHaveLength(1);
  });

  it('stop() ends the running watch and the loop resolves null', async () => {
    const { instance, opened } = stream([]);
    const run = instance.run();
    await new Promise((resolve) => setImmediate(resolve));
    expect(opened).toHaveLength(1);
    instance.stop();
    expect(await run).toBeNull();
    expect(instance.stopped).toBe(true);
  });

  it('a failure before the watch (token function, list) is an attempt like any other', async () => {
    let calls = 0;
    const { instance, retries } = stream([() => ({ error: err('FORBIDDEN'), acknowledged: false })], {
      beforeWatch: async () => {
        calls += 1;
        if (calls === 1) throw err('HTTP_503');
      },
    });
    expect((await instance.run())?.code).toBe('FORBIDDEN');
    expect(retries.map((r) => r.error?.code)).toEqual(['HTTP_503']);
  });
});
