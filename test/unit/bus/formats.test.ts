import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { attachQueue } from '../../../src/bus/formats/index';
import { QUEUE_FORMATS, type MessageQueue, type QueueFormat } from '../../../src/bus/queue';
import { attachPair, bytesWindow, fastOpts, payload, SETUPS, VirtualRuntime } from './helpers';

/** Checks that a received slot holds `sent` followed by zeros up to the slot size. */
function expectSlot(slot: Uint8Array | undefined, sent: Uint8Array, slotSize: number): void {
  expect(slot).toBeDefined();
  expect(slot!.length).toBe(slotSize);
  expect(Array.from(slot!.subarray(0, sent.length))).toEqual(Array.from(sent));
  expect(slot!.subarray(sent.length).every((b) => b === 0)).toBe(true);
}

async function drainAll(q: MessageQueue): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (;;) {
    const r = await q.recv();
    expect(r.problem).toBeUndefined();
    if (r.messages.length === 0) return out;
    out.push(...r.messages);
  }
}

describe.each(QUEUE_FORMATS.map((f) => [f]))('%s over one BytesWindow', (format: QueueFormat) => {
  it('carries messages both ways, zero-filling the rest of each slot', async () => {
    const { driver, device } = await attachPair(format);
    const size = driver.slotSize;
    const a = payload(1, size);
    const b = payload(2, 12);
    expect(await driver.send(a)).toBe('ok');
    expect(await driver.send(b)).toBe('ok');
    const got = await drainAll(device);
    expect(got).toHaveLength(2);
    expectSlot(got[0], a, size);
    expectSlot(got[1], b, size);

    const c = payload(3, 8);
    expect(await device.send(c)).toBe('ok');
    const back = await drainAll(driver);
    expect(back).toHaveLength(1);
    expectSlot(back[0], c, device.slotSize);
  });

  it('wraps around many times, one by one and in batches, keeping order', async () => {
    const { driver, device } = await attachPair(format);
    let seq = 0;
    let expected = 0;
    const cap = driver.capacity;
    for (let round = 0; round < 40; round++) {
      const n = 1 + (round % cap);
      const batch = Array.from({ length: n }, () => payload(seq++, 1 + (seq % driver.slotSize)));
      expect(await driver.sendBatch(batch)).toBe(n);
      const got = await drainAll(device);
      expect(got).toHaveLength(n);
      for (const slot of got) {
        const want = payload(expected++, 1 + (expected % driver.slotSize));
        expectSlot(slot, want, driver.slotSize);
      }
      // and the other direction, one message at a time
      expect(await device.send(payload(round, 8))).toBe('ok');
      const back = await drainAll(driver);
      expectSlot(back[0], payload(round, 8), device.slotSize);
    }
    const s = await driver.state();
    expect(s.format).toBe(format);
    expect(s.driverToDevice.producer).toBe(s.driverToDevice.consumer);
    expect(s.deviceToDriver.producer).toBe(s.deviceToDriver.consumer);
  });

  it('reports full after `capacity` messages and accepts again once one is consumed', async () => {
    const { driver, device } = await attachPair(format);
    let placed = 0;
    while ((await driver.send(payload(placed, 8))) === 'ok') placed++;
    expect(placed).toBe(driver.capacity);
    expect(await driver.sendBatch([payload(99, 8)])).toBe(0);
    const one = await device.recv(1);
    expect(one.messages).toHaveLength(1);
    expectSlot(one.messages[0], payload(0, 8), driver.slotSize);
    expect(await driver.send(payload(100, 8))).toBe('ok');
    const rest = await drainAll(device);
    expect(rest).toHaveLength(driver.capacity);
    expectSlot(rest.at(-1), payload(100, 8), driver.slotSize);
  });

  it('sendBatch places what fits and publishes it at once', async () => {
    const { driver, device } = await attachPair(format);
    const many = Array.from({ length: driver.capacity + 5 }, (_, i) => payload(i, 16));
    expect(await driver.sendBatch(many)).toBe(driver.capacity);
    const s = await driver.state();
    expect(s.capacity).toBe(driver.capacity);
    expect(s.slotSize).toBe(driver.slotSize);
    const got = await device.recv(3);
    expect(got.messages).toHaveLength(Math.min(3, driver.capacity));
    const rest = await drainAll(device);
    expect(got.messages.length + rest.length).toBe(driver.capacity);
  });

  it('hands out private copies: a slot rewritten after the index store does not change a received message', async () => {
    const { driver, device, window } = await attachPair(format);
    const sent = payload(7, 20);
    await driver.send(sent);
    const [copy] = (await device.recv()).messages;
    const before = Uint8Array.from(copy!);
    // Torn slot: the peer (or garbage) rewrites the whole driver slot area after publishing.
    window.writeSync(0, new Uint8Array(window.size).fill(0xee));
    expect(Array.from(copy!)).toEqual(Array.from(before));
    // and writing into the copy does not reach shared memory
    copy!.fill(0x11);
    expect(window.readSync(0, window.size).includes(0x11)).toBe(false);
  });

  it('refuses messages that do not fit a slot (programmer error)', async () => {
    const { driver } = await attachPair(format);
    await expect(async () => driver.send(new Uint8Array(driver.slotSize + 1))).rejects.toThrow(RangeError);
    await expect(async () => driver.send(new Uint8Array(0))).rejects.toThrow(RangeError);
  });

  it('never throws or hangs when the whole window is overwritten with garbage', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 64, maxLength: 256 }), fc.nat(), async (noise, seed) => {
        const { driver, device, window } = await attachPair(format);
        await driver.send(payload(seed, 8));
        const bytes = new Uint8Array(window.size);
        for (let i = 0; i < bytes.length; i++) bytes[i] = noise[(i + seed) % noise.length]!;
        window.writeSync(0, bytes);
        for (const q of [driver, device]) {
          for (let i = 0; i < 3; i++) {
            const r = await q.recv();
            expect(r.messages.length).toBeLessThanOrEqual(Math.max(q.capacity, 255));
            await q.sendBatch([payload(i, 8), payload(i + 1, 8)]);
          }
          await q.state();
        }
      }),
      { numRuns: 25 },
    );
  });

  it('attach on a garbage window returns a result (never throws, never hangs)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 512 }), fc.constantFrom('driver' as const, 'device' as const), async (noise, role) => {
        const { size, geometry } = SETUPS[format];
        const window = bytesWindow(size);
        const fill = new Uint8Array(size);
        for (let i = 0; i < size; i++) fill[i] = noise[i % noise.length]!;
        window.writeSync(0, fill);
        const runtime = new VirtualRuntime();
        const r = await attachQueue(format, role, window, geometry, fastOpts(runtime, { layoutTimeoutMs: 50, peerTimeoutMs: 50 }));
        if (r.ok) {
          await r.value.recv();
          await r.value.send(payload(1, 8));
        } else {
          expect(r.error.reason.length).toBeGreaterThan(10);
          expect(r.error.offset).toBeGreaterThanOrEqual(0);
          expect(r.error.offset).toBeLessThan(size);
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('attach with real timers', () => {
  it.each(QUEUE_FORMATS.map((f) => [f]))('%s: both roles concurrently in one thread', async (format) => {
    const { nodeRuntime } = await import('../../../main/host/runtime');
    const { driver, device } = await attachPair(format, undefined, undefined, nodeRuntime);
    await driver.send(payload(1, 8));
    expect((await device.recv()).messages).toHaveLength(1);
  });
});
