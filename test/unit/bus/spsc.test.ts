import { describe, expect, it } from 'vitest';
import { attachQueue, createLayout } from '../../../src/bus/formats/index';
import { attachPair, bytesWindow, fastOpts, hex, payload, VirtualRuntime } from './helpers';

describe.each([['spsc-v0' as const], ['spsc-v1' as const]])('%s rings', (format) => {
  it('uses head at +0, tail at +0x40, packets at +0x80, N = 62 (61 in flight) for 4 KiB rings', async () => {
    const w = bytesWindow(0x2000);
    const { driver, device } = await attachPair(format, w, {});
    expect(driver.capacity).toBe(61);
    await driver.sendBatch([payload(1, 64), payload(2, 10)]);
    expect(w.loadSync(0x0000, 32)).toBe(2); // driver ring head
    expect(hex(w.readSync(0x80, 64))).toBe(hex(payload(1, 64)));
    expect(hex(w.readSync(0xc0, 10))).toBe(hex(payload(2, 10)));
    await device.recv();
    expect(w.loadSync(0x0040, 32)).toBe(2); // driver ring tail, written by the device
    await device.send(payload(3, 8));
    expect(w.loadSync(0x1000, 32)).toBe(1);
    expect(hex(w.readSync(0x1080, 8))).toBe(hex(payload(3, 8)));
    // slot 61 is the last one: 0x80 + 61·64 = 0xfc0, the rest of the ring is spare
    for (let i = 0; i < 60; i++) await driver.send(payload(10 + i, 8));
    expect(hex(w.readSync(0xfc0, 8))).toBe(hex(payload(69, 8)));
    expect(w.loadSync(0, 32)).toBe(0); // wrapped
  });

  it('init zeroes only the parts the role writes', async () => {
    const w = bytesWindow(0x2000);
    w.writeSync(0, new Uint8Array(0x2000).fill(0x5a));
    expect((await createLayout(format, 'driver', w)).ok).toBe(true);
    expect(w.loadSync(0x0000, 32)).toBe(0); // own head
    expect(w.readSync(0x80, 62 * 64).every((b) => b === 0)).toBe(true); // own packets
    expect(w.loadSync(0x1040, 32)).toBe(0); // device ring tail (driver consumes)
    expect(w.loadSync(0x0040, 32)).toBe(0x5a5a5a5a); // device writes this one
    expect(w.loadSync(0x1000, 32)).toBe(0x5a5a5a5a);
    expect(w.readSync(0x1080, 8).every((b) => b === 0x5a)).toBe(true);
  });

  it('rejects a geometry that does not fit', async () => {
    const rt = new VirtualRuntime();
    const bad = [
      { deviceQueueOffset: 0x800 }, // rings overlap
      { deviceQueueOffset: 0x1800 }, // beyond the window
      { ringSize: 0xc0 }, // one slot: fewer than 2
      { driverQueueOffset: 2 }, // unaligned
    ];
    for (const g of bad) {
      const r = await attachQueue(format, 'driver', bytesWindow(0x2000), g, fastOpts(rt));
      expect(r.ok ? null : r.error.code, JSON.stringify(g)).toBe('layout');
    }
  });
});

describe('spsc peer index sanitising (reported once, data flows as the real peer would)', () => {
  it('spsc-v1 reduces modulo N', async () => {
    const { device, window } = await attachPair('spsc-v1', bytesWindow(0x2000), {});
    window.storeSync(0x0000, 32, 62 * 7 + 3); // driver ring head: garbage ≡ 3
    const r = await device.recv();
    expect(r.messages).toHaveLength(3);
    expect(r.problem).toMatchObject({ code: 'peer-index', offset: 0 });
    expect(r.problem?.reason).toMatch(/producer index 437 .* using 3 \(modulo N/);
    window.storeSync(0x0000, 32, 0xffffffff);
    const again = await device.recv(); // 0xffffffff % 62 = 3: nothing new, and no second report
    expect(again).toEqual({ messages: [] });
  });

  it('spsc-v0 replaces by 0', async () => {
    const { driver, device, window } = await attachPair('spsc-v0', bytesWindow(0x2000), {});
    await driver.sendBatch([payload(1, 8), payload(2, 8)]);
    expect((await device.recv(1)).messages).toHaveLength(1);
    window.storeSync(0x0000, 32, 1000); // → 0: the device reads from 1 up to 0, i.e. 61 slots
    const r = await device.recv();
    expect(r.problem).toMatchObject({ code: 'peer-index', offset: 0 });
    expect(r.problem?.reason).toMatch(/using 0/);
    expect(r.messages).toHaveLength(61);
  });

  it('a garbage consumer index on the sending side is sanitised too', async () => {
    const { driver, window } = await attachPair('spsc-v1', bytesWindow(0x2000), {});
    window.storeSync(0x0040, 32, 62 + 10); // driver ring tail (device's) → 10
    let placed = 0;
    while ((await driver.send(payload(placed, 8))) === 'ok') placed++;
    // 61 from the cached consumer index 0; the reload when full reads 72 ≡ 10: 10 more, up to 71 ≡ 9
    expect(placed).toBe(71);
    expect((await driver.recv()).problem).toMatchObject({ code: 'peer-index', offset: 0x40 });
  });
});
