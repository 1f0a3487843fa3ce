import { describe, expect, it } from 'vitest';
import { BaseDeviceModel, resultOf, serveAll, type ProcessResult } from '../../../src/devices/model';
import { RngDeviceModel, rngRead, SeededPrng } from '../../../src/devices/rng';
import { DEVICE_ID, FEATURE } from '../../../src/protocol/names';
import { toHex } from '../../../src/util/hex';
import { scatter, totalLength } from '../../../src/virtio/chain';
import type { DeviceVirtqueue } from '../../../src/virtio/deviceRing';
import type { MemoryWindow } from '../../../src/bus/window';
import { fakeContextFor } from './fakeContext';

describe('SeededPrng', () => {
  it('is mulberry32 as a little-endian byte stream (known answer)', () => {
    // mulberry32(1) yields 0.6270739405881613 (= 0xa087eaf3 / 2^32) first.
    expect(toHex(new SeededPrng(1).nextBytes(8))).toBe('f3 ea 87 a0 c9 49 b3 00');
    expect(toHex(new SeededPrng(0xdeadbeef).nextBytes(4))).not.toBe(toHex(new SeededPrng(1).nextBytes(4)));
  });

  it('does not depend on how the stream is split', () => {
    const whole = new SeededPrng(42).nextBytes(23);
    const p = new SeededPrng(42);
    const parts = [p.nextBytes(3), p.nextBytes(7), p.nextBytes(1), p.nextBytes(12)];
    expect(toHex(Uint8Array.from(parts.flatMap((x) => [...x])))).toBe(toHex(whole));
  });
});

describe('virtio-rng', () => {
  it('has no config, no device feature bits, one queue', () => {
    const m = new RngDeviceModel({ seed: 7 });
    expect(m.deviceId).toBe(DEVICE_ID.RNG);
    expect(m.offeredFeatures).toBe(1n << BigInt(FEATURE.VERSION_1));
    expect(m.configSize).toBe(0);
    expect(m.numQueues).toBe(1);
  });

  it('fills the driver’s buffers with the seeded stream', async () => {
    const bench = await fakeContextFor(new RngDeviceModel({ seed: 1234 }));
    const ctx = bench.contexts[0]!;
    const expected = new SeededPrng(1234);
    const a = await rngRead(ctx, 37);
    const b = await rngRead(ctx, 5);
    expect(a).toEqual({ ok: true, value: expected.nextBytes(37) });
    expect(b).toEqual({ ok: true, value: expected.nextBytes(5) });
    expect(bench.alloc.allocatedBlocks).toBe(bench.ringBlocks);
  });

  it('asks again when the device returns fewer bytes, and fails when it returns none', async () => {
    class Stingy extends BaseDeviceModel {
      readonly deviceId = DEVICE_ID.RNG;
      constructor(private readonly give: number) {
        super({ deviceFeatures: 0n, numQueues: 1, configSize: 0 }, {});
      }
      protected async serve(queueIndex: number, queue: DeviceVirtqueue, memory: MemoryWindow): Promise<ProcessResult> {
        const served = await serveAll(queue, (chain) => scatter(memory, chain.writable, new Uint8Array(Math.min(this.give, totalLength(chain.writable))).fill(0xab)));
        return resultOf(queueIndex, served);
      }
    }
    const bench = await fakeContextFor(new Stingy(3));
    expect(await rngRead(bench.contexts[0]!, 8)).toEqual({ ok: true, value: new Uint8Array(8).fill(0xab) });
    const none = await fakeContextFor(new Stingy(0));
    expect(await rngRead(none.contexts[0]!, 8)).toEqual({ ok: false, error: 'entropy device returned 0 bytes for a 8-byte buffer (0 of 8 bytes read)' });
  });

  it('reports a device that never answers as a timeout, leaving the buffer with the device', async () => {
    const bench = await fakeContextFor(new RngDeviceModel({ seed: 1 }));
    const ctx = { ...bench.contexts[0]!, kick: () => Promise.resolve() };
    const r = await rngRead(ctx, 4, 50);
    expect(r).toEqual({ ok: false, error: 'no used entry for 1 request(s) within 50 ms (avail.idx 1, last used.idx 0); their buffers stay with the device until reset' });
    expect(bench.alloc.allocatedBlocks).toBe(bench.ringBlocks + 1);
  });

  it('reports a failing notification as a value', async () => {
    const bench = await fakeContextFor(new RngDeviceModel({ seed: 1 }));
    const ctx = { ...bench.contexts[0]!, kick: () => Promise.reject(new Error('bus queue full')) };
    expect(await rngRead(ctx, 4)).toEqual({ ok: false, error: 'notify (EVENT_AVAIL) failed: bus queue full' });
  });

  it('stops serving at a bad avail ring from the driver, the fault naming its queue', async () => {
    const bench = await fakeContextFor(new RngDeviceModel({ seed: 1 }));
    const base = bench.contexts[0]!;
    // avail.idx 100 ahead of the device on a 16-entry ring.
    bench.beforeProcess = () => Promise.resolve(bench.window.storeSync(base.queue.offsets.avail + 2, 16, 100));
    expect((await rngRead(base, 4, 50)).ok).toBe(false);
    const r = bench.results[0]!;
    expect(r.ok).toBe(false);
    expect(r.used).toBe(0);
    if (!r.ok) expect(r.error).toMatchObject({ queueIndex: 0 });
  });

  it('reports a bad used ring from the device as a value', async () => {
    const bench = await fakeContextFor(new RngDeviceModel({ seed: 1 }));
    const base = bench.contexts[0]!;
    const usedIdxAt = base.queue.offsets.used + 2;
    const ctx = { ...base, kick: () => Promise.resolve(bench.window.storeSync(usedIdxAt, 16, 9)) };
    const r = await rngRead(ctx, 4);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/^the device wrote a bad used ring: used.idx at data offset 0x[0-9a-f]+: expected at most 1 new used entries after 0, saw 9 \(\+9\)$/);
  });
});
