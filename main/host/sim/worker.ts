/**
 * Worker thread of a simulated board: the device side (src/sim/board.ts) over the
 * SharedArrayBuffers the host created. While the bus is busy it spins between messages; when
 * idle it sleeps in Atomics.wait for at most a millisecond so its own timers still run.
 */
import { parentPort, workerData } from 'node:worker_threads';

import { BytesWindow, SubWindow } from '../../../src/bus/window';
import { startSimBoard } from '../../../src/sim/board';
import { nodeRuntime } from '../runtime';
import { BlockingDoorbellIn, CounterDoorbellOut, DOORBELL_TO_DEVICE, DOORBELL_TO_DRIVER, SIM_STOP } from './doorbell';
import type { SimWorkerData, SimWorkerMessage } from './simLink';
import { errorText } from '../../../src/util/errorText';

/** Keep spinning this long after the last ring: the board stays responsive while the bus is busy. */
const BUSY_SPIN_NS = 2_000_000n;
const MAX_SLEEP_MS = 1;

function post(m: SimWorkerMessage): void {
  parentPort?.postMessage(m);
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

async function run(): Promise<void> {
  const { profile, regions, doorbells } = workerData as SimWorkerData;
  const words = new Int32Array(doorbells);
  const busRegion = regions[profile.bus.region]!;
  const dataRegion = regions[profile.dataMemory.region]!;
  const doorbellIn = new BlockingDoorbellIn(words, DOORBELL_TO_DEVICE);
  const started = await startSimBoard({
    profile,
    busWindow: new SubWindow(new BytesWindow(busRegion), profile.bus.offset, profile.bus.size),
    dataWindow: new BytesWindow(dataRegion, 0, profile.dataMemory.size),
    doorbellOut: new CounterDoorbellOut(words, DOORBELL_TO_DRIVER),
    doorbellIn,
    runtime: nodeRuntime,
    log: (message) => post({ type: 'log', message }),
  });
  if (!started.ok) {
    post({ type: 'error', message: started.error });
    return;
  }
  post({ type: 'ready' });
  const { endpoint } = started.value;
  await endpoint.drain();
  let lastRing = process.hrtime.bigint();
  while (Atomics.load(words, SIM_STOP) === 0) {
    const busy = process.hrtime.bigint() - lastRing < BUSY_SPIN_NS * 50n;
    if (doorbellIn.waitOnce(busy ? BUSY_SPIN_NS : 0n, MAX_SLEEP_MS)) lastRing = process.hrtime.bigint();
    await tick();
  }
  started.value.close();
}

run().catch((e: unknown) => post({ type: 'error', message: errorText(e) }));
