/**
 * Reads a README into the steps a person would follow, so a test can run them exactly as
 * written. Conventions (HTML comments, invisible on a rendered page):
 *
 * - A ```sh block is a command: run in one shell session, in order (exports carry over).
 * - A ```text or ```json block right after a command block is its standard output: text is
 *   compared line by line (`…` stands for any text within a line), JSON by value.
 * - `<!-- readme-test: background until http://HOST:PORT/PATH -->` before a command block: it
 *   keeps running (a gateway); the next step waits until that URL answers 200.
 *   `<!-- readme-test: background until "TEXT" -->`: until its output contains TEXT.
 * - `<!-- readme-test: background output -->` before a text block: the last background
 *   command prints these lines (eventually).
 * - `<!-- readme-test: stop -->`: stop every background command (Ctrl-C).
 * - `<!-- readme-test: file NAME -->` before any block: its text is saved as NAME.
 * - `<!-- readme-test: ci -->` before a command block: the test command; `.ci/run` runs it.
 * Other code blocks (```graphql excerpts) are documentation, not steps.
 */

export type ReadmeStep =
  | { kind: 'run'; line: number; script: string; stdout?: Expected }
  | { kind: 'background'; line: number; script: string; until: { url: string } | { text: string } }
  | { kind: 'background-output'; line: number; expected: string }
  | { kind: 'stop'; line: number }
  | { kind: 'file'; line: number; name: string; text: string }
  | { kind: 'ci'; line: number; script: string };

export type Expected = { format: 'text'; text: string } | { format: 'json'; value: unknown };

const SHELL = new Set(['sh', 'bash', 'shell']);
const MARKER = /^<!--\s*readme-test:\s*(.*?)\s*-->\s*$/;

/** The steps of a README, in order. Throws on a marker it does not understand. */
export function readmeSteps(markdown: string): ReadmeStep[] {
  const lines = markdown.split('\n');
  const steps: ReadmeStep[] = [];
  let marker: { text: string; line: number } | null = null;
  let lastCodeEnd = -10;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const found = MARKER.exec(line);
    if (found) {
      if (found[1] === 'stop') steps.push({ kind: 'stop', line: i + 1 });
      else marker = { text: found[1]!, line: i + 1 };
      continue;
    }
    const fence = /^(`{3,})\s*([\w-]*)/.exec(line);
    if (!fence) {
      if (line.trim() !== '') lastCodeEnd = -10;
      continue;
    }
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.startsWith(fence[1]!); i++) body.push(lines[i]!);
    const text = body.join('\n');
    const lang = fence[2]!.toLowerCase();
    const followsCommand = lastCodeEnd >= 0 && steps.at(-1)?.kind === 'run';
    lastCodeEnd = i;
    const at = start + 1;
    const use = marker;
    marker = null;

    if (use?.text.startsWith('file ')) {
      steps.push({ kind: 'file', line: at, name: use.text.slice(5).trim(), text: `${text}\n` });
    } else if (use?.text === 'ci') {
      steps.push({ kind: 'ci', line: at, script: text });
    } else if (use?.text.startsWith('background until ')) {
      const target = use.text.slice('background until '.length).trim();
      const until = /^https?:\/\//.test(target) ? { url: target } : { text: JSON.parse(target) as string };
      steps.push({ kind: 'background', line: at, script: text, until });
    } else if (use?.text === 'background output') {
      steps.push({ kind: 'background-output', line: at, expected: text });
    } else if (use) {
      throw new Error(`README line ${use.line}: unknown readme-test marker "${use.text}"`);
    } else if (SHELL.has(lang)) {
      steps.push({ kind: 'run', line: at, script: text });
    } else if ((lang === 'text' || lang === 'json') && followsCommand) {
      const run = steps.at(-1) as Extract<ReadmeStep, { kind: 'run' }>;
      run.stdout = lang === 'json' ? { format: 'json', value: JSON.parse(text) } : { format: 'text', text };
    }
    // Anything else (a GraphQL excerpt) is documentation.
  }
  return steps;
}

/** Whether `actual` matches `expected` line by line, `…` standing for any text within a line. */
export function matchesText(actual: string, expected: string): boolean {
  const want = expected.replace(/\s+$/, '').split('\n');
  const got = actual.replace(/\s+$/, '').split('\n');
  if (want.length !== got.length) return false;
  return want.every((line, index) => lineMatcher(line).test(got[index]!.trimEnd()));
}

/** Whether every line of `expected` appears, in order, among the lines of `actual`. */
export function containsLines(actual: string, expected: string): boolean {
  const got = actual.split('\n').map((line) => line.trimEnd());
  let from = 0;
  for (const line of expected.replace(/\s+$/, '').split('\n')) {
    const matcher = lineMatcher(line);
    const at = got.findIndex((candidate, index) => index >= from && matcher.test(candidate));
    if (at < 0) return false;
    from = at + 1;
  }
  return true;
}

function lineMatcher(line: string): RegExp {
  const parts = line.trimEnd().split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*?')}$`);
}

/** Relative link targets of a markdown text (inline links and images), without anchors. */
export function relativeLinks(markdown: string): string[] {
  const targets: string[] = [];
  // Outside code: links in fenced blocks or inline code are text, not links.
  const prose = markdown.replace(/^(`{3,})[\s\S]*?^\1/gm, '').replace(/`[^`\n]*`/g, '');
  for (const match of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    const target = match[1]!;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue;
    targets.push(target.split('#')[0]!);
  }
  return targets;
}
