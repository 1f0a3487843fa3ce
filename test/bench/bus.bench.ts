/**
 * Single-thread throughput of the queue formats over a BytesWindow (both ends in this thread):
 * messages/s one direction for sendBatch + recv (full-ring batches), for send + recv one at a
 * time, and through two BusEndpoints (batched doorbell, drain on doorbell, observer attached).
 * Cross-thread numbers are measured separately.
 */
import { nodeRuntime } from '../../main/host/runtime';
import { BusEndpoint } from '../../src/bus/endpoint';
import { attachQueue, type QueueGeometry } from '../../src/bus/formats/index';
import type { DoorbellIn, DoorbellOut } from '../../src/bus/link';
import type { MessageQueue, QueueFormat } from '../../src/bus/queue';
import { BytesWindow } from '../../src/bus/window';

const SETUPS: [QueueFormat, number, QueueGeometry][] = [
  ['vmamp-shmem-v1', 0x2000, {}],
  ['spsc-v1', 0x2000, {}],
];
const MS = 400;
const WARM_MS = 200;

/** A 48-byte R3 EVENT_AVAIL-shaped message. */
function message(i: number): Uint8Array {
  const m = new Uint8Array(48);
  m[1] = 0x41;
  m[2] = 1;
  m[6] = 48;
  m[8] = i & 0xff;
  return m;
}

async function pair(format: QueueFormat, size: number, geometry: QueueGeometry): Promise<{ driver: MessageQueue; device: MessageQueue }> {
  const window = new BytesWindow(new SharedArrayBuffer(size));
  const opts = { runtime: nodeRuntime, pollMs: 0 };
  const [device, driver] = await Promise.all([attachQueue(format, 'device', window, geometry, opts), attachQueue(format, 'driver', window, geometry, opts)]);
  if (!device.ok || !driver.ok) throw new Error(`${format}: attach failed`);
  return { driver: driver.value, device: device.value };
}

/** Runs `body` for `ms` and returns how many messages it moved per second. */
async function timed(body: () => Promise<number>, ms: number): Promise<number> {
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 50; i++) n += await body();
    now = process.hrtime.bigint();
  }
  return Math.round(n / (Number(now - start) / 1e9));
}

async function rate(body: () => Promise<number>): Promise<number> {
  await timed(body, WARM_MS); // JIT warm-up: the first measured loop otherwise pays for it
  return timed(body, MS);
}

class Line implements DoorbellOut, DoorbellIn {
  readonly mode = 'interrupt' as const;
  private listener: (() => void) | null = null;
  ring(): Promise<void> {
    this.listener?.();
    return Promise.resolve();
  }
  subscribe(l: () => void): () => void {
    this.listener = l;
    return () => (this.listener = null);
  }
}

export async function run(): Promise<Record<string, number | string>> {
  const out: Record<string, number | string> = { unit: 'messages/s, one direction, one thread', messageBytes: 48 };
  for (const [format, size, geometry] of SETUPS) {
    const { driver, device } = await pair(format, size, geometry);
    const batch = Array.from({ length: driver.capacity }, (_, i) => message(i));
    out[`${format}.sendBatch+recv`] = await rate(async () => {
      const k = await driver.sendBatch(batch);
      const got = await device.recv();
      if (got.messages.length !== k) throw new Error(`${format}: sent ${k}, received ${got.messages.length}`);
      return k;
    });
    const one = message(1);
    out[`${format}.send+recv`] = await rate(async () => {
      await driver.send(one);
      return (await device.recv()).messages.length;
    });

    const { driver: dq, device: vq } = await pair(format, size, geometry);
    const toDevice = new Line();
    const toDriver = new Line();
    let received = 0;
    const drv = new BusEndpoint({ queue: dq, doorbellOut: toDevice, doorbellIn: toDriver, revision: 'r3', runtime: nodeRuntime, doorbellPerMessage: false, observer: { onMessage: () => {} } });
    const dev = new BusEndpoint({ queue: vq, doorbellOut: toDriver, doorbellIn: toDevice, revision: 'r3', runtime: nodeRuntime, observer: { onMessage: () => {} } });
    dev.onEvent('any', () => received++);
    out[`${format}.endpoint.sendBatch`] = await rate(async () => {
      const before = received;
      const r = await drv.sendBatch(batch);
      await dev.drain();
      if (!r.ok || received - before !== batch.length) throw new Error(`${format}: endpoint lost messages`);
      return batch.length;
    });
    drv.close();
    dev.close();
  }
  return out;
}
