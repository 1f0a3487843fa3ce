/**
 * virtio-rng / entropy source (device id 4): no config space, no feature bits, one requestq of
 * device-writable buffers. The model fills them from a seeded PRNG so tests know every byte.
 */
import { z } from 'zod';

import type { MemoryWindow } from '../bus/window';
import { DEVICE_ID } from '../protocol/names';
import { scatter, totalLength } from '../virtio/chain';
import type { DeviceVirtqueue } from '../virtio/deviceRing';
import { workload, type DeviceDescriptor } from './descriptor';
import { BaseDeviceModel, resultOf, serveAll, type ModelOptions, type ProcessResult } from './model';
import { DEFAULT_TIMEOUT_MS, submitRequests, type QueueContext } from './workload';
import { ok, type Result } from '../util/result';

export const RNG_REQUESTQ = 0;

/**
 * mulberry32 as a byte stream: each 32-bit output gives four bytes, least significant first;
 * bytes not taken by one call are handed out by the next, so the stream does not depend on how
 * it is split into requests.
 */
export class SeededPrng {
  private state: number;
  private word = 0;
  private left = 0;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  nextBytes(n: number): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      if (this.left === 0) {
        this.word = this.next32();
        this.left = 4;
      }
      out[i] = this.word & 0xff;
      this.word >>>= 8;
      this.left--;
    }
    return out;
  }

  /** A number in [0, 1): for seeded fault injection and test data. */
  nextUnit(): number {
    return this.next32() / 4294967296;
  }

  private next32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
}

export interface RngModelOptions extends ModelOptions {
  seed: number;
}

export class RngDeviceModel extends BaseDeviceModel {
  readonly deviceId = DEVICE_ID.RNG;
  private readonly prng: SeededPrng;

  constructor(options: RngModelOptions) {
    super({ deviceFeatures: 0n, numQueues: 1, configSize: 0 }, options);
    this.prng = new SeededPrng(options.seed);
  }

  protected async serve(queueIndex: number, queue: DeviceVirtqueue, memory: MemoryWindow): Promise<ProcessResult> {
    const served = await serveAll(queue, async (chain) => {
      const n = totalLength(chain.writable);
      return scatter(memory, chain.writable, this.prng.nextBytes(n));
    });
    return resultOf(queueIndex, served);
  }
}

/**
 * Reads `n` bytes of entropy, asking again for the rest when the device returns fewer bytes
 * than the buffer holds; a device returning none is an error.
 */
export async function rngRead(ctx: QueueContext, n: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Result<Uint8Array>> {
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`rngRead: byte count ${n} is not a positive integer`);
  const bytes = new Uint8Array(n);
  let have = 0;
  while (have < n) {
    const done = await submitRequests(ctx, [[{ writable: n - have }]], timeoutMs);
    if (!done.ok) return done;
    const { len, writable } = done.value[0]!;
    if (len === 0) return { ok: false, error: `entropy device returned 0 bytes for a ${n - have}-byte buffer (${have} of ${n} bytes read)` };
    bytes.set(writable[0]!.subarray(0, len), have);
    have += len;
  }
  return ok(bytes);
}

/** The bytes `exercise` reads per round. */
const EXERCISE_BYTES = 32;

export const RNG_DEVICE = {
  id: DEVICE_ID.RNG,
  name: 'rng',
  features: {},
  config: [],
  driver: { queues: ['requestq'], accepts: [], requires: [] },
  model: (options) => new RngDeviceModel(options),
  workloads: [
    workload({
      kind: 'rng-read',
      params: z.object({ bytes: z.number().int().min(1).max(4096) }).strict(),
      defaults: { bytes: 16 },
      run: async (queueAt, { bytes }) => {
        const got = await rngRead(queueAt(RNG_REQUESTQ), bytes);
        return got.ok ? ok([got.value]) : got;
      },
    }),
  ],
  exercise: {
    name: `rng read ${EXERCISE_BYTES} bytes`,
    round: async (queueAt) => {
      const r = await rngRead(queueAt(RNG_REQUESTQ), EXERCISE_BYTES);
      if (!r.ok) return r.error;
      return r.value.length === EXERCISE_BYTES ? null : `asked for ${EXERCISE_BYTES} random bytes, got ${r.value.length}`;
    },
  },
} satisfies DeviceDescriptor;
