/**
 * The bus engine over a slow window: every access resolves on a later turn of the event loop,
 * as the replies of a serial debug bridge would. Nothing above MemoryWindow changes.
 */
import { afterEach, describe, expect, it } from 'vitest';

import type { AccessWidth, MemoryWindow } from '../../../../src/bus/window';
import { exerciseDevices } from '../../../../main/host/exercise';
import { builtin, inThreadBoard, type InThreadBoard } from './harness';

/** Resolves each access on a later macrotask and counts the round trips. */
class DeferredWindow implements MemoryWindow {
  static roundTrips = 0;
  constructor(private readonly inner: MemoryWindow) {}
  get size(): number {
    return this.inner.size;
  }
  private later<T>(op: () => Promise<T>): Promise<T> {
    DeferredWindow.roundTrips++;
    return new Promise((resolve, reject) => setImmediate(() => op().then(resolve, reject)));
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.later(() => this.inner.read(offset, length));
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    const copy = data.slice();
    return this.later(() => this.inner.write(offset, copy));
  }
  load(offset: number, width: AccessWidth): Promise<number> {
    return this.later(() => this.inner.load(offset, width));
  }
  store(offset: number, width: AccessWidth, value: number): Promise<void> {
    return this.later(() => this.inner.store(offset, width, value));
  }
  fence(): Promise<void> {
    return this.later(() => this.inner.fence());
  }
}

let open: InThreadBoard | null = null;
afterEach(async () => {
  await open?.close();
  open = null;
});

describe.each(['sim-qemu-amp-pci', 'sim-versal', 'sim-stm32mp157'])('%s over a deferred window', (id) => {
  it('brings every device up and runs the workloads', async () => {
    open = await inThreadBoard(builtin(id), { driverWindow: (w) => new DeferredWindow(w) });
    DeferredWindow.roundTrips = 0;
    const r = await open.session.probe();
    expect(r.ok && r.value.every((d) => d.phase === 'ready')).toBe(true);
    const bringUp = DeferredWindow.roundTrips;
    const report = await exerciseDevices(open.session, { count: 5 });
    expect(report.devices.every((d) => d.failed === 0)).toBe(true);
    // Printed so the bridge design can budget round trips per bring-up.
    console.log(`${id}: bring-up took ${bringUp} window round trips`);
    expect(bringUp).toBeGreaterThan(0);
  });
});
