/**
 * The shm-file link across processes, with socket doorbells and with polling: request/response
 * round trip against a simulated board's device side in its own process (shm-entry.cjs), and
 * one-direction throughput to a sink process (shmSink.cjs) that drains through its own bus
 * endpoint, with one doorbell per batch.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { findBuiltinProfile } from '../../src/boards/builtin';
import { BusEndpoint } from '../../src/bus/endpoint';
import { attachQueue } from '../../src/bus/formats/index';
import { encode } from '../../src/protocol/index';
import { summarize } from '../../main/host/exercise';
import { openShmFileLink, type ShmDoorbells } from '../../main/host/links/shmFile';
import { nodeRuntime } from '../../main/host/runtime';
import { attachSession } from '../../main/host/session';
import { loadNative } from '../../main/native/index';

const RTT = { socket: { requests: 5_000, warmup: 500 }, poll: { requests: 500, warmup: 50 } };
const THROUGHPUT_MESSAGES = { socket: 200_000, poll: 50_000 };
const profile = findBuiltinProfile('sim-qemu-amp-pci')!;

/** Starts a child and resolves once it printed its first line. */
function startChild(script: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((ok, fail) => {
    child.stdout!.once('data', () => ok(child));
    child.once('exit', (code) => fail(new Error(`${script} exited with ${code} before it was ready`)));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function roundTrip(dir: string, doorbells: Exclude<ShmDoorbells, 'auto'>): Promise<Record<string, number>> {
  const file = join(dir, `rtt-${doorbells}`);
  const board = await startChild(resolve(__dirname, '../../main/host/sim/shm-entry.cjs'), ['--board', profile.id, '--shm', file, '--doorbells', doorbells]);
  try {
    const session = await attachSession(profile, await openShmFileLink(profile, file, { doorbells }));
    try {
      const probed = await session.probe();
      if (!probed.ok) throw new Error(probed.error);
      const request = encode('r4', { name: 'GET_DEVICE_STATUS', kind: 'request', devNum: 0 });
      const { requests, warmup } = RTT[doorbells];
      const samples: number[] = [];
      for (let i = 0; i < warmup + requests; i++) {
        const r = await session.endpoint.request(request, { timeoutMs: 1000 });
        if (!r.ok) throw new Error(r.error.message);
        if (i >= warmup) samples.push(r.latencyNs / 1000);
      }
      const s = summarize(samples);
      const p = doorbells === 'socket' ? 'socket' : 'poll';
      return { [`${p}RttRequests`]: requests, [`${p}RttP50Us`]: s.p50, [`${p}RttP99Us`]: s.p99, [`${p}RttMaxUs`]: s.max, [`${p}RttMeanUs`]: s.mean };
    } finally {
      await session.close();
    }
  } finally {
    await stopChild(board);
  }
}

async function throughput(dir: string, doorbells: Exclude<ShmDoorbells, 'auto'>): Promise<Record<string, number>> {
  const file = join(dir, `sink-${doorbells}`);
  const sink = await startChild(resolve(__dirname, 'shmSink.cjs'), [file, doorbells]);
  const link = await openShmFileLink(profile, file, { doorbells });
  try {
    const a = await attachQueue('vmamp-shmem-v1', 'driver', link.busWindow, { areaSize: profile.bus.size }, { runtime: nodeRuntime, pollMs: 1, layoutTimeoutMs: 5000, peerTimeoutMs: 5000 });
    if (!a.ok) throw new Error(a.error.reason);
    const ep = new BusEndpoint({
      queue: a.value,
      doorbellOut: link.doorbellOut,
      doorbellIn: link.doorbellIn,
      revision: 'r4',
      runtime: nodeRuntime,
      doorbellPerMessage: false,
      fullRetryDelayMs: 0,
      fullRetries: 1_000_000,
    });
    const total = THROUGHPUT_MESSAGES[doorbells];
    const kick = encode('r4', { name: 'EVENT_AVAIL', kind: 'event', devNum: 1, fields: { vq_index: 0, next_offset: 0 } });
    const batch = Array.from({ length: a.value.capacity }, () => kick);
    const t0 = process.hrtime.bigint();
    for (let sent = 0; sent < total; ) {
      const r = await ep.sendBatch(batch.slice(0, Math.min(batch.length, total - sent)));
      if (!r.ok) throw new Error(r.error.message);
      sent += r.sent;
    }
    while ((await link.dataWindow.load(0, 32)) < total) await new Promise((r) => setImmediate(r));
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    ep.close();
    const p = doorbells === 'socket' ? 'socket' : 'poll';
    return { [`${p}ThroughputMessages`]: total, [`${p}ThroughputPerSecond`]: Math.round(total / seconds), [`${p}ThroughputMs`]: Math.round(seconds * 1000) };
  } finally {
    await link.close();
    await stopChild(sink);
  }
}

export async function run(): Promise<Record<string, number | string>> {
  const native = loadNative();
  if (!native.ok) return { skipped: native.error };
  const dir = mkdtempSync('/dev/shm/amp-bench-');
  try {
    return {
      ...(await roundTrip(dir, 'socket')),
      ...(await roundTrip(dir, 'poll')),
      ...(await throughput(dir, 'socket')),
      ...(await throughput(dir, 'poll')),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
