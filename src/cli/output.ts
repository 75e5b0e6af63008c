/** Terminal output: aligned tables, compact values, a progress bar on stderr. */

export interface Output {
  /** Write to stdout (results). */
  out(text: string): void;
  /** Write to stderr (progress, notices, errors). */
  err(text: string): void;
  /** Whether stderr is a terminal (progress redraws in place) . */
  readonly errIsTTY: boolean;
  /** Whether stdin is a terminal (confirmation prompts are possible). */
  readonly stdinIsTTY: boolean;
}

/** The process's own streams. */
export function processOutput(): Output {
  return {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    errIsTTY: Boolean(process.stderr.isTTY),
    stdinIsTTY: Boolean(process.stdin.isTTY),
  };
}

/** A value as one line of JSON, cut to `max` characters. */
export function compact(value: unknown, max = 60): string {
  if (value === undefined) return '';
  const text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** `key  value` lines, keys aligned. */
export function fields(pairs: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}

/** ISO time → `2024-05-01 12:34:56Z` (shorter, still unambiguous). */
export function when(iso: string | null | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export interface Progress {
  update(done: number): void;
  done(message?: string): void;
}

/**
 * A progress bar on stderr: redrawn in place on a terminal, otherwise one line per quarter so
 * logs of scripted runs stay short.
 */
export function progressBar(output: Output, label: string, total: number, unit = ''): Progress {
  let lastQuarter = -1;
  let lastDraw = 0;
  const render = (done: number) => {
    const ratio = total > 0 ? Math.min(1, done / total) : 1;
    const width = 30;
    const filled = Math.round(ratio * width);
    return `${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${Math.floor(ratio * 100)}% ${done}/${total}${unit}`;
  };
  return {
    update(done) {
      if (output.errIsTTY) {
        const now = Date.now();
        if (now - lastDraw < 50 && done < total) return;
        lastDraw = now;
        output.err(`\r${render(done)}`);
        return;
      }
      const quarter = total > 0 ? Math.floor((Math.min(done, total) / total) * 4) : 4;
      if (quarter > lastQuarter) {
        lastQuarter = quarter;
        output.err(`${render(done)}\n`);
      }
    },
    done(message) {
      if (output.errIsTTY) output.err(`\r${render(total)}\n`);
      else if (lastQuarter < 4) output.err(`${render(total)}\n`);
      if (message) output.err(`${message}\n`);
    },
  };
}

export interface Waiting {
  /** Stops the indicator and prints `message` (if any) on its own line. */
  done(message?: string): void;
}

/**
 * An honest "still waiting" for work whose progress cannot be measured (a transaction runs as
 * one step): the label and the elapsed time, redrawn every 200 ms on a terminal; otherwise the
 * label once and a line every `everyMs` so logs of scripted runs show it is alive.
 */
export function waitingIndicator(output: Output, label: string, { everyMs = 5_000 /* 5 s */ } = {}): Waiting {
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  const frames = ['|', '/', '-', '\\'];
  let frame = 0;
  let timer: NodeJS.Timeout;
  if (output.errIsTTY) {
    const draw = () => output.err(`\r${label} ${frames[frame++ % frames.length]} ${elapsed()}`);
    draw();
    timer = setInterval(draw, 200);
  } else {
    output.err(`${label}\n`);
    timer = setInterval(() => output.err(`  still waiting: ${elapsed()}\n`), everyMs);
  }
  timer.unref();
  return {
    done(message) {
      clearInterval(timer);
      if (output.errIsTTY) output.err(`\r${label}   ${elapsed()}\n`);
      if (message) output.err(`${message.replace('{elapsed}', elapsed())}\n`);
    },
  };
}
