/**
 * The Wireshark extcap (main/host/extcap): how long the installed entry takes to answer
 * `--extcap-interfaces` (Wireshark asks every extcap at every start; target ≤ 300 ms), and how
 * long a record takes from crossing the bus to the FIFO Wireshark reads (target ≤ 100 ms): a
 * capture of the default simulated board running its workloads, each Enhanced Packet Block's
 * timestamp (the record's wall time) against the wall time it was read from the FIFO here. The
 * same for the live-session interface, streaming what a running `serve` records while a client
 * reads its rng one request after another (the records after the capture started, not the
 * backlog it begins with).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';

import WebSocket, { type RawData } from 'ws';

import { summarize } from '../../main/host/exercise';
import { sessionsDir } from '../../main/host/extcap/discovery';
import { installExtcap } from '../../main/host/extcap/install';
import { toolDir } from '../host/wiresharkTools';

const ASKS = 20;
const CAPTURE_SECONDS = 4;
const BLOCK_EPB = 6;
const CLI = join(__dirname, '..', '..', 'main', 'host', 'cli', 'amp-workbench.cjs');

const wallNowNs = (): number => (performance.timeOrigin + performance.now()) * 1e6;

type Packet = { tsNs: number; ms: number };

/** Each packet in `bytes` from offset `at`: its timestamp and latency (ms); returns where the next whole block starts. */
function readBlocks(bytes: Buffer, at: number, nowNs: number, into: Packet[]): number {
  while (at + 12 <= bytes.length) {
    const total = bytes.readUInt32LE(at + 4);
    if (at + total > bytes.length) break;
    if (bytes.readUInt32LE(at) === BLOCK_EPB) {
      const ts = bytes.readUInt32LE(at + 12) * 2 ** 32 + bytes.readUInt32LE(at + 16);
      into.push({ tsNs: ts, ms: (nowNs - ts) / 1e6 });
    }
    at += total;
  }
  return at;
}

/** Runs the entry's capture on `iface` into a FIFO; returns its packets. */
async function fifoPackets(entry: string, dir: string, iface: string, args: string[], env: NodeJS.ProcessEnv): Promise<Packet[]> {
  const fifo = join(dir, `fifo-${iface}`);
  spawnSync('mkfifo', [fifo]);
  const child = spawn(entry, ['--capture', '--extcap-interface', iface, '--fifo', fifo, ...args], { env, stdio: 'ignore' });
  const packets: Packet[] = [];
  let buf = Buffer.alloc(0);
  await new Promise<void>((resolve) => {
    const s = createReadStream(fifo);
    s.on('data', (c) => {
      const now = wallNowNs();
      buf = Buffer.concat([buf, c as Buffer]);
      buf = buf.subarray(readBlocks(buf, 0, now, packets));
    });
    s.on('close', () => resolve());
  });
  await exited(child);
  return packets;
}

/** Drives the page's part against serve: rng reads one after another, so the live session has traffic. */
async function workloadLoop(wsUrl: string): Promise<{ stop: () => Promise<void> }> {
  const ws = new WebSocket(wsUrl);
  await new Promise((r) => ws.once('open', r));
  const replies = new Map<number, () => void>();
  ws.on('message', (d: RawData) => {
    const m = JSON.parse(String(d)) as { id?: number };
    if (m.id !== undefined) replies.get(m.id)?.();
  });
  let running = true;
  const loop = (async () => {
    for (let id = 1; running; id++) {
      await new Promise<void>((r) => {
        replies.set(id, r);
        ws.send(JSON.stringify({ id, method: 'device.workload', params: { devNum: 0, kind: 'rng-read', params: { bytes: 16 } } }));
      });
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      ws.close();
    },
  };
}

const exited = (child: ChildProcess): Promise<unknown> => (child.exitCode !== null ? Promise.resolve() : new Promise((r) => child.on('exit', r)));

export async function run(): Promise<Record<string, number>> {
  const ws = toolDir();
  try {
    const entry = installExtcap({ dir: join(ws.dir, 'extcap'), pluginsDir: join(ws.dir, 'plugins'), sessionsDir: sessionsDir('linux', {}, ws.home) }).files[0]!;
    const askMs: number[] = [];
    for (let i = 0; i < ASKS; i++) {
      const t0 = performance.now();
      const r = spawnSync(entry, ['--extcap-interfaces', '--extcap-version=4.0']);
      if (r.status !== 0) throw new Error(`extcap --extcap-interfaces exited ${r.status}: ${String(r.stderr)}`);
      askMs.push(performance.now() - t0);
    }
    const ask = summarize(askMs);

    const env = { ...process.env, HOME: ws.home, AMP_WORKBENCH_CAPTURES: join(ws.dir, 'captures') };
    const latencyMs = (await fifoPackets(entry, ws.dir, 'amp-workbench', ['--exercise', '--duration', String(CAPTURE_SECONDS)], env)).map((p) => p.ms);

    const serve = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--captures', join(ws.dir, 'serve-captures')], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    let live: Awaited<ReturnType<typeof fifoPackets>>;
    try {
      let url = '';
      serve.stdout!.on('data', (c) => (url += String(c)));
      while (!url.includes('token=')) await new Promise((r) => setTimeout(r, 50));
      const load = await workloadLoop(url.trim().replace(/^http:(.*)\/\?token=/, 'ws:$1/ws?token='));
      try {
        live = await fifoPackets(entry, ws.dir, `amp-workbench-live-${serve.pid}`, ['--duration', String(CAPTURE_SECONDS)], env);
      } finally {
        await load.stop();
      }
    } finally {
      serve.kill('SIGTERM');
      await exited(serve);
    }
    // The backlog (records from before the stream began) is not latency: only what was recorded once packets flowed.
    const first = live[0];
    const flowingNs = first ? first.tsNs + first.ms * 1e6 : Infinity;
    const streamed = live.filter((p) => p.tsNs > flowingNs).map((p) => p.ms);
    const liveLat = summarize(streamed);
    const lat = summarize(latencyMs);
    return {
      interfacesP50Ms: Math.round(ask.p50),
      interfacesMaxMs: Math.round(ask.max),
      fifoPackets: latencyMs.length,
      recordToFifoP50Ms: Number(lat.p50.toFixed(1)),
      recordToFifoP99Ms: Number(lat.p99.toFixed(1)),
      recordToFifoMaxMs: Number(lat.max.toFixed(1)),
      livePackets: streamed.length,
      liveRecordToFifoP50Ms: Number(liveLat.p50.toFixed(1)),
      liveRecordToFifoP99Ms: Number(liveLat.p99.toFixed(1)),
    };
  } finally {
    ws.dispose();
  }
}
