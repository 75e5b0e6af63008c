import WebSocket from 'ws';
import { ConfigChangedDocument } from '../src/client/generated/operations.js';
import { createBenchContext } from './suite/context.js';
const context = createBenchContext({ rounds: 1, profile: false });
const N = 2000, PER = 100;
try {
  const [a, b] = await context.gateways();
  const token = await context.token();
  const ns = `repro-${Date.now().toString(36)}`;
  const rev = await context.setConfig(a.url, ns, 'seed', 0);
  const got: Array<Map<string, number>> = Array.from({ length: N }, () => new Map());
  const other: string[] = [];
  const sockets: WebSocket[] = [];
  await Promise.all(Array.from({ length: N / PER }, (_, s) => new Promise<void>((resolve) => {
    const ws = new WebSocket(b.wsUrl, 'graphql-transport-ws'); sockets.push(ws);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString());
      if (m.type === 'connection_ack') { for (let i = s * PER; i < (s + 1) * PER; i++) ws.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query: ConfigChangedDocument.toString(), variables: { namespace: ns, prefix: null, sinceRevision: rev } } })); resolve(); return; }
      if (m.type === 'next') { const c = m.payload.data.configChanged; got[Number(m.id)]!.set(`${c.key}@${c.revision}${c.replayed ? 'r' : ''}`, Date.now()); }
      else other.push(raw.toString().slice(0, 200));
    });
  })));
  const has = (key: string) => got.filter((g) => [...g.keys()].some((k) => k.startsWith(key))).length;
  const probeRev = await context.setConfig(a.url, ns, 'probe', 1);
  const t0 = Date.now();
  while (has(`probe@${probeRev}`) < N && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 5));
  console.log(`probe r${probeRev}: ${has(`probe@${probeRev}`)}/${N} after ${Date.now() - t0} ms (replayed: ${got.filter((g) => g.has(`probe@${probeRev}r`)).length})`);
  const xRev = await context.setConfig(a.url, ns, 'x', 1);
  await new Promise((r) => setTimeout(r, 10_000));
  console.log(`x r${xRev} right after: ${has(`x@${xRev}`)}/${N} after 10 s`);
  const missing = got.map((g, i) => [i, g] as const).filter(([, g]) => ![...g.keys()].some((k) => k.startsWith(`x@${xRev}`)));
  const probeReplayedAmongMissing = missing.filter(([, g]) => g.has(`probe@${probeRev}r`)).length;
  console.log(`missing ${missing.length}; of them got the probe by replay: ${probeReplayedAmongMissing}; other messages: ${other.length} ${other.slice(0, 2).join(' | ')}`);
  const yRev = await context.setConfig(a.url, ns, 'y', 1);
  await new Promise((r) => setTimeout(r, 5_000));
  console.log(`y r${yRev} later: ${has(`y@${yRev}`)}/${N}; x now: ${has(`x@${xRev}`)}/${N}`);
  if (missing[0]) console.log(`a missing subscription saw: ${[...missing[0][1].keys()].join(', ')}`);
  for (const ws of sockets) ws.terminate();
} finally { await context.close(); }
