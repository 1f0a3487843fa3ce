import { describe, expect, it } from 'vitest';

import { QUEUE_FORMATS, type MessageQueue, type QueueFormat } from '../../../../src/bus/queue';
import type { TapBatch } from '../../../../src/bus/tap';
import type { AccessWidth, MemoryWindow } from '../../../../src/bus/window';
import { observeRings, type ObservedRings } from '../../../../src/roles/monitor/rings';
import { PollingTap } from '../../../../src/roles/monitor/pollTap';
import { attachPair, bytesWindow, fastOpts, payload, SETUPS, VirtualRuntime } from '../../bus/helpers';

/** A window whose next read first lets `race` run: the producer moves on while the monitor copies. */
class RacingWindow implements MemoryWindow {
  race: (() => Promise<void>) | null = null;
  writes = 0;
  constructor(private readonly inner: MemoryWindow) {}
  get size(): number {
    return this.inner.size;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    const race = this.race;
    this.race = null;
    if (race) await race();
    return this.inner.read(offset, length);
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    this.writes++;
    return this.inner.write(offset, data);
  }
  load(offset: number, width: AccessWidth): Promise<number> {
    return this.inner.load(offset, width);
  }
  store(offset: number, width: AccessWidth, value: number): Promise<void> {
    this.writes++;
    return this.inner.store(offset, width, value);
  }
  fence(): Promise<void> {
    return this.inner.fence();
  }
}

interface Rig {
  driver: MessageQueue;
  device: MessageQueue;
  observed: ObservedRings;
  monitorWindow: RacingWindow;
  tap: PollingTap;
  batches: TapBatch[];
  runtime: VirtualRuntime;
}

async function rig(format: QueueFormat, geometry = SETUPS[format].geometry): Promise<Rig> {
  const runtime = new VirtualRuntime();
  const window = bytesWindow(SETUPS[format].size);
  const { driver, device } = await attachPair(format, window, geometry, runtime);
  const monitorWindow = new RacingWindow(window);
  const observed = await observeRings(format, monitorWindow, geometry, fastOpts(runtime));
  if (!observed.ok) throw new Error(observed.error.reason);
  const tap = new PollingTap(monitorWindow, { runtime, pollMs: 1 });
  const batches: TapBatch[] = [];
  tap.start(observed.value.rings, (b) => batches.push(b), (p) => {
    throw new Error(p.reason);
  });
  return { driver, device, observed: observed.value, monitorWindow, tap, batches, runtime };
}

/** Sends `messages` one at a time from `from`, each taken by `to` before the next. */
async function pass(from: MessageQueue, to: MessageQueue, messages: Uint8Array[]): Promise<void> {
  for (const m of messages) {
    expect(await from.send(m)).toBe('ok');
    const got = await to.recv();
    expect(got.messages.length).toBe(1);
  }
}

/** The messages a ring's batches carry, each trimmed to `len` bytes. */
function delivered(r: Rig, ring: number, len: number): { messages: string[]; lost: number } {
  const size = r.observed.rings[ring]!.slots.slotSize;
  const messages: string[] = [];
  let lost = 0;
  for (const b of r.batches.filter((x) => x.ring === ring)) {
    lost += b.lost;
    expect(b.slots.length).toBe(b.count * size);
    for (let k = 0; k < b.count; k++) messages.push(Buffer.from(b.slots.subarray(k * size, k * size + len)).toString('hex'));
  }
  return { messages, lost };
}

const hex = (m: Uint8Array): string => Buffer.from(m).toString('hex');
const settle = (rt: VirtualRuntime): Promise<void> => rt.sleep(5);

describe('PollingTap', () => {
  for (const format of QUEUE_FORMATS) {
    it(`${format}: copies every message of both directions in order and writes nothing`, async () => {
      const r = await rig(format);
      const len = Math.min(r.driver.slotSize, 24);
      const down = Array.from({ length: 150 }, (_, i) => payload(i, len));
      const up = Array.from({ length: 150 }, (_, i) => payload(1000 + i, len));
      // The monitor must look at least once per lap of the ring (N − 1 messages).
      const every = Math.min(7, r.observed.rings[0]!.slots.slots - 2);
      for (let i = 0; i < down.length; i++) {
        await pass(r.driver, r.device, [down[i]!]);
        await pass(r.device, r.driver, [up[i]!]);
        if (i % every === every - 1) await settle(r.runtime);
      }
      await r.tap.stop();
      expect(delivered(r, 0, len)).toEqual({ messages: down.map(hex), lost: 0 });
      expect(delivered(r, 1, len)).toEqual({ messages: up.map(hex), lost: 0 });
      expect(r.monitorWindow.writes).toBe(0);
    });
  }

  it('openamp-static-v1 with the firmware stride quirk: a slot the consumer still holds is copied whole, one it freed counts as lost', async () => {
    const r = await rig('openamp-static-v1', { strideQuirk: 'num_elts' });
    const down = Array.from({ length: 20 }, (_, i) => payload(i, 40));
    // Copied while the device has not taken it: the producer cannot write the next (overlapping) slot.
    for (const m of down.slice(0, 10)) {
      expect(await r.driver.send(m)).toBe('ok');
      await settle(r.runtime);
      expect((await r.device.recv()).messages).toHaveLength(1);
    }
    // Taken before the monitor looked: the producer may already be rewriting it.
    for (const m of down.slice(10)) {
      await pass(r.driver, r.device, [m]);
      await settle(r.runtime);
    }
    await r.tap.stop();
    expect(delivered(r, 0, 40)).toEqual({ messages: down.slice(0, 10).map(hex), lost: 10 });
  });

  it('counts exactly the messages the producer overwrote while a copy ran, and delivers none torn', async () => {
    const r = await rig('spsc-v1');
    const n = r.observed.rings[0]!.slots.slots;
    expect(n).toBe(62);
    const all = Array.from({ length: 90 }, (_, i) => payload(i, 16));
    await settle(r.runtime);
    r.runtime.auto = false;
    await pass(r.driver, r.device, all.slice(0, 40));
    // While the monitor copies the 40 published slots, 50 more are published and consumed:
    // the producer's next lap rewrites slots 0..27 and may be writing slot 28.
    r.monitorWindow.race = () => pass(r.driver, r.device, all.slice(40));
    r.runtime.auto = true;
    await settle(r.runtime);
    await r.tap.stop();
    const got = delivered(r, 0, 16);
    expect(got.lost).toBe(29);
    expect(got.messages).toEqual(all.slice(29).map(hex));
    expect(got.messages.length + got.lost).toBe(all.length);
    const lossy = r.batches.find((b) => b.lost > 0)!;
    expect(lossy.first).toBe(29);
  });

  it('reports a producer index outside the ring once and reads nothing until it is back', async () => {
    const runtime = new VirtualRuntime();
    const window = bytesWindow(SETUPS['spsc-v0'].size);
    const observed = await observeRings('spsc-v0', window, {}, fastOpts(runtime));
    if (!observed.ok) throw new Error(observed.error.reason);
    const tap = new PollingTap(window, { runtime, pollMs: 1 });
    const problems: string[] = [];
    const batches: TapBatch[] = [];
    tap.start(observed.value.rings, (b) => batches.push(b), (p) => problems.push(p.reason));
    await runtime.sleep(3);
    window.storeSync(observed.value.rings[0]!.producer.offset, 32, 99);
    await runtime.sleep(5);
    await tap.stop();
    expect(problems).toEqual(['driver-to-device producer index 99 at 0x0000 is outside 0..61 (N = 62); its slots are not read until it is back in range']);
    expect(batches).toEqual([]);
  });
});
