/**
 * A ring producer in a process of its own, for the ring tap tests (native and serial bridge):
 * a test ring in a shared file, written through the native addon the way a real producer
 * does (slot first, then a release store of the producer index), and the checks of what a tap
 * copied. Every producer started here is stopped by its own handle (stopProducers).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { TapBatch, TapRing } from '../../src/bus/tap';
import { NATIVE_ADDON_PATH } from '../../main/native/index';

/** Test ring layout: producer index u32 at 0, consumer index u32 at 4, slots from 64. */
export const PRODUCER = 0;
export const CONSUMER = 4;
export const SLOTS = 64;
export const SLOT = 64;

export function ring(n: number, slotSize = SLOT): TapRing {
  return {
    direction: 'driver-to-device',
    producer: { offset: PRODUCER, width: 32 },
    consumer: { offset: CONSUMER, width: 32 },
    slots: { offset: SLOTS, slots: n, slotSize, stride: slotSize },
    indexMask: 0xffffffff,
  };
}

/** A zeroed file under `dir` holding a ring of `n` slots (at least `size` bytes). */
export function ringFile(dir: string, name: string, n: number, size = 0): string {
  const path = join(dir, name);
  writeFileSync(path, new Uint8Array(Math.max(size, SLOTS + n * SLOT)));
  return path;
}

/**
 * Message `seq` fills its slot with u32 `seq` words; each is written, then published. Consumer
 * 'self' frees each slot at once (a consumer that keeps up, so the producer can outrun a tap);
 * 'wait' waits for the consumer index (the test's) to free a slot. `perSecond` paces it (0: flat
 * out; after a stall it catches up in bursts of at most 8). Prints the count at the end.
 */
const PRODUCER_CHILD = `
const addon = require(process.argv[1]);
const [file, n, count, consumer, perSecond] = [process.argv[2], +process.argv[3], +process.argv[4], process.argv[5], +process.argv[6]];
const m = addon.map(file, 0, ${SLOTS} + n * ${SLOT});
const slot = new Uint8Array(${SLOT});
const words = new Uint32Array(slot.buffer);
let p = m.load(${PRODUCER}, 32);
const nap = new Int32Array(new SharedArrayBuffer(4));
const period = perSecond > 0 ? BigInt(Math.round(1e9 / perSecond)) : 0n;
let due = process.hrtime.bigint();
for (let seq = 0; seq < count; seq++) {
  if (perSecond > 0) {
    // A producer kept off the CPU catches up in bursts of at most 8 messages: a longer burst at
    // full speed would lap the ring, which is no longer the rate asked for.
    // Sleeps most of the gap (a spinning producer would starve the tap on a busy machine), spins the rest.
    const now = process.hrtime.bigint();
    const floor = now - 8n * period;
    due = (due > floor ? due : floor) + period;
    const ahead = Number(due - now) / 1e6;
    if (ahead > 0.3) Atomics.wait(nap, 0, 0, ahead - 0.2);
    while (process.hrtime.bigint() < due);
  }
  if (consumer === 'wait') while ((p + 1) % n === m.load(${CONSUMER}, 32));
  words.fill(seq);
  m.write(${SLOTS} + p * ${SLOT}, slot);
  p = (p + 1) % n;
  m.store(${PRODUCER}, 32, p);
  if (consumer === 'self') m.store(${CONSUMER}, 32, p);
}
process.stdout.write(String(count));
`;

const children: ChildProcess[] = [];

export function stopProducers(): void {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill();
}

/** Runs the producer to the end; resolves to the number of messages it published. */
export function produce(file: string, n: number, count: number, consumer: 'self' | 'wait', perSecond = 0): Promise<number> {
  const child = spawn(process.execPath, ['-e', PRODUCER_CHILD, NATIVE_ADDON_PATH, file, String(n), String(count), consumer, String(perSecond)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  return new Promise((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`producer exited ${code}: ${err}`)))));
}

/** The seq of each whole slot of a batch; null for a slot whose words disagree (a torn copy). */
export function seqs(b: TapBatch, slotSize = SLOT): (number | null)[] {
  const out: (number | null)[] = [];
  for (let i = 0; i < b.count; i++) {
    const w = new Uint32Array(b.slots.buffer.slice(b.slots.byteOffset + i * slotSize, b.slots.byteOffset + (i + 1) * slotSize));
    out.push(w.every((x) => x === w[0]) ? w[0]! : null);
  }
  return out;
}

/**
 * What an outrun tap delivered, against what the producer published: no torn slot, each
 * batch's slots consecutive and at their index, and the messages missed before each batch
 * (and after the last one) equal to the lost counts up to whole laps of the ring (which indices
 * modulo N cannot show). Returns the totals, and how many gaps the lost counts matched exactly.
 */
export function accountFor(
  batches: readonly TapBatch[],
  n: number,
  published: number,
): { delivered: number; lost: number; exact: number; problems: string[] } {
  const problems: string[] = [];
  let next = 0;
  let exact = 0;
  let lost = 0;
  let delivered = 0;
  let missed = 0;
  for (const b of batches) {
    const s = seqs(b);
    if (s.includes(null)) problems.push(`torn slot in the batch at index ${b.first}`);
    lost += b.lost;
    missed += b.lost;
    delivered += b.count;
    if (b.count === 0) continue;
    const first = s[0]!;
    if (b.first !== first % n) problems.push(`batch of message ${first} says index ${b.first}`);
    if (s.some((x, i) => x !== first + i)) problems.push(`batch from message ${first} is not consecutive`);
    const gap = first - next;
    if (gap < missed || (gap - missed) % n !== 0) problems.push(`${gap} missed before message ${first}, lost says ${missed}`);
    if (gap === missed) exact++;
    next = first + b.count;
    missed = 0;
  }
  // After the last slot delivered: what the last lost counts say, up to whole laps.
  const tail = published - next;
  if (tail < missed || (tail - missed) % n !== 0) problems.push(`${tail} published after the last message delivered, lost says ${missed}`);
  if (delivered + lost > published) problems.push(`${delivered} delivered and ${lost} lost, but only ${published} published`);
  return { delivered, lost, exact, problems };
}
