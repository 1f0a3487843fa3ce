/**
 * Device side of the throughput benchmark: attaches to the queues as the device, drains every
 * message through a bus endpoint and counts the events, publishing the count in shared memory.
 */
import { parentPort, workerData } from 'node:worker_threads';

import { BusEndpoint } from '../../src/bus/endpoint';
import { attachQueue } from '../../src/bus/formats/index';
import type { QueueFormat } from '../../src/bus/queue';
import { BytesWindow } from '../../src/bus/window';
import type { Revision } from '../../src/protocol/types';
import { nodeRuntime } from '../../main/host/runtime';
import { BlockingDoorbellIn, CounterDoorbellOut, DOORBELL_TO_DEVICE, DOORBELL_TO_DRIVER, SIM_STOP } from '../../main/host/sim/doorbell';
import { errorText } from '../../src/util/errorText';

export interface SinkData {
  format: QueueFormat;
  revision: Revision;
  bus: SharedArrayBuffer;
  doorbells: SharedArrayBuffer;
  /** Int32 [0]: events counted. */
  counter: SharedArrayBuffer;
}

async function main(): Promise<void> {
  const d = workerData as SinkData;
  const words = new Int32Array(d.doorbells);
  const counter = new Int32Array(d.counter);
  const doorbellIn = new BlockingDoorbellIn(words, DOORBELL_TO_DEVICE);
  const a = await attachQueue(d.format, 'device', new BytesWindow(d.bus), {}, { runtime: nodeRuntime, pollMs: 1, layoutTimeoutMs: 5000, peerTimeoutMs: 5000 });
  if (!a.ok) throw new Error(a.error.reason);
  const ep = new BusEndpoint({ queue: a.value, doorbellIn, doorbellOut: new CounterDoorbellOut(words, DOORBELL_TO_DRIVER), revision: d.revision, runtime: nodeRuntime });
  ep.onEvent('any', () => void Atomics.add(counter, 0, 1));
  parentPort?.postMessage('ready');
  while (Atomics.load(words, SIM_STOP) === 0) {
    doorbellIn.waitOnce(2_000_000n, 1);
    await ep.drain();
  }
  ep.close();
}

main().catch((e: unknown) => parentPort?.postMessage(`error: ${errorText(e)}`));
