/**
 * A simulated board as a Link: the board's memory regions are SharedArrayBuffers, its device side
 * runs in a worker thread (sim/worker.ts), and the doorbells are Atomics counters. Both sides
 * really run concurrently, on real shared memory, exactly as a driver would meet a board.
 */
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';

import type { BoardProfile } from '../../../src/api/boardProfile';
import type { Link } from '../../../src/bus/link';
import { BytesWindow, SubWindow } from '../../../src/bus/window';
import { CounterDoorbellIn, CounterDoorbellOut, DOORBELL_TO_DEVICE, DOORBELL_TO_DRIVER, DOORBELL_WORDS, SIM_STOP } from './doorbell';

export interface SimWorkerData {
  profile: BoardProfile;
  regions: Record<string, SharedArrayBuffer>;
  doorbells: SharedArrayBuffer;
}

/** Messages the board's worker posts to its host. */
export type SimWorkerMessage = { type: 'ready' } | { type: 'error'; message: string } | { type: 'log'; message: string };

export interface SimLink extends Link {
  /** Resolves once the device side has laid out its queues, rejects if the worker failed. */
  readonly ready: Promise<void>;
  /** What the simulated device side logged (dropped messages and the like). */
  readonly log: string[];
  /** Resolves with why the worker stopped (it crashed, or was terminated by close()). */
  readonly lost: Promise<string>;
}

export function startSimBoard(profile: BoardProfile): SimLink {
  if (profile.access.kind !== 'sim') throw new Error(`board ${profile.id} is not a simulated board (access.kind "${profile.access.kind}")`);
  const regions: Record<string, SharedArrayBuffer> = {};
  for (const r of profile.regions) {
    // The profile bounds each region (SIM_MAX_REGION_BYTES); together they may still exceed memory.
    try {
      regions[r.name] = new SharedArrayBuffer(Math.ceil(r.size / 8) * 8);
    } catch {
      const total = profile.regions.reduce((n, x) => n + x.size, 0);
      throw new Error(`simulated board ${profile.id}: cannot allocate region "${r.name}" of ${r.size} bytes in RAM (its regions total ${total} bytes); make the regions smaller`);
    }
  }
  const doorbells = new SharedArrayBuffer(DOORBELL_WORDS * 4);
  const words = new Int32Array(doorbells);
  const data: SimWorkerData = { profile, regions, doorbells };
  const worker = new Worker(resolve(__dirname, 'worker-entry.cjs'), { workerData: data });
  const log: string[] = [];

  let failure: Error | null = null;
  let lose: (why: string) => void = () => undefined;
  const lost = new Promise<string>((resolveLost) => (lose = resolveLost));
  const ready = new Promise<void>((resolveReady, reject) => {
    worker.on('message', (m: SimWorkerMessage) => {
      if (m.type === 'ready') resolveReady();
      else if (m.type === 'error') {
        failure = new Error(`simulated board ${profile.id}: ${m.message}`);
        reject(failure);
        lose(failure.message);
      } else log.push(m.message);
    });
    worker.on('error', (e) => {
      failure = new Error(`simulated board ${profile.id} crashed: ${e.message}`);
      reject(failure);
      lose(failure.message);
    });
    worker.on('exit', (code) => {
      if (code !== 0 && !failure) reject(new Error(`simulated board ${profile.id} exited with code ${code}`));
      lose(`simulated board ${profile.id}'s worker thread exited (code ${code})`);
    });
  });
  ready.catch(() => undefined);
  worker.unref();

  const busRegion = profile.regions.find((r) => r.name === profile.bus.region)!;
  const dataRegion = profile.regions.find((r) => r.name === profile.dataMemory.region)!;
  const doorbellIn = new CounterDoorbellIn(words, DOORBELL_TO_DRIVER);
  return {
    description: `${profile.id} (simulated, device side in a worker thread)`,
    busWindow: new SubWindow(new BytesWindow(regions[busRegion.name]!), profile.bus.offset, profile.bus.size),
    dataWindow: new BytesWindow(regions[dataRegion.name]!, 0, profile.dataMemory.size),
    dataPeerBase: profile.dataMemory.peerBase,
    doorbellOut: new CounterDoorbellOut(words, DOORBELL_TO_DEVICE),
    doorbellIn,
    ready,
    lost,
    log,
    async close() {
      doorbellIn.close();
      Atomics.store(words, SIM_STOP, 1);
      Atomics.notify(words, DOORBELL_TO_DEVICE);
      await worker.terminate();
    },
  };
}
