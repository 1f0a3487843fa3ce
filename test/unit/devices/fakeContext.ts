import { BytesWindow } from '../../../src/bus/window';
import type { DeviceModel, ProcessResult } from '../../../src/devices/model';
import type { QueueContext } from '../../../src/devices/workload';
import { DataAllocator } from '../../../src/virtio/alloc';
import { DeviceVirtqueue } from '../../../src/virtio/deviceRing';
import { DriverVirtqueue } from '../../../src/virtio/driverRing';
import { windowTranslator } from '../../../src/virtio/layout';

export const PEER_BASE = 0x8000_0000n;
const WINDOW_SIZE = 0x20000;

export interface Bench {
  window: BytesWindow;
  alloc: DataAllocator;
  contexts: QueueContext[];
  deviceQueues: DeviceVirtqueue[];
  /** Every ProcessResult, in order. */
  results: ProcessResult[];
  /** Blocks allocated by the rings alone (workloads must come back to this). */
  ringBlocks: number;
  /** Runs before the model serves a kicked queue (to look at what the driver published). */
  beforeProcess?: (queueIndex: number) => Promise<void>;
}

/**
 * Every queue of `model` set up as the driver role would (SET_VQUEUE addresses in the device's
 * view), in one thread: kick() calls model.process(), and waitUsed() reports the EVENT_USED the
 * server would have sent for that queue — or a timeout at once when there was none.
 */
export async function fakeContextFor(model: DeviceModel, queueSize = 16): Promise<Bench> {
  const window = new BytesWindow(new ArrayBuffer(WINDOW_SIZE));
  const alloc = new DataAllocator(0, WINDOW_SIZE);
  const translate = windowTranslator(PEER_BASE, WINDOW_SIZE);
  const usedEvents = new Array<number>(model.numQueues).fill(0);
  const bench: Bench = { window, alloc, contexts: [], deviceQueues: [], results: [], ringBlocks: 0 };
  for (let index = 0; index < model.numQueues; index++) {
    const placed = DriverVirtqueue.allocate(alloc, window, PEER_BASE, Math.min(queueSize, model.queueMaxSize(index)));
    if (!placed.ok) throw new Error(placed.error);
    const queue = placed.value;
    await queue.init();
    const created = DeviceVirtqueue.create(window, { size: queue.size, descAddr: queue.descAddr, driverAddr: queue.driverAddr, deviceAddr: queue.deviceAddr }, translate);
    if (!created.ok) throw new Error(created.error.reason);
    bench.deviceQueues.push(created.value);
    bench.contexts.push({
      queue,
      alloc,
      window,
      kick: async () => {
        await bench.beforeProcess?.(index);
        const r = await model.process(index, created.value, window, (i) => bench.deviceQueues[i] ?? null);
        bench.results.push(r);
        if (r.used > 0) usedEvents[index]!++;
        for (const also of r.alsoUsed) if (also.count > 0) usedEvents[also.queueIndex]!++;
      },
      waitUsed: () => {
        const had = usedEvents[index]! > 0;
        usedEvents[index] = 0;
        return Promise.resolve(had);
      },
    });
  }
  bench.ringBlocks = alloc.allocatedBlocks;
  return bench;
}

export const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
