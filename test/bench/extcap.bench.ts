/**
 * The Wireshark extcap (main/host/extcap): how long the installed entry takes to answer
 * `--extcap-interfaces` (Wireshark asks every extcap at every start; target ≤ 300 ms), and how
 * long a record takes from crossing the bus to the FIFO Wireshark reads (target ≤ 100 ms): a
 * capture of the default simulated board running its workloads, each Enhanced Packet Block's
 * timestamp (the record's wall time) against the wall time it was read from the FIFO here.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';

import { summarize } from '../../main/host/exercise';
import { installExtcap } from '../../main/host/extcap/install';
import { toolDir } from '../host/wiresharkTools';

const ASKS = 20;
const CAPTURE_SECONDS = 4;
const BLOCK_EPB = 6;

const wallNowNs = (): number => (performance.timeOrigin + performance.now()) * 1e6;

/** Latencies (ms) of the packets in `bytes` from offset `at`; returns where the next whole block starts. */
function readBlocks(bytes: Buffer, at: number, nowNs: number, into: number[]): number {
  while (at + 12 <= bytes.length) {
    const total = bytes.readUInt32LE(at + 4);
    if (at + total > bytes.length) break;
    if (bytes.readUInt32LE(at) === BLOCK_EPB) {
      const ts = bytes.readUInt32LE(at + 12) * 2 ** 32 + bytes.readUInt32LE(at + 16);
      into.push((nowNs - ts) / 1e6);
    }
    at += total;
  }
  return at;
}

export async function run(): Promise<Record<string, number>> {
  const ws = toolDir();
  try {
    const entry = installExtcap({ dir: join(ws.dir, 'extcap'), pluginsDir: join(ws.dir, 'plugins') }).files[0]!;
    const askMs: number[] = [];
    for (let i = 0; i < ASKS; i++) {
      const t0 = performance.now();
      const r = spawnSync(entry, ['--extcap-interfaces', '--extcap-version=4.0']);
      if (r.status !== 0) throw new Error(`extcap --extcap-interfaces exited ${r.status}: ${String(r.stderr)}`);
      askMs.push(performance.now() - t0);
    }
    const ask = summarize(askMs);

    const fifo = join(ws.dir, 'fifo');
    spawnSync('mkfifo', [fifo]);
    const child = spawn(entry, ['--capture', '--extcap-interface', 'amp-workbench', '--fifo', fifo, '--exercise', '--duration', String(CAPTURE_SECONDS)], {
      env: { ...process.env, AMP_WORKBENCH_CAPTURES: join(ws.dir, 'captures') },
      stdio: 'ignore',
    });
    const latencyMs: number[] = [];
    let buf = Buffer.alloc(0);
    await new Promise<void>((resolve) => {
      const s = createReadStream(fifo);
      s.on('data', (c) => {
        const now = wallNowNs();
        buf = Buffer.concat([buf, c as Buffer]);
        buf = buf.subarray(readBlocks(buf, 0, now, latencyMs));
      });
      s.on('close', () => resolve());
    });
    await new Promise((r) => child.on('exit', r));
    const lat = summarize(latencyMs);
    return {
      interfacesP50Ms: Math.round(ask.p50),
      interfacesMaxMs: Math.round(ask.max),
      fifoPackets: latencyMs.length,
      recordToFifoP50Ms: Number(lat.p50.toFixed(1)),
      recordToFifoP99Ms: Number(lat.p99.toFixed(1)),
      recordToFifoMaxMs: Number(lat.max.toFixed(1)),
    };
  } finally {
    ws.dispose();
  }
}
