/**
 * Byte layout of a virtio 1.x split virtqueue (virtio spec "Split Virtqueues"):
 *
 *   descriptor table  16 × N   {le64 addr, le32 len, le16 flags, le16 next}     align 16
 *   available ring    6 + 2N   {le16 flags, le16 idx, le16 ring[N], le16 used_event}  align 2
 *   used ring         6 + 8N   {le16 flags, le16 idx, {le32 id, le32 len}[N], le16 avail_event}  align 4
 *
 * The event words are used only with VIRTIO_F_EVENT_IDX, but virtio 1.x sizes the driver and
 * device areas with them (6 + 2N, 6 + 8N) whatever is negotiated.
 *
 * Indices (`avail.idx`, `used.idx`) are free-running 16-bit counters; ring slot = idx mod N.
 * Nothing here touches memory: these are the numbers every other module derives offsets from.
 */

export const VIRTQ_DESC_SIZE = 16;
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
/** avail.flags bit: the driver asks the device not to interrupt (ignored with EVENT_IDX). */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
/** used.flags bit: the device asks the driver not to notify (ignored with EVENT_IDX). */
export const VIRTQ_USED_F_NO_NOTIFY = 1;
/** Largest split-queue size the spec allows. */
export const VIRTQ_MAX_SIZE = 32768;

export const DESC_ALIGN = 16;
export const AVAIL_ALIGN = 2;
export const USED_ALIGN = 4;

/** Field offsets relative to the start of each area. */
export const AVAIL_FLAGS = 0;
export const AVAIL_IDX = 2;
export const AVAIL_RING = 4;
export const USED_FLAGS = 0;
export const USED_IDX = 2;
export const USED_RING = 4;
export const USED_ELEM_SIZE = 8;

export interface SplitRingLayout {
  size: number;
  /** Offsets of the three areas when placed back to back from 0 (desc, avail, used). */
  descOffset: number;
  descBytes: number;
  availOffset: number;
  availBytes: number;
  usedOffset: number;
  usedBytes: number;
  /** Bytes from descOffset to the end of the used ring (one allocation, aligned 16). */
  totalBytes: number;
  /** Offset of `used_event` inside the available ring. */
  usedEventInAvail: number;
  /** Offset of `avail_event` inside the used ring. */
  availEventInUsed: number;
}

/** Size is a queue size the spec allows: a power of two in 1..32768. */
export function isValidQueueSize(size: number): boolean {
  return Number.isInteger(size) && size >= 1 && size <= VIRTQ_MAX_SIZE && (size & (size - 1)) === 0;
}

export function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

export function availRingBytes(size: number, eventIdx: boolean): number {
  return AVAIL_RING + 2 * size + (eventIdx ? 2 : 0);
}

export function usedRingBytes(size: number, eventIdx: boolean): number {
  return USED_RING + USED_ELEM_SIZE * size + (eventIdx ? 2 : 0);
}

/**
 * Layout of one split queue placed contiguously: descriptor table, the whole driver area
 * (6 + 2N, so `used_event` is there even without EVENT_IDX), then the used ring at the next
 * 4-byte boundary. A used ring at avail + 4 + 2N would lie over `used_event`: a device that
 * offers EVENT_IDX (QEMU does) would read used entries there the day it is negotiated.
 */
export function splitRingLayout(size: number): SplitRingLayout {
  if (!isValidQueueSize(size)) throw new RangeError(`queue size ${size} is not a power of two in 1..${VIRTQ_MAX_SIZE}`);
  const descBytes = VIRTQ_DESC_SIZE * size;
  const availOffset = descBytes;
  const availBytes = availRingBytes(size, true);
  const usedOffset = alignUp(availOffset + availBytes, USED_ALIGN);
  const usedBytes = usedRingBytes(size, true);
  return {
    size,
    descOffset: 0,
    descBytes,
    availOffset,
    availBytes,
    usedOffset,
    usedBytes,
    totalBytes: usedOffset + usedBytes,
    usedEventInAvail: AVAIL_RING + 2 * size,
    availEventInUsed: USED_RING + USED_ELEM_SIZE * size,
  };
}

/** One descriptor table entry. */
export interface Descriptor {
  addr: bigint;
  len: number;
  flags: number;
  next: number;
}

export function encodeDescriptor(d: Descriptor): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(VIRTQ_DESC_SIZE);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, d.addr, true);
  v.setUint32(8, d.len, true);
  v.setUint16(12, d.flags, true);
  v.setUint16(14, d.next, true);
  return out;
}

/** Decodes the descriptor at byte `at` of `bytes`. */
export function decodeDescriptor(bytes: Uint8Array, at = 0): Descriptor {
  const v = new DataView(bytes.buffer, bytes.byteOffset + at, VIRTQ_DESC_SIZE);
  return { addr: v.getBigUint64(0, true), len: v.getUint32(8, true), flags: v.getUint16(12, true), next: v.getUint16(14, true) };
}

/** "NEXT|WRITE", "INDIRECT", "" — descriptor flags by their spec names (unknown bits as hex). */
export function descFlagNames(flags: number): string {
  const names: string[] = [];
  if (flags & VIRTQ_DESC_F_NEXT) names.push('NEXT');
  if (flags & VIRTQ_DESC_F_WRITE) names.push('WRITE');
  if (flags & VIRTQ_DESC_F_INDIRECT) names.push('INDIRECT');
  const rest = flags & ~(VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_INDIRECT);
  if (rest) names.push('0x' + rest.toString(16));
  return names.join('|');
}

/** Little-endian u16 / u32 reads from a copied-out byte run. */
export function getU16(bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8);
}
export function getU32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/** Free-running 16-bit index arithmetic: how far `to` is ahead of `from`. */
export function idxDistance(from: number, to: number): number {
  return (to - from) & 0xffff;
}

/**
 * The event-index rule (virtio spec "vring_need_event"): notify when the index moved from `old`
 * to `now` and passed `event` on the way.
 */
export function vringNeedEvent(event: number, now: number, old: number): boolean {
  return ((now - event - 1) & 0xffff) < ((now - old) & 0xffff);
}

/**
 * Maps an address in the device's view to an offset in the device's own window, or null when
 * [addr, addr + len) is not inside it.
 */
export type Translate = (addr: bigint, len: number) => number | null;

/** The common case: the window's byte 0 is at `peerBase` in the device's view (docs/amp-bus.md §6.1). */
export function windowTranslator(peerBase: bigint, windowSize: number): Translate {
  return (addr, len) => {
    const off = addr - peerBase;
    if (off < 0n || len < 0 || off + BigInt(len) > BigInt(windowSize)) return null;
    return Number(off);
  };
}
