/**
 * The README, followed to the letter: every shell block runs exactly as written, in order, in
 * one shell session, in a fresh copy of the repository (so `npm install` and `npm start` are
 * the real ones), and every shown answer is compared with what it printed.
 *
 * The commands use the README's fixed addresses (port 4000, PostgreSQL on 5432, Redis on 6379,
 * a database named `hotconf`), so they run in a network namespace of their own (`unshare
 * --net`, root), with a private PostgreSQL and Redis on those ports inside it: nothing on this
 * machine is touched, and two runs never meet. With no network inside, `npm install` installs
 * from npm's cache, which the install of this checkout filled.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/net.js';
import { containsLines, matchesText, readmeSteps, relativeLinks } from '../helpers/readme.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** A README step may install and build (`npm install`) on a loaded machine. */
const STEP_CEILING_S = 600;


describe('README', () => {
  it('links only to files inside the repository, and every linked file exists', () => {
    const documents = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const broken: string[] = [];
    for (const document of documents) {
      for (const target of relativeLinks(readFileSync(join(ROOT, document), 'utf8'))) {
        const path = relative(ROOT, resolve(ROOT, dirname(document), target));
        if (path.startsWith('..') || isAbsolute(path)) broken.push(`${document} → ${target} (outside the repository)`);
        else if (!existsSync(join(ROOT, path))) broken.push(`${document} → ${target} (no such file)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('lists every setting the gateway reads', () => {
    const config = readFileSync(join(ROOT, 'src/config.ts'), 'utf8');
    const names = new Set([...config.matchAll(/\benv(?:\.|, ')([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!));
    expect(names.size).toBeGreaterThan(5);
    const table = README.slice(README.indexOf('## Settings'));
    expect([...names].filter((name) => !table.includes(`\`${name}\``))).toEqual([]);
  });

  it('the test command is what CI runs', () => {
    const ci = readmeSteps(README).filter((step) => step.kind === 'ci');
    expect(ci.map((step) => step.script)).toEqual(['npm install && npm test']);
    // CI installs exactly the lockfile (`npm ci`), then runs the same `npm test`.
    expect(readFileSync(join(ROOT, '.ci/run'), 'utf8')).toMatch(/^npm ci\b.*\nnpm test$/m);
  });

  describe('followed to the letter in a fresh copy', () => {
    // Made when the test runs, not when the file is collected (a filtered-out run leaves nothing).
    let scratch = '';
    let repo = '';
    let shell: ChildProcessWithoutNullStreams | null = null;
    let shellOutput = '';
    let shellErrors = '';
    let ended: number | null = null;
    const backgrounds: Array<{ pid: number; log: string; line: number }> = [];

    afterAll(async () => {
      if (!scratch) return;
      for (const { pid } of backgrounds) signalGroup(pid, 'SIGKILL');
      const data = join(scratch, 'pg', 'data');
      if (existsSync(join(data, 'postmaster.pid'))) spawnSync('runuser', ['-u', 'postgres', '--', pgBin('pg_ctl'), '-D', data, '-m', 'immediate', 'stop']);
      const redisPid = Number(readIfExists(join(scratch, 'redis.pid')));
      if (redisPid > 0) signalGroup(redisPid, 'SIGKILL');
      if (shell?.pid && ended === null) signalGroup(shell.pid, 'SIGKILL');
      rmSync(scratch, { recursive: true, force: true });
    });

    /** Sends `text` to the shell and waits for the line `__DONE__ <status>` it ends with. */
    let done = 0;
    const send = async (text: string, what: string): Promise<number> => {
      const marker = `__DONE__${++done}`;
      shell!.stdin.write(`${text}\necho "${marker} $?"\n`);
      let status: number | null = null;
      await waitFor(
        () => {
          if (ended !== null) throw new Error(`the shell ended (code ${ended}) during ${what}:\n${shellErrors.slice(-4_000)}`);
          const match = new RegExp(`${marker} (\\d+)`).exec(shellOutput);
          if (match) status = Number(match[1]);
          return status !== null;
        },
        STEP_CEILING_S * 1_000,
        what,
      );
      return status!;
    };

    it('runs every command and shows every answer it documents', async () => {
      const steps = readmeSteps(README);
      expect(steps.filter((step) => step.kind === 'run').length).toBeGreaterThan(5);
      scratch = mkdtempSync(join(tmpdir(), 'hotconf-readme-'));
      repo = join(scratch, 'hotconf');
      const isolated = spawnSync('unshare', ['--net', 'true']);
      if (isolated.status !== 0) throw new Error(`cannot make a network namespace (unshare --net, needs root): ${isolated.stderr?.toString() || isolated.error?.message}`);
      prepareCopy(repo);
      chmodSync(scratch, 0o755); // PostgreSQL runs as its own user and must reach its directory

      shell = spawn('unshare', ['--net', '--', 'bash', '--norc', '--noprofile'], { cwd: repo, env: shellEnvironment(), detached: true });
      shell.stdout.on('data', (chunk: Buffer) => (shellOutput += chunk.toString()));
      shell.stderr.on('data', (chunk: Buffer) => (shellErrors = (shellErrors + chunk.toString()).slice(-16_000)));
      shell.on('exit', (code) => (ended = code ?? -1));
      expect(await send(preamble(scratch), 'the private PostgreSQL and Redis')).toBe(0);

      let step = 0;
      const timings: string[] = [];
      let stepStarted = performance.now();
      for (const current of steps) {
        if (step > 0) timings.push(`line ${steps[step - 1]!.line}: ${((performance.now() - stepStarted) / 1000).toFixed(1)} s`);
        stepStarted = performance.now();
        step += 1;
        const where = `README line ${current.line}`;
        const out = join(scratch, `step-${step}.out`);
        const err = join(scratch, `step-${step}.err`);
        switch (current.kind) {
          case 'ci':
            break; // checked above: `npm test` cannot run itself
          case 'file':
            writeFileSync(join(repo, current.name), current.text);
            break;
          case 'run': {
            // `set -e` (from the preamble) ends the shell at the first failing command.
            await send(`{\n${current.script}\n} < /dev/null > ${out} 2> ${err}`, `${where}: ${firstLine(current.script)}\n${tail(err)}`);
            const stdout = readFileSync(out, 'utf8');
            if (current.stdout?.format === 'json') expect(JSON.parse(stdout), `${where} (stderr: ${tail(err)})`).toEqual(current.stdout.value);
            else if (current.stdout) expect(matchesText(stdout, current.stdout.text), `${where} printed:\n${stdout}\nstderr: ${tail(err)}\nexpected:\n${current.stdout.text}`).toBe(true);
            break;
          }
          case 'background': {
            await send(`( ${current.script}\n) < /dev/null > ${out} 2>&1 &\necho "__PID__${step} $!"`, `${where}: start`);
            const pid = Number(new RegExp(`__PID__${step} (\\d+)`).exec(shellOutput)![1]);
            backgrounds.push({ pid, log: out, line: current.line });
            if ('url' in current.until) {
              const { url } = current.until;
              // Inside the namespace: poll until the URL answers, the command ends, or the ceiling.
              await send(
                `deadline=$((SECONDS + ${STEP_CEILING_S}))\n` +
                  `until curl -sf -o /dev/null ${url}; do { kill -0 ${pid} 2>/dev/null && [ $SECONDS -lt $deadline ]; } || break; sleep 0.5; done\n` +
                  `curl -sf -o /dev/null ${url} && echo "__UP__${step}" || echo "__DOWN__${step}"`,
                `${where}: waiting for ${url}`,
              );
              const printed = tail(out, 6_000);
              // The namespace has no network: a package whose metadata npm never cached cannot install.
              const hint = /ENOTCACHED/.test(printed) ? '\n(npm\'s cache lacks a package\'s metadata: `npm ci` once, or `npm cache add NAME@VERSION`)' : '';
              expect(shellOutput.includes(`__UP__${step}`), `${where}: ${url} never answered; the command printed:\n${printed}${hint}`).toBe(true);
            } else {
              const text = current.until.text;
              await waitFor(() => readIfExists(out).includes(text) || !alive(pid), STEP_CEILING_S * 1_000, `${where}: "${text}"`);
              expect(readIfExists(out), `${where} ended before printing "${text}"`).toContain(text);
            }
            break;
          }
          case 'background-output': {
            const last = backgrounds.at(-1)!;
            await waitFor(() => containsLines(readIfExists(last.log), current.expected) || !alive(last.pid), STEP_CEILING_S * 1_000, `${where}`);
            expect(containsLines(readIfExists(last.log), current.expected), `${where}: README line ${last.line} printed:\n${readIfExists(last.log)}`).toBe(true);
            break;
          }
          case 'stop': {
            // Ctrl-C: SIGINT to each background command's process group; then wait for it to end.
            const running = backgrounds.splice(0).filter(({ pid }) => alive(pid));
            if (running.length > 0) {
              await send(running.map(({ pid }) => `kill -INT -- -${pid} 2>/dev/null; wait ${pid} || true`).join('\n'), `${where}: stop`);
            }
            break;
          }
        }
      }
      console.info(`README steps: ${timings.join(', ')}`);
    }, 1_800_000);
  });
});

/** Tracked and new (not ignored) files of this checkout: what a fresh clone of it would hold. */
function prepareCopy(repo: string): void {
  const listed = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  mkdirSync(repo, { recursive: true });
  for (const file of listed.stdout.split('\0').filter(Boolean)) {
    if (!existsSync(join(ROOT, file))) continue; // deleted, not yet committed
    mkdirSync(dirname(join(repo, file)), { recursive: true });
    cpSync(join(ROOT, file), join(repo, file));
  }
}

/** A person's shell: no npm or vitest variables, no `USER`, no node_modules/.bin on PATH. */
function shellEnvironment(): Record<string, string> {
  const path = (process.env.PATH ?? '').split(':').filter((entry) => entry && !entry.includes('node_modules')).join(':');
  return {
    PATH: path,
    HOME: process.env.HOME ?? '/root',
    LANG: 'C.UTF-8',
    // No network in the namespace: npm installs from its cache, and does not phone home.
    npm_config_offline: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };
}

/** Starts the network, then a private PostgreSQL and Redis on their usual ports (inside only). */
function preamble(scratch: string): string {
  // Everything PostgreSQL writes (data, socket, log) is in a directory its own user owns.
  const run = join(scratch, 'pg');
  return [
    'set -e -o pipefail -m', // stop at the first failing command; background jobs get their own group
    'ip link set lo up',
    `mkdir -p ${run} && chown postgres ${run}`,
    `runuser -u postgres -- ${pgBin('initdb')} -D ${run}/data -U postgres --auth=trust > ${run}/initdb.log 2>&1`,
    `runuser -u postgres -- ${pgBin('pg_ctl')} -D ${run}/data -w -l ${run}/pg.log -o "-c listen_addresses=127.0.0.1 -p 5432 -k ${run} -c fsync=off" start > /dev/null`,
    `(exec redis-server --bind 127.0.0.1 --port 6379 --save "" --appendonly no) > ${scratch}/redis.log 2>&1 &`,
    `echo $! > ${scratch}/redis.pid`,
    'until [ "$(redis-cli -p 6379 ping 2>/dev/null)" = PONG ]; do sleep 0.2; done',
  ].join('\n');
}

function pgBin(name: string): string {
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const path = `/usr/lib/postgresql/${version}/bin/${name}`;
    if (existsSync(path)) return path;
  }
  return name;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Signals the process group that `pid` leads (a background job of the shell, or the shell). */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function readIfExists(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function tail(path: string, chars = 2_000): string {
  return readIfExists(path).slice(-chars);
}

function firstLine(script: string): string {
  return script.split('\n')[0]!;
}

