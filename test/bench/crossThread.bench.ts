/**
 * The simulated bus between two threads (issue targets): request/response round trip against a
 * simulated board's device side in a worker (p50 ≤ 20 µs, p99 ≤ 200 µs), and one-direction
 * throughput to a worker that drains through its own bus endpoint, with batched doorbells
 * (≥ 1,000,000 messages/s).
 */
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';

import { findBuiltinProfile } from '../../src/boards/builtin';
import { BusEndpoint } from '../../src/bus/endpoint';
import { attachQueue } from '../../src/bus/formats/index';
import { BytesWindow } from '../../src/bus/window';
import { encode } from '../../src/protocol/index';
import { summarize } from '../../main/host/exercise';
import { nodeRuntime } from '../../main/host/runtime';
import { openSession } from '../../main/host/session';
import { CounterDoorbellIn, CounterDoorbellOut, DOORBELL_TO_DEVICE, DOORBELL_TO_DRIVER, DOORBELL_WORDS, SIM_STOP } from '../../main/host/sim/doorbell';
import type { SinkData } from './sinkWorker';

const RTT_REQUESTS = 20_000;
const RTT_WARMUP = 2_000;
const THROUGHPUT_MESSAGES = 2_000_000;

async function roundTrip(): Promise<Record<string, number>> {
  const session = await openSession(findBuiltinProfile('sim-qemu-amp-pci')!);
  try {
    const probed = await session.probe();
    if (!probed.ok) throw new Error(probed.error);
    const request = encode('r4', { name: 'GET_DEVICE_STATUS', kind: 'request', devNum: 0 });
    const samples: number[] = [];
    for (let i = 0; i < RTT_WARMUP + RTT_REQUESTS; i++) {
      const r = await session.endpoint.request(request, { timeoutMs: 1000 });
      if (!r.ok) throw new Error(r.error.message);
      if (i >= RTT_WARMUP) samples.push(r.latencyNs / 1000);
    }
    const s = summarize(samples);
    return { rttRequests: RTT_REQUESTS, rttP50Us: s.p50, rttP99Us: s.p99, rttMaxUs: s.max, rttMeanUs: s.mean };
  } finally {
    await session.close();
  }
}

async function throughput(): Promise<Record<string, number>> {
  const bus = new SharedArrayBuffer(0x2000);
  const doorbells = new SharedArrayBuffer(DOORBELL_WORDS * 4);
  const counter = new SharedArrayBuffer(4);
  const words = new Int32Array(doorbells);
  const data: SinkData = { format: 'vmamp-shmem-v1', revision: 'r4', bus, doorbells, counter };
  const worker = new Worker(resolve(__dirname, 'sinkWorker.cjs'), { workerData: data });
  const ready = new Promise<void>((ok, fail) => worker.once('message', (m: string) => (m === 'ready' ? ok() : fail(new Error(m)))));
  const a = await attachQueue('vmamp-shmem-v1', 'driver', new BytesWindow(bus), {}, { runtime: nodeRuntime, pollMs: 1, layoutTimeoutMs: 5000, peerTimeoutMs: 5000 });
  if (!a.ok) throw new Error(a.error.reason);
  await ready;
  const ep = new BusEndpoint({
    queue: a.value,
    doorbellOut: new CounterDoorbellOut(words, DOORBELL_TO_DEVICE),
    doorbellIn: new CounterDoorbellIn(words, DOORBELL_TO_DRIVER),
    revision: 'r4',
    runtime: nodeRuntime,
    doorbellPerMessage: false,
    fullRetryDelayMs: 0,
    fullRetries: 1_000_000,
  });
  const kick = encode('r4', { name: 'EVENT_AVAIL', kind: 'event', devNum: 1, fields: { vq_index: 0, next_offset: 0 } });
  const batch = Array.from({ length: a.value.capacity }, () => kick);
  const count = new Int32Array(counter);
  const t0 = process.hrtime.bigint();
  for (let sent = 0; sent < THROUGHPUT_MESSAGES; ) {
    const r = await ep.sendBatch(batch.slice(0, Math.min(batch.length, THROUGHPUT_MESSAGES - sent)));
    if (!r.ok) throw new Error(r.error.message);
    sent += r.sent;
  }
  while (Atomics.load(count, 0) < THROUGHPUT_MESSAGES) await new Promise((r) => setImmediate(r));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  ep.close();
  Atomics.store(words, SIM_STOP, 1);
  Atomics.notify(words, DOORBELL_TO_DEVICE);
  await worker.terminate();
  return { throughputMessages: THROUGHPUT_MESSAGES, throughputPerSecond: Math.round(THROUGHPUT_MESSAGES / seconds), throughputMs: Math.round(seconds * 1000) };
}

export async function run(): Promise<Record<string, number | string>> {
  return { ...(await roundTrip()), ...(await throughput()) };
}
