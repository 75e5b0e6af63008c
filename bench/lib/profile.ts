import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame lives: `<package>` for node_modules, `hotconf:<path>` for the gateway's own code, `node:` for Node's. */
function origin(url: string): string {
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const parts = url.slice(modules + 'node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return `hotconf:${url.slice(dist + 1)}`;
  if (url.startsWith('node:')) return 'node';
  return url || '(native)';
}

export interface ProfileSummary {
  /** Busy time sampled (idle excluded), ms. */
  busyMs: number;
  /** Top frames by self time: `share%  functionName  origin:line`. */
  frames: string[];
  /** Self time by package / own file, busiest first. */
  origins: string[];
}

/** Self time per frame and per package of every `.cpuprofile` in `dir` (one per process). */
export async function summarizeProfiles(dir: string, top = 15): Promise<Array<{ file: string; summary: ProfileSummary }>> {
  const files = (await readdir(dir)).filter((name) => name.endsWith('.cpuprofile')).sort();
  const results: Array<{ file: string; summary: ProfileSummary }> = [];
  for (const file of files) {
    const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    const selfByFrame = new Map<string, number>();
    const selfByOrigin = new Map<string, number>();
    let busy = 0;
    profile.samples.forEach((id, index) => {
      const node = byId.get(id);
      const delta = profile.timeDeltas[index] ?? 0;
      if (!node || node.callFrame.functionName === '(idle)') return;
      busy += delta;
      const { functionName, url, lineNumber } = node.callFrame;
      const where = origin(url);
      const frame = `${functionName || '(anonymous)'}  ${where}${url ? `:${lineNumber + 1}` : ''}`;
      selfByFrame.set(frame, (selfByFrame.get(frame) ?? 0) + delta);
      const bucket = functionName.startsWith('(') ? functionName : where;
      selfByOrigin.set(bucket, (selfByOrigin.get(bucket) ?? 0) + delta);
    });
    const ranked = (map: Map<string, number>) =>
      [...map]
        .sort((a, b) => b[1] - a[1])
        .slice(0, top)
        .map(([name, us]) => `${((100 * us) / busy).toFixed(1).padStart(5)}%  ${name}`);
    results.push({ file, summary: { busyMs: busy / 1_000, frames: ranked(selfByFrame), origins: ranked(selfByOrigin) } });
  }
  return results;
}
