import { BytesWindow } from '../../../src/bus/window';
import { DataAllocator } from '../../../src/virtio/alloc';
import { DeviceVirtqueue } from '../../../src/virtio/deviceRing';
import { DriverVirtqueue } from '../../../src/virtio/driverRing';
import { windowTranslator } from '../../../src/virtio/layout';

export const PEER_BASE = 0x4000_0000n;
export const WINDOW_SIZE = 0x10000;

export interface RingPair {
  window: BytesWindow;
  alloc: DataAllocator;
  driver: DriverVirtqueue;
  device: DeviceVirtqueue;
  translate: ReturnType<typeof windowTranslator>;
}

/** A driver queue and the device queue built from its SET_VQUEUE addresses, over one BytesWindow. */
export async function ringPair(size: number, opts: { eventIdx?: boolean; startIdx?: number } = {}): Promise<RingPair> {
  const window = new BytesWindow(new ArrayBuffer(WINDOW_SIZE));
  const alloc = new DataAllocator(0, WINDOW_SIZE);
  const placed = DriverVirtqueue.allocate(alloc, window, PEER_BASE, size, opts.eventIdx ?? false);
  if (!placed.ok) throw new Error(placed.error);
  const driver = placed.value;
  await driver.init(opts.startIdx ?? 0);
  const translate = windowTranslator(PEER_BASE, WINDOW_SIZE);
  const created = DeviceVirtqueue.create(
    window,
    { size, descAddr: driver.descAddr, driverAddr: driver.driverAddr, deviceAddr: driver.deviceAddr },
    translate,
    { eventIdx: opts.eventIdx ?? false, startIdx: opts.startIdx ?? 0 },
  );
  if (!created.ok) throw new Error(created.error.reason);
  return { window, alloc, driver, device: created.value, translate };
}

/** Allocates a buffer and fills it with `bytes` (device-readable) or reserves `length` (writable). */
export function buffer(pair: RingPair, spec: { data: Uint8Array } | { writable: number }): { offset: number; length: number; writable: boolean } {
  const length = 'data' in spec ? spec.data.length : spec.writable;
  const block = pair.alloc.alloc(length, 8);
  if (!block.ok) throw new Error(block.error);
  if ('data' in spec) pair.window.writeSync(block.value, spec.data);
  return { offset: block.value, length, writable: !('data' in spec) };
}

export const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
