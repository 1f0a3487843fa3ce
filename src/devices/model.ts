/**
 * What a device-role server drives: one virtio device function (config space, features,
 * queues) whose requests are served from the virtqueues in the board's data memory.
 */
import type { MemoryWindow } from '../bus/window';
import { FEATURE, featureBit } from '../protocol/names';
import type { Chain } from '../virtio/chain';
import type { DeviceVirtqueue } from '../virtio/deviceRing';
import { fail, ok, type Result } from '../util/result';
import type { RingProblem } from '../virtio/problem';

/** Vendor id the workbench's simulated devices report: "AMPW" as le32. */
export const WORKBENCH_VENDOR_ID = 0x57504d41;


/** Looks up the device's other configured queues (null when not set up). */
export type QueueLookup = (queueIndex: number) => DeviceVirtqueue | null;

/**
 * Serving one queue: fails on a fault in the driver's ring data, where serving stopped (server:
 * DEVICE_NEEDS_RESET); either way says how many used entries were pushed.
 */
export type ProcessResult = Result<void, RingProblem & { queueIndex: number }> & {
  /** Used entries pushed on the queue that was served. */
  used: number;
  /**
   * Used entries pushed on other queues while serving (the console echoes transmitq bytes into
   * receiveq buffers). The server sends EVENT_USED for each, after process() resolved.
   */
  alsoUsed: { queueIndex: number; count: number }[];
};

/** Chains served and pushed used on one queue, and the ring fault that stopped it, if one did. */
export type Served = Result<void, RingProblem> & { used: number };

/** A queue's Served outcome, its fault naming the queue. */
export function atQueue(served: Served, queueIndex: number): Result<void, RingProblem & { queueIndex: number }> {
  return served.ok ? ok() : fail({ ...served.error, queueIndex });
}

/** One shared-memory region: its id, its length (0 = absent) and base address in the driver's view (§6.10). */
export interface SharedMemoryRegion {
  shmid: number;
  length: bigint;
  address: bigint;
}

export interface DeviceModel {
  readonly deviceId: number;
  /** Regions GET_SHM reports; none when absent. */
  readonly sharedMemory?: readonly SharedMemoryRegion[];
  readonly vendorId: number;
  /** Includes VIRTIO_F_VERSION_1 (bit 32). */
  readonly offeredFeatures: bigint;
  readonly numQueues: number;
  /** Largest size the driver may choose for queue `index`; 0 for a queue that does not exist. */
  queueMaxSize(index: number): number;
  readonly configSize: number;
  readonly configGeneration: number;
  /** Bytes [offset, offset + length) of the config space; the caller checks the bounds (RangeError otherwise). */
  readConfig(offset: number, length: number): Uint8Array;
  /** SET_CONFIG: true when the write was applied. */
  writeConfig(offset: number, data: Uint8Array): boolean;
  /** Device reset (status 0): forgets negotiated features and in-flight device state. */
  reset(): void;
  /** FEATURES_OK check: true when the driver's subset is acceptable (it is then in effect). */
  acceptFeatures(driverFeatures: bigint): boolean;
  /**
   * Serves every available chain on queue `queueIndex` and returns what it pushed to the used
   * rings (EVENT_USED goes out after this resolved, i.e. after the used rings were updated).
   * `memory` is the data window the chains' buffers are in; `queueAt` gives the device's other
   * queues (the console needs receiveq while serving transmitq; without it, echoed bytes wait
   * until receiveq is next served).
   */
  process(queueIndex: number, queue: DeviceVirtqueue, memory: MemoryWindow, queueAt?: QueueLookup): Promise<ProcessResult>;
}

export interface ModelOptions {
  /** Max queue size offered for every queue (default 256). */
  queueMaxSize?: number;
  vendorId?: number;
}

/**
 * Pops every available chain of `queue`, lets `handle` serve it (returning the bytes written
 * into its device-writable part) and pushes it to the used ring. Stops at the first problem.
 */
export async function serveAll(queue: DeviceVirtqueue, handle: (chain: Chain) => Promise<number>): Promise<Served> {
  let used = 0;
  for (;;) {
    const popped = await queue.popAvail();
    if (popped === null) return { ...ok(), used };
    if (!popped.ok) return { ...popped, used };
    await queue.pushUsed(popped.value.head, await handle(popped.value));
    used++;
  }
}

/** Feature negotiation, config space and queue bookkeeping common to every model. */
export abstract class BaseDeviceModel implements DeviceModel {
  abstract readonly deviceId: number;
  readonly vendorId: number;
  readonly offeredFeatures: bigint;
  readonly numQueues: number;
  readonly configSize: number;
  configGeneration = 0;
  protected negotiated = 0n;
  private readonly maxQueueSize: number;

  protected constructor(init: { deviceFeatures: bigint; numQueues: number; configSize: number }, options: ModelOptions) {
    this.offeredFeatures = init.deviceFeatures | featureBit(FEATURE.VERSION_1);
    this.numQueues = init.numQueues;
    this.configSize = init.configSize;
    this.maxQueueSize = options.queueMaxSize ?? 256;
    this.vendorId = options.vendorId ?? WORKBENCH_VENDOR_ID;
  }

  queueMaxSize(index: number): number {
    return Number.isInteger(index) && index >= 0 && index < this.numQueues ? this.maxQueueSize : 0;
  }

  readConfig(offset: number, length: number): Uint8Array {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > this.configSize) {
      throw new RangeError(`config read [${offset}, +${length}) outside config_size ${this.configSize}`);
    }
    return this.configBytes().slice(offset, offset + length);
  }

  writeConfig(_offset: number, _data: Uint8Array): boolean {
    return false;
  }

  /**
   * Any subset of the offered features is accepted. VERSION_1 is not demanded: the R0 prototype
   * carries only feature bits 0–31.
   */
  acceptFeatures(driverFeatures: bigint): boolean {
    if ((driverFeatures & ~this.offeredFeatures) !== 0n) return false;
    this.negotiated = driverFeatures;
    return true;
  }

  /** Features in effect after FEATURES_OK (0 before). */
  get negotiatedFeatures(): bigint {
    return this.negotiated;
  }

  reset(): void {
    this.negotiated = 0n;
    this.resetDevice();
  }

  async process(queueIndex: number, queue: DeviceVirtqueue, memory: MemoryWindow, queueAt?: QueueLookup): Promise<ProcessResult> {
    if (!Number.isInteger(queueIndex) || queueIndex < 0 || queueIndex >= this.numQueues) {
      throw new RangeError(`${this.constructor.name} has no queue ${queueIndex} (it has ${this.numQueues})`);
    }
    return this.serve(queueIndex, queue, memory, queueAt ?? (() => null));
  }

  /** The whole config space as it reads now. */
  protected configBytes(): Uint8Array {
    return new Uint8Array(this.configSize);
  }

  protected resetDevice(): void {}

  protected abstract serve(queueIndex: number, queue: DeviceVirtqueue, memory: MemoryWindow, queueAt: QueueLookup): Promise<ProcessResult>;
}

/** The ProcessResult for serving one queue that touches no other. */
export function resultOf(queueIndex: number, served: Served): ProcessResult {
  return { ...atQueue(served, queueIndex), used: served.used, alsoUsed: [] };
}
