/**
 * Split virtqueue round trips over a local BytesWindow: the driver publishes chains, the device
 * pops, answers and pushes them used, the driver collects — the data path minus the transport.
 * Also one end-to-end i2c write-then-read workload against the device model.
 * Run with the others: npm run bench.
 */
import { BytesWindow } from '../../src/bus/window';
import * as d from '../../src/devices/index';
import * as v from '../../src/virtio/index';

export async function run(): Promise<Record<string, number | string>> {

  const SIZE = 256;
  const BATCH = 32;
  const ROUNDS = 3000;
  const peerBase = 0x4000_0000n;
  const window = new BytesWindow(new ArrayBuffer(1 << 20));
  const alloc = new v.DataAllocator(0, window.size);
  const translate = v.windowTranslator(peerBase, window.size);

  const pair = async () => {
    const placed = v.DriverVirtqueue.allocate(alloc, window, peerBase, SIZE);
    if (!placed.ok) throw new Error(placed.error);
    const drv = placed.value;
    await drv.init();
    const dev = v.DeviceVirtqueue.create(window, { size: SIZE, descAddr: drv.descAddr, driverAddr: drv.driverAddr, deviceAddr: drv.deviceAddr }, translate);
    if (!dev.ok) throw new Error(dev.error.reason);
    return { drv, dev: dev.value };
  };

  const chainRate = async (parts: number) => {
    const { drv, dev } = await pair();
    const bufs = Array.from({ length: parts }, (_, k) => {
      const b = alloc.alloc(64, 8);
      if (!b.ok) throw new Error(b.error);
      return { offset: b.value, length: 64, writable: k === parts - 1 };
    });
    const once = async () => {
      for (let i = 0; i < BATCH; i++) drv.addChain(bufs);
      await drv.publish();
      for (;;) {
        const r = await dev.popAvail();
        if (r === null) break;
        if (!r.ok) throw new Error(r.error.reason);
        await dev.pushUsed(r.value.head, 64);
      }
      const c = await drv.collectUsed();
      if (c.used.length !== BATCH || c.problems.length) throw new Error('round trip lost chains');
    };
    for (let i = 0; i < ROUNDS / 10; i++) await once();
    const t0 = performance.now();
    for (let i = 0; i < ROUNDS; i++) await once();
    const ms = performance.now() - t0;
    return { perSecond: Math.round(((ROUNDS * BATCH) / ms) * 1000), ms: Math.round(ms) };
  };

  const i2cRate = async () => {
    const model = new d.I2cDeviceModel();
    const { drv, dev } = await pair();
    const ctx = {
      queue: drv,
      alloc,
      window,
      kick: async () => void (await model.process(0, dev, window)),
      waitUsed: () => Promise.resolve(true),
    };
    const n = 20_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const r = await d.i2cWriteRead(ctx, 0x54, Uint8Array.of(i % 20), 4);
      if (!r.ok) throw new Error(r.error);
    }
    const ms = performance.now() - t0;
    return { perSecond: Math.round((n / ms) * 1000), ms: Math.round(ms) };
  };

  const one = await chainRate(1);
  const three = await chainRate(3);
  const i2c = await i2cRate();
  return {
    queueSize: SIZE,
    batch: BATCH,
    chains1PerSecond: one.perSecond,
    chains1Ms: one.ms,
    chains3PerSecond: three.perSecond,
    chains3Ms: three.ms,
    i2cWriteReadPerSecond: i2c.perSecond,
    i2cWriteReadMs: i2c.ms,
  };
}
