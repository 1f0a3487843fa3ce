import { checkRange, type MemoryWindow } from '../bus/window';
import type { BufferAllocator } from './alloc';
import {
  AVAIL_ALIGN,
  AVAIL_IDX,
  AVAIL_RING,
  DESC_ALIGN,
  availRingBytes,
  encodeDescriptor,
  getU32,
  idxDistance,
  isValidQueueSize,
  splitRingLayout,
  USED_ALIGN,
  USED_ELEM_SIZE,
  USED_FLAGS,
  USED_IDX,
  USED_RING,
  usedRingBytes,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_SIZE,
  VIRTQ_USED_F_NO_NOTIFY,
  vringNeedEvent,
} from './layout';
import { ringProblem, type RingProblem } from './problem';
import type { Result } from '../util/result';

/** Window offsets of the three areas of one split queue. */
export interface RingOffsets {
  desc: number;
  avail: number;
  used: number;
}

export interface DriverVirtqueueOptions {
  window: MemoryWindow;
  /** Device-view address of window byte 0 (Link.dataPeerBase). */
  peerBase: bigint;
  size: number;
  offsets: RingOffsets;
  /** VIRTIO_F_EVENT_IDX negotiated: the rings carry used_event / avail_event. */
  eventIdx?: boolean;
}

/** One buffer of a chain, as a range of the data window. */
export interface BufferSpec {
  offset: number;
  length: number;
  /** Device-writable (the device fills it); device-readable otherwise. */
  writable: boolean;
}

export interface UsedElem {
  id: number;
  len: number;
}

export interface CollectResult {
  used: UsedElem[];
  problems: RingProblem[];
}

interface InFlight {
  descs: number[];
  buffers: readonly BufferSpec[];
  writableBytes: number;
  published: boolean;
}

/**
 * Told the bytes of each chain the driver publishes (`toDevice`: its device-readable bytes) and
 * takes back used (the bytes the device wrote, up to the used entry's len): `length` in full and
 * the first `max` of them (the trace's buffer records, docs/formats.md §8).
 */
export interface BufferWatch {
  max: number;
  seen(toDevice: boolean, head: number, length: number, bytes: Uint8Array): void;
}

/**
 * The driver's side of one split virtqueue. The driver owns the descriptor table and the
 * available ring: it keeps a shadow of the table, stages chains with `addChain`, and writes
 * them out in `publish` (descriptors, ring entries, then avail.idx with release ordering).
 * Everything read back from the used ring is validated; faults are values.
 * One owner at a time: calls must not interleave.
 */
export class DriverVirtqueue {
  readonly window: MemoryWindow;
  readonly peerBase: bigint;
  readonly size: number;
  readonly offsets: Readonly<RingOffsets>;
  readonly eventIdx: boolean;

  private readonly shadow: Uint8Array<ArrayBuffer>;
  private readonly dirty = new Set<number>();
  private freeList: number[] = [];
  private inflight: (InFlight | undefined)[] = [];
  private pendingHeads: number[] = [];
  private availIdx = 0;
  private lastUsedIdx = 0;
  private retiredBecause: string | null = null;
  private publishedInFlight = 0;
  /** Called after avail.idx was published or new used entries were collected (the trace's vq-index records). */
  onIndexChange: ((vq: DriverVirtqueue, usedIdx: number) => void) | null = null;
  /** Told the bytes of the chains published and used; null: not read. */
  bufferWatch: BufferWatch | null = null;

  constructor(options: DriverVirtqueueOptions) {
    const { window, peerBase, size, offsets } = options;
    if (!isValidQueueSize(size)) throw new RangeError(`queue size ${size} is not a power of two in 1..32768`);
    const eventIdx = options.eventIdx ?? false;
    // The whole virtio 1.x areas (event words included, negotiated or not), apart from each other.
    const areas: [string, number, number, number][] = [
      ['descriptor table', offsets.desc, VIRTQ_DESC_SIZE * size, DESC_ALIGN],
      ['available ring', offsets.avail, availRingBytes(size, true), AVAIL_ALIGN],
      ['used ring', offsets.used, usedRingBytes(size, true), USED_ALIGN],
    ];
    for (const [i, [name, offset, bytes, align]] of areas.entries()) {
      checkRange(window, offset, bytes);
      if (offset % align !== 0 || (peerBase + BigInt(offset)) % BigInt(align) !== 0n) {
        throw new RangeError(`${name} at offset 0x${offset.toString(16)} (device address 0x${(peerBase + BigInt(offset)).toString(16)}) is not ${align}-byte aligned`);
      }
      for (const [other, at, len] of areas.slice(i + 1)) {
        if (offset < at + len && at < offset + bytes) {
          throw new RangeError(`${name} [0x${offset.toString(16)}, +${bytes}) overlaps the ${other} [0x${at.toString(16)}, +${len})`);
        }
      }
    }
    this.window = window;
    this.peerBase = peerBase;
    this.size = size;
    this.offsets = { ...offsets };
    this.eventIdx = eventIdx;
    this.shadow = new Uint8Array(VIRTQ_DESC_SIZE * size);
    this.resetState(0);
  }

  /**
   * Allocates the three areas as one block (aligned 16, layout of splitRingLayout) from `alloc`.
   * The block starts at `queue.offsets.desc`: `alloc.free(queue.offsets.desc)` once the device no
   * longer uses the queue (after a device reset or RESET_VQUEUE). Out of memory is a value.
   */
  static allocate(
    alloc: BufferAllocator,
    window: MemoryWindow,
    peerBase: bigint,
    size: number,
    eventIdx = false,
  ): Result<DriverVirtqueue> {
    const layout = splitRingLayout(size);
    const block = alloc.alloc(layout.totalBytes, DESC_ALIGN);
    if (!block.ok) return { ok: false, error: `virtqueue of size ${size}: ${block.error}` };
    const at = block.value;
    const offsets = { desc: at + layout.descOffset, avail: at + layout.availOffset, used: at + layout.usedOffset };
    return { ok: true, value: new DriverVirtqueue({ window, peerBase, size, offsets, eventIdx }) };
  }

  /**
   * The driver tore the queue down (device reset or removed): from now on it writes nothing to
   * memory, refuses new chains and reports `reason` (e.g. "device 2 was reset") to whoever
   * still waits on it.
   */
  retire(reason: string): void {
    this.retiredBecause = reason;
  }

  /** Addresses for SET_VQUEUE, in the device's view. */
  get descAddr(): bigint {
    return this.peerBase + BigInt(this.offsets.desc);
  }
  get driverAddr(): bigint {
    return this.peerBase + BigInt(this.offsets.avail);
  }
  get deviceAddr(): bigint {
    return this.peerBase + BigInt(this.offsets.used);
  }

  /** Free descriptors. */
  get numFree(): number {
    return this.freeList.length;
  }
  /** Chains published and not yet returned in the used ring. */
  get inFlight(): number {
    return this.publishedInFlight;
  }
  /** Chains added but not yet published. */
  get pending(): number {
    return this.pendingHeads.length;
  }
  /** The driver's avail.idx (what it last published). */
  get availIndex(): number {
    return this.availIdx;
  }
  /** The used.idx the driver has consumed up to ("last seen"). */
  get lastSeenUsed(): number {
    return this.lastUsedIdx;
  }

  /**
   * Zeroes the rings and sets avail.idx = used.idx = `startIdx` (0 after a device reset; other
   * values let tests exercise 16-bit wraparound). Call before SET_VQUEUE.
   */
  async init(startIdx = 0): Promise<void> {
    const { desc, avail, used } = this.offsets;
    await this.window.write(desc, new Uint8Array(VIRTQ_DESC_SIZE * this.size));
    await this.window.write(avail, new Uint8Array(availRingBytes(this.size, true)));
    await this.window.write(used, new Uint8Array(usedRingBytes(this.size, true)));
    this.resetState(startIdx & 0xffff);
    await this.window.store(avail + AVAIL_IDX, 16, this.availIdx);
    await this.window.store(used + USED_IDX, 16, this.availIdx);
    if (this.eventIdx) await this.setUsedEvent(this.availIdx);
  }

  private resetState(startIdx: number): void {
    this.shadow.fill(0);
    this.dirty.clear();
    this.freeList = Array.from({ length: this.size }, (_, i) => this.size - 1 - i);
    this.inflight = new Array<InFlight | undefined>(this.size);
    this.pendingHeads = [];
    this.availIdx = startIdx;
    this.lastUsedIdx = startIdx;
    this.publishedInFlight = 0;
  }

  /**
   * Stages one chain (device-readable buffers first, then device-writable ones). It becomes
   * visible to the device at the next `publish`. No free descriptors is a value.
   */
  addChain(buffers: readonly BufferSpec[]): Result<number> {
    if (buffers.length === 0) throw new RangeError('addChain: a chain needs at least one buffer');
    if (this.retiredBecause !== null) return { ok: false, error: `virtqueue retired: ${this.retiredBecause}` };
    let seenWritable = false;
    for (const b of buffers) {
      checkRange(this.window, b.offset, b.length);
      if (b.length > 0xffffffff) throw new RangeError(`buffer length ${b.length} does not fit le32 len`);
      if (!b.writable && seenWritable) throw new RangeError('addChain: device-readable buffers must precede device-writable ones');
      seenWritable ||= b.writable;
    }
    if (buffers.length > this.freeList.length) {
      return { ok: false, error: `virtqueue full: chain needs ${buffers.length} descriptors, ${this.freeList.length} of ${this.size} free (${this.publishedInFlight} chains in flight)` };
    }
    const descs = buffers.map(() => this.freeList.pop()!);
    buffers.forEach((b, k) => {
      const next = descs[k + 1];
      const flags = (b.writable ? VIRTQ_DESC_F_WRITE : 0) | (next !== undefined ? VIRTQ_DESC_F_NEXT : 0);
      const i = descs[k]!;
      this.shadow.set(encodeDescriptor({ addr: this.peerBase + BigInt(b.offset), len: b.length, flags, next: next ?? 0 }), VIRTQ_DESC_SIZE * i);
      this.dirty.add(i);
    });
    const head = descs[0]!;
    const writableBytes = buffers.reduce((n, b) => n + (b.writable ? b.length : 0), 0);
    this.inflight[head] = { descs, buffers: [...buffers], writableBytes, published: false };
    this.pendingHeads.push(head);
    return { ok: true, value: head };
  }

  /**
   * Makes the added chains visible: writes the changed descriptors and the ring entries, then
   * stores avail.idx (release: entries before idx). `notify` says whether the device asked to be
   * notified (used.flags NO_NOTIFY clear, or avail_event passed with EVENT_IDX).
   */
  async publish(): Promise<{ count: number; notify: boolean }> {
    const heads = this.pendingHeads;
    // A retired queue's memory may already belong to someone else: write nothing.
    if (heads.length === 0 || this.retiredBecause !== null) return { count: 0, notify: false };
    await this.flushDescriptors();
    const entries = new Uint8Array(2 * heads.length);
    heads.forEach((h, k) => {
      entries[2 * k] = h & 0xff;
      entries[2 * k + 1] = h >>> 8;
    });
    const first = this.availIdx % this.size;
    const inFirstRun = Math.min(heads.length, this.size - first);
    const ring = this.offsets.avail + AVAIL_RING;
    await this.window.write(ring + 2 * first, entries.subarray(0, 2 * inFirstRun));
    if (inFirstRun < heads.length) await this.window.write(ring, entries.subarray(2 * inFirstRun));
    const old = this.availIdx;
    this.availIdx = (old + heads.length) & 0xffff;
    await this.window.store(this.offsets.avail + AVAIL_IDX, 16, this.availIdx);
    for (const h of heads) this.inflight[h]!.published = true;
    this.publishedInFlight += heads.length;
    this.pendingHeads = [];
    await this.window.fence();
    const watch = this.bufferWatch;
    if (watch !== null) {
      for (const h of heads) {
        const readable = this.inflight[h]!.buffers.filter((b) => !b.writable);
        const length = readable.reduce((n, b) => n + b.length, 0);
        watch.seen(true, h, length, await this.chainBytes(readable, Math.min(length, watch.max)));
      }
    }
    this.onIndexChange?.(this, this.lastUsedIdx);
    let notify: boolean;
    if (this.eventIdx) {
      notify = vringNeedEvent(await this.readAvailEvent(), this.availIdx, old);
    } else {
      notify = ((await this.window.load(this.offsets.used + USED_FLAGS, 16)) & VIRTQ_USED_F_NO_NOTIFY) === 0;
    }
    return { count: heads.length, notify };
  }

  /** Writes dirty shadow descriptors, one write per run of consecutive indices. */
  private async flushDescriptors(): Promise<void> {
    const order = [...this.dirty].sort((a, b) => a - b);
    this.dirty.clear();
    for (let k = 0; k < order.length; ) {
      let end = k + 1;
      while (end < order.length && order[end] === order[end - 1]! + 1) end++;
      const from = VIRTQ_DESC_SIZE * order[k]!;
      const to = VIRTQ_DESC_SIZE * (order[end - 1]! + 1);
      await this.window.write(this.offsets.desc + from, this.shadow.subarray(from, to));
      k = end;
    }
  }

  /**
   * Used elements the device returned since the last call; their descriptors are freed. Every
   * element is checked (id in range and in flight, len within the chain's writable bytes); a
   * used.idx that ran further than the chains in flight is reported and nothing is consumed.
   */
  async collectUsed(): Promise<CollectResult> {
    const usedIdxAt = this.offsets.used + USED_IDX;
    if (this.retiredBecause !== null) {
      return { used: [], problems: [ringProblem('queue-retired', usedIdxAt, 'virtqueue', 'a queue in use', `one retired because ${this.retiredBecause}`)] };
    }
    const seen = await this.window.load(usedIdxAt, 16);
    const count = idxDistance(this.lastUsedIdx, seen);
    if (count === 0) return { used: [], problems: [] };
    if (count > this.publishedInFlight) {
      const problem = ringProblem('used-idx', usedIdxAt, 'used.idx', `at most ${this.publishedInFlight} new used entries after ${this.lastUsedIdx}`, `${seen} (+${count})`);
      return { used: [], problems: [problem] };
    }
    const elems = await this.readUsedElems(this.lastUsedIdx, count);
    const watch = this.bufferWatch;
    const used: UsedElem[] = [];
    const problems: RingProblem[] = [];
    for (let k = 0; k < count; k++) {
      const slot = (this.lastUsedIdx + k) % this.size;
      const at = this.offsets.used + USED_RING + USED_ELEM_SIZE * slot;
      const id = getU32(elems, USED_ELEM_SIZE * k);
      const len = getU32(elems, USED_ELEM_SIZE * k + 4);
      const chain = id < this.size ? this.inflight[id] : undefined;
      if (!chain?.published) {
        const expected = id < this.size ? 'the head of a chain in flight' : `an id < ${this.size}`;
        problems.push(ringProblem('used-id', at, `used.ring[${slot}].id`, expected, `${id}`));
        continue;
      }
      if (len > chain.writableBytes) {
        problems.push(ringProblem('used-len', at + 4, `used.ring[${slot}].len`, `at most ${chain.writableBytes} (the chain's device-writable bytes)`, `${len}`));
      }
      const kept = Math.min(len, chain.writableBytes);
      // Read before the descriptors are freed: the bytes are the device's until the driver reuses them.
      if (watch !== null) watch.seen(false, id, kept, await this.chainBytes(chain.buffers.filter((b) => b.writable), Math.min(kept, watch.max)));
      this.release(id, chain);
      used.push({ id, len: kept });
    }
    this.lastUsedIdx = seen;
    if (this.eventIdx) await this.setUsedEvent(seen);
    this.onIndexChange?.(this, seen);
    return { used, problems };
  }

  private async readUsedElems(from: number, count: number): Promise<Uint8Array> {
    const first = from % this.size;
    const inFirstRun = Math.min(count, this.size - first);
    const ring = this.offsets.used + USED_RING;
    const a = await this.window.read(ring + USED_ELEM_SIZE * first, USED_ELEM_SIZE * inFirstRun);
    if (inFirstRun === count) return a;
    const out = new Uint8Array(USED_ELEM_SIZE * count);
    out.set(a);
    out.set(await this.window.read(ring, USED_ELEM_SIZE * (count - inFirstRun)), a.length);
    return out;
  }

  /** The first `n` bytes of `buffers`, read in order. */
  private async chainBytes(buffers: readonly BufferSpec[], n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    for (let at = 0, k = 0; at < n && k < buffers.length; k++) {
      const take = Math.min(buffers[k]!.length, n - at);
      if (take > 0) out.set(await this.window.read(buffers[k]!.offset, take), at);
      at += take;
    }
    return out;
  }

  private release(head: number, chain: InFlight): void {
    this.inflight[head] = undefined;
    this.publishedInFlight--;
    for (let k = chain.descs.length - 1; k >= 0; k--) this.freeList.push(chain.descs[k]!);
  }

  /**
   * EVENT_AVAIL next_offset for VIRTIO_F_NOTIFICATION_DATA on a split ring: the avail index
   * (bits 30:0, next_wrap 0 — virtio-msg R4 / Linux PoC-v2, docs/protocol.md §10.1).
   */
  nextOffsetForNotify(): number {
    return this.availIdx;
  }

  /** EVENT_IDX: "interrupt me once used.idx passes `idx`" (avail ring used_event). */
  async setUsedEvent(idx: number): Promise<void> {
    this.requireEventIdx();
    await this.window.store(this.offsets.avail + AVAIL_RING + 2 * this.size, 16, idx & 0xffff);
  }

  /** EVENT_IDX: the device's avail_event (used ring): "notify me once avail.idx passes it". */
  async readAvailEvent(): Promise<number> {
    this.requireEventIdx();
    return this.window.load(this.offsets.used + USED_RING + USED_ELEM_SIZE * this.size, 16);
  }

  private requireEventIdx(): void {
    if (!this.eventIdx) throw new Error('used_event/avail_event exist only with VIRTIO_F_EVENT_IDX');
  }
}
