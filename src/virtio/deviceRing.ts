import type { MemoryWindow } from '../bus/window';
import { gather, scatter, totalLength, walkChain, type Chain } from './chain';
import {
  AVAIL_ALIGN,
  AVAIL_FLAGS,
  AVAIL_IDX,
  AVAIL_RING,
  availRingBytes,
  decodeDescriptor,
  DESC_ALIGN,
  getU16,
  idxDistance,
  isValidQueueSize,
  USED_ALIGN,
  USED_ELEM_SIZE,
  USED_IDX,
  USED_RING,
  usedRingBytes,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_SIZE,
  VIRTQ_MAX_SIZE,
  vringNeedEvent,
  type Translate,
} from './layout';
import { ringProblem, type RingProblem } from './problem';
import type { Result } from '../util/result';
import type { RingOffsets } from './driverRing';
import { hexNum } from '../util/hex';

/** What the driver sent in SET_VQUEUE: size and addresses in the device's view. */
export interface VirtqueueAddresses {
  size: number;
  descAddr: bigint;
  driverAddr: bigint;
  deviceAddr: bigint;
}

export interface DeviceVirtqueueOptions {
  /** VIRTIO_F_EVENT_IDX negotiated. */
  eventIdx?: boolean;
  /** Starting last_avail_idx / used.idx (0 after SET_VQUEUE; tests use others for wraparound). */
  startIdx?: number;
}

/** Ring areas of a queue in the window; problems carry offset -1 (SET_VQUEUE values, not memory). */
export function translateRings(addresses: VirtqueueAddresses, translate: Translate, eventIdx: boolean): Result<RingOffsets, RingProblem> {
  const { size } = addresses;
  if (!isValidQueueSize(size)) {
    return { ok: false, error: ringProblem('queue-size', -1, 'SET_VQUEUE size', `a power of two in 1..${VIRTQ_MAX_SIZE}`, `${size}`) };
  }
  const areas: [keyof RingOffsets, string, bigint, number, number][] = [
    ['desc', 'desc_addr', addresses.descAddr, VIRTQ_DESC_SIZE * size, DESC_ALIGN],
    ['avail', 'driver_addr', addresses.driverAddr, availRingBytes(size, eventIdx), AVAIL_ALIGN],
    ['used', 'device_addr', addresses.deviceAddr, usedRingBytes(size, eventIdx), USED_ALIGN],
  ];
  const offsets: RingOffsets = { desc: 0, avail: 0, used: 0 };
  for (const [key, field, addr, bytes, align] of areas) {
    const offset = translate(addr, bytes);
    if (offset === null || addr % BigInt(align) !== 0n || offset % align !== 0) {
      const seen = `${hexNum(addr)} (${bytes} bytes${offset === null ? ', outside the data window' : ''})`;
      return { ok: false, error: ringProblem('ring-address', -1, `SET_VQUEUE ${field}`, `${align}-byte aligned area inside the data window`, seen) };
    }
    offsets[key] = offset;
  }
  return { ok: true, value: offsets };
}

/**
 * The device's side of one split virtqueue, over the rings the driver announced. Reads what the
 * driver wrote with acquire ordering and checks it; a fault is returned as a problem and nothing
 * is consumed (the server should then report DEVICE_NEEDS_RESET). Calls must not interleave.
 */
export class DeviceVirtqueue {
  private lastAvailIdx: number;
  private usedIdx: number;
  private signalledUsed: number;
  /** head → device-writable bytes, for chains popped and not yet pushed to the used ring. */
  private readonly held = new Map<number, number>();

  private constructor(
    readonly window: MemoryWindow,
    readonly size: number,
    readonly offsets: Readonly<RingOffsets>,
    readonly translate: Translate,
    readonly eventIdx: boolean,
    startIdx: number,
  ) {
    this.lastAvailIdx = startIdx;
    this.usedIdx = startIdx;
    this.signalledUsed = startIdx;
  }

  static create(
    window: MemoryWindow,
    addresses: VirtqueueAddresses,
    translate: Translate,
    options: DeviceVirtqueueOptions = {},
  ): Result<DeviceVirtqueue, RingProblem> {
    const eventIdx = options.eventIdx ?? false;
    const rings = translateRings(addresses, translate, eventIdx);
    if (!rings.ok) return rings;
    const queue = new DeviceVirtqueue(window, addresses.size, rings.value, translate, eventIdx, (options.startIdx ?? 0) & 0xffff);
    return { ok: true, value: queue };
  }

  /** The device's last_avail_idx (next avail ring entry it will take). */
  get lastAvail(): number {
    return this.lastAvailIdx;
  }
  /** The used.idx the device last published. */
  get usedIndex(): number {
    return this.usedIdx;
  }
  /** Chains popped and not yet returned. */
  get heldChains(): number {
    return this.held.size;
  }

  /**
   * The next available chain, null when the driver published nothing new, or a problem (the
   * entry is not consumed). With EVENT_IDX, an empty queue also writes avail_event and re-checks.
   */
  async popAvail(): Promise<Result<Chain, RingProblem> | null> {
    const availIdxAt = this.offsets.avail + AVAIL_IDX;
    let availIdx = await this.window.load(availIdxAt, 16);
    if (availIdx === this.lastAvailIdx && this.eventIdx) {
      await this.window.store(this.offsets.used + USED_RING + USED_ELEM_SIZE * this.size, 16, this.lastAvailIdx);
      await this.window.fence();
      availIdx = await this.window.load(availIdxAt, 16);
    }
    const count = idxDistance(this.lastAvailIdx, availIdx);
    if (count === 0) return null;
    if (count > this.size) {
      const expected = `at most ${this.size} entries ahead of last_avail_idx ${this.lastAvailIdx}`;
      return { ok: false, error: ringProblem('avail-idx', availIdxAt, 'avail.idx', expected, `${availIdx} (+${count})`) };
    }
    const slot = this.lastAvailIdx % this.size;
    const headField = this.offsets.avail + AVAIL_RING + 2 * slot;
    const head = getU16(await this.window.read(headField, 2), 0);
    if (this.held.has(head)) {
      return { ok: false, error: ringProblem('desc-in-use', headField, `avail.ring[${slot}]`, 'a head the device does not hold', `${head} (popped, not yet used)`) };
    }
    const readDesc = async (i: number) => decodeDescriptor(await this.window.read(this.offsets.desc + VIRTQ_DESC_SIZE * i, VIRTQ_DESC_SIZE));
    const walked = await walkChain(head, this.size, this.offsets.desc, headField, readDesc, this.translate);
    if (walked.ok) {
      this.lastAvailIdx = (this.lastAvailIdx + 1) & 0xffff;
      this.held.set(head, totalLength(walked.value.writable));
    }
    return walked;
  }

  /** Returns a chain: writes the used element, then stores used.idx (release). */
  async pushUsed(head: number, len: number): Promise<void> {
    const writable = this.held.get(head);
    if (writable === undefined) throw new RangeError(`pushUsed(${head}): the device does not hold that chain`);
    if (!Number.isInteger(len) || len < 0 || len > writable) throw new RangeError(`pushUsed(${head}, ${len}): len beyond the chain's ${writable} writable bytes`);
    this.held.delete(head);
    const elem = new Uint8Array(USED_ELEM_SIZE);
    const v = new DataView(elem.buffer);
    v.setUint32(0, head, true);
    v.setUint32(4, len, true);
    await this.window.write(this.offsets.used + USED_RING + USED_ELEM_SIZE * (this.usedIdx % this.size), elem);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    await this.window.store(this.offsets.used + USED_IDX, 16, this.usedIdx);
  }

  /**
   * Whether the driver wants EVENT_USED for what was pushed since the last call: used_event passed
   * (EVENT_IDX) or avail.flags NO_INTERRUPT clear.
   */
  async needsNotify(): Promise<boolean> {
    await this.window.fence();
    const old = this.signalledUsed;
    this.signalledUsed = this.usedIdx;
    if (this.eventIdx) {
      const usedEvent = await this.window.load(this.offsets.avail + AVAIL_RING + 2 * this.size, 16);
      return vringNeedEvent(usedEvent, this.usedIdx, old);
    }
    if (old === this.usedIdx) return false;
    return ((await this.window.load(this.offsets.avail + AVAIL_FLAGS, 16)) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
  }

  /** The chain's device-readable bytes, concatenated. */
  readChain(chain: Chain): Promise<Uint8Array<ArrayBuffer>> {
    return gather(this.window, chain.readable);
  }

  /** Writes into the chain's device-writable parts from `position`; returns bytes written. */
  writeChain(chain: Chain, bytes: Uint8Array, position = 0): Promise<number> {
    return scatter(this.window, chain.writable, bytes, position);
  }
}
