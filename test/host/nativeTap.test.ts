/**
 * The native ring tap (NativeRingTap over mapping.watchRings) against a producer in another
 * process on a real /dev/shm file: every slot copied exactly and in order when nothing can be
 * lost; when the producer is deliberately faster than the copies, no torn slot is ever
 * delivered and each `lost` accounts for the messages missed (up to whole laps of the ring,
 * which mod-N indices cannot show); a stop delivers what was published; bad indices, a
 * truncated file and bad ring specs are reported, not crashes.
 */
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, describe, expect, it } from 'vitest';

import type { QueueProblem } from '../../src/bus/queue';
import type { TapBatch, TapRing } from '../../src/bus/tap';
import { loadNative, NativeRingTap, type NativeAddon } from '../../main/native/index';
import { accountFor, CONSUMER, PRODUCER, produce, ring, ringFile as ringFileIn, seqs, SLOT, SLOTS, stopProducers } from './ringProducer';

const native = loadNative();
const addon = (native.ok ? native.value : null) as NativeAddon;
const shm = readFileSync('/proc/mounts', 'utf8').includes(' /dev/shm ') ? '/dev/shm' : tmpdir();
const dir = mkdtempSync(join(shm, 'amp-tap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

afterEach(stopProducers);
const ringFile = (name: string, n: number) => ringFileIn(dir, name, n);

const until = async (done: () => boolean) => {
  while (!done()) await new Promise((r) => setTimeout(r, 1));
};

describe.skipIf(!native.ok)('native ring tap over a shared file', () => {
  it('copies every message of another process exactly and in order when none can be lost', async () => {
    const n = 16;
    const file = ringFile('exact', n);
    const consumer = addon.map(file, 0, SLOTS + n * SLOT);
    const tap = new NativeRingTap(addon.map(file, 0, SLOTS + n * SLOT, { readOnly: true }));
    const batches: TapBatch[] = [];
    const t0 = process.hrtime.bigint();
    // The test is the consumer, and frees slots only once the tap delivered them: nothing can be overwritten uncopied.
    tap.start([ring(n)], (b) => {
      batches.push(b);
      consumer.store(CONSUMER, 32, (b.first + b.count) % n);
    }, (p) => expect.fail(p.reason));
    const total = 20_000;
    await produce(file, n, total, 'wait');
    await tap.stop();
    const t1 = process.hrtime.bigint();

    const got = batches.flatMap((b) => seqs(b));
    expect(got.length).toBe(total);
    expect(got).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(batches.every((b) => b.lost === 0 && b.ring === 0)).toBe(true);
    let seq = 0;
    for (const b of batches) {
      expect(b.first).toBe(seq % n);
      expect(b.slots.length).toBe(b.count * SLOT);
      expect(b.seenNs >= t0 && b.seenNs <= t1).toBe(true);
      seq += b.count;
    }
    // Monotonic, per ring; each batch says the window its messages were published in: after the
    // look before (which came after the previous batch's), up to the look that saw them.
    expect(batches.every((b, i) => i === 0 || b.seenNs >= batches[i - 1]!.seenNs)).toBe(true);
    const previous = (b: TapBatch) => (b as TapBatch & { previousLookNs?: bigint }).previousLookNs;
    expect(batches.filter((b, i) => !(previous(b)! < b.seenNs && previous(b)! >= t0 && (i === 0 || previous(b)! >= batches[i - 1]!.seenNs)))).toEqual([]);
    // And the longest time its index went unread around it, timed at the reads themselves.
    expect(batches.filter((b) => !(b.unread && t0 <= b.unread.fromNs && b.unread.fromNs < b.unread.toNs && b.unread.toNs <= t1))).toEqual([]);
  });

  it('never delivers a torn slot when outrun, and each lost count covers the messages missed', async () => {
    const n = 4;
    const file = ringFile('outrun', n);
    const tap = new NativeRingTap(addon.map(file, 0, SLOTS + n * SLOT, { readOnly: true }));
    const batches: TapBatch[] = [];
    tap.start([ring(n)], (b) => batches.push(b), (p) => expect.fail(p.reason));
    const total = await produce(file, n, 200_000, 'self');
    await tap.stop();

    const { exact, problems } = accountFor(batches, n, total);
    expect(problems).toEqual([]);
    // Whether slots are reused mid-copy depends on the scheduler; the rule itself is checked
    // deterministically by the agent's C tests (main/bridge-agent/test), which share it.
    expect(exact).toBeGreaterThan(0);
  });

  it('a stop copies and delivers what was published up to it, with the time it was seen', async () => {
    const n = 8;
    const file = ringFile('stop', n);
    const producer = addon.map(file, 0, SLOTS + n * SLOT);
    const tap = new NativeRingTap(addon.map(file, 0, SLOTS + n * SLOT, { readOnly: true }), 0, { pollUs: 1_000_000 });
    producer.store(PRODUCER, 32, 5);
    producer.store(CONSUMER, 32, 5);
    const batches: TapBatch[] = [];
    tap.start([ring(n)], (b) => batches.push(b), () => undefined);
    await new Promise((r) => setTimeout(r, 20));
    const writing = process.hrtime.bigint();
    for (let i = 0; i < 3; i++) producer.write(SLOTS + ((5 + i) % n) * SLOT, new Uint8Array(new Uint32Array(SLOT / 4).fill(100 + i).buffer));
    producer.store(PRODUCER, 32, 0);
    const before = process.hrtime.bigint();
    const started = Date.now();
    await tap.stop();
    // The sleeping thread is woken, not waited out.
    expect(Date.now() - started).toBeLessThan(500);
    expect(batches.map((b) => [b.first, b.count, b.lost])).toEqual([[5, 3, 0]]);
    expect(seqs(batches[0]!)).toEqual([100, 101, 102]);
    expect(batches[0]!.seenNs >= before).toBe(true);
    // The index went unread from the first look (before these writes) to the stop's.
    const { fromNs, toNs } = batches[0]!.unread!;
    expect(fromNs < writing && toNs >= before).toBe(true);
    // Stopped: nothing more arrives, and a second stop is harmless.
    producer.store(PRODUCER, 32, 2);
    await new Promise((r) => setTimeout(r, 20));
    await tap.stop();
    expect(batches.length).toBe(1);
  });

  it('follows several rings with their own layouts, and an index out of range is a problem reported once', async () => {
    const file = join(dir, 'two');
    writeFileSync(file, new Uint8Array(0x1000));
    const producer = addon.map(file, 0, 0x1000);
    const tap = new NativeRingTap(addon.map(file, 0, 0x1000, { readOnly: true }), 0x100, { pollUs: 50 });
    // Ring 1: OpenAMP-like u8 index under a mask, 16-byte slots at a 32-byte stride.
    const second: TapRing = {
      direction: 'device-to-driver',
      producer: { offset: 8, width: 8 },
      consumer: { offset: 12, width: 8 },
      slots: { offset: 0x400, slots: 4, slotSize: 16, stride: 32 },
      indexMask: 0x3,
    };
    const batches: TapBatch[] = [];
    const problems: QueueProblem[] = [];
    tap.start([ring(4, 16), second], (b) => batches.push(b), (p) => problems.push(p));
    await new Promise((r) => setTimeout(r, 20));
    producer.write(0x100 + 0x400 + 32, new Uint8Array(new Uint32Array(4).fill(7).buffer));
    producer.store(0x100 + 8, 8, 0xfe); // & 0x3 = 2: slots 0 and 1
    producer.store(0x100 + PRODUCER, 32, 9); // outside 0..3
    await until(() => batches.length >= 1 && problems.length >= 1);
    await new Promise((r) => setTimeout(r, 20));
    await tap.stop();
    expect(batches.map((b) => [b.ring, b.first, b.count, b.lost])).toEqual([[1, 0, 2, 0]]);
    expect(seqs(batches[0]!, 16)).toEqual([0, 7]);
    expect(problems).toEqual([
      {
        code: 'peer-index',
        offset: 0,
        reason: 'driver-to-device producer index 9 at 0x0000 is outside 0..3 (N = 4); its slots are not read until it is back in range',
      },
    ]);
  });

  it('overlapping slots (the OpenAMP stride quirk): only the newest of a look can be whole', async () => {
    const file = join(dir, 'overlap');
    writeFileSync(file, new Uint8Array(0x100));
    const producer = addon.map(file, 0, 0x100);
    const tap = new NativeRingTap(addon.map(file, 0, 0x100, { readOnly: true }), 0, { pollUs: 50 });
    const quirk: TapRing = { ...ring(4, 16), slots: { offset: 0x40, slots: 4, slotSize: 16, stride: 8 } };
    const batches: TapBatch[] = [];
    tap.start([quirk], (b) => batches.push(b), (p) => expect.fail(p.reason));
    await new Promise((r) => setTimeout(r, 20));
    const slot = (seq: number) => new Uint8Array(new Uint32Array(4).fill(seq).buffer);
    producer.write(0x40, slot(1));
    producer.write(0x48, slot(2)); // covers the second half of message 1
    producer.store(PRODUCER, 32, 2);
    await until(() => batches.length >= 1);
    producer.write(0x50, slot(3));
    producer.store(PRODUCER, 32, 3);
    await until(() => batches.length >= 2);
    await tap.stop();
    expect(batches.map((b) => [b.first, b.count, b.lost, seqs(b, 16)[0]])).toEqual([
      [1, 1, 1, 2],
      [2, 1, 0, 3],
    ]);
  });

  it('a file truncated under the watch ends it with the words of the lost mapping, not a crash', async () => {
    const file = join(dir, 'shrink');
    writeFileSync(file, new Uint8Array(0x3000));
    const gone: string[] = [];
    const tap = new NativeRingTap(addon.map(file, 0, 0x3000, { readOnly: true }), 0x2000, { onGone: (m) => gone.push(m) });
    tap.start([ring(4)], () => undefined, () => undefined);
    truncateSync(file, 0x1000);
    await until(() => gone.length > 0);
    await tap.stop();
    expect(gone).toEqual([`the shared file ${file} shrank to 4096 bytes under the session (expected at least 12288): the board side truncated it`]);
  });

  it('refuses rings that do not fit the mapping, naming the ring and the field', () => {
    const file = ringFile('bad', 4);
    const m = addon.map(file, 0, SLOTS + 4 * SLOT, { readOnly: true });
    const spec = { producer: 0, producerWidth: 32 as const, slotsOffset: SLOTS, slots: 4, slotSize: SLOT, stride: SLOT, indexMask: 0xffffffff };
    expect(() => m.watchRings([{ ...spec, slots: 5 }], () => undefined, 20)).toThrow('rings[0]: slots end at 384, outside the mapping of 320 bytes');
    expect(() => m.watchRings([spec, { ...spec, producer: 2 }], () => undefined, 20)).toThrow('rings[1]: producer index at 2 is unaligned');
    expect(() => m.watchRings([{ ...spec, stride: 0 }], () => undefined, 20)).toThrow('rings[0]: expected at least 2 slots, a slot size > 0 and a stride > 0');
    expect(() => m.watchRings([], () => undefined, 20)).toThrow('rings: expected a non-empty array');
    expect(() => m.watchRings([spec], () => undefined, 0)).toThrow('pollUs: expected 1 to 1000000');
    // Unmapping stops a watch still running.
    m.watchRings([spec], () => undefined, 20);
    m.unmap();
  });
});
