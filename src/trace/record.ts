/**
 * The trace record: one binary layout shared by the journal on disk, the pcapng payload (after
 * the exported-PDU tags, peers.md §C.1 "keep the payload identical in all options"), the
 * Wireshark dissector and every importer. Little-endian, 64-byte header, then `data`:
 *
 * ```
 *  +0 u32 length      whole record in bytes (header + data)
 *  +4 u8  version     RECORD_VERSION
 *  +5 u8  kind        RECORD_KINDS index (message, doorbell, queue-state, vq-index, marker, finding)
 *  +6 u8  dir         0 none, 1 driver-to-device, 2 device-to-driver
 *  +7 u8  rev         0 unknown, 1 r0, 2 r2, 3 r3, 4 r4
 *  +8 u64 seq         record number within the capture, from 0, gap-free unless records were dropped
 * +16 u64 monoNs      monotonic clock of the recording host
 * +24 u64 wallNs      wall clock, ns since 1970-01-01 UTC
 * +32 u16 channel     message: the bus queue (0 driver→device, 1 device→driver); vq-index: the virtqueue
 * +34 u16 devNum      0xffff when none (no header, or not about a device)
 * +36 u8  msgType     message: the raw type byte; finding: SEVERITIES index (conformance.ts)
 * +37 u8  msgId       message: msg_id; marker: MARKER_KINDS index; finding: RULES index
 * +38 u16 token
 * +40 u32 problems    bit i set = PROBLEM_CODES[i] (src/protocol/types.ts)
 * +44 u32 flags       RECORD_FLAGS
 * +48 u64 pairSeq     response: its request's seq (late: its no-response marker's); no-response marker:
 *                     the request's seq; finding: the offending record's seq; else ~0
 * +56 u64 latencyNs   response: ns from its request; else 0
 * +64 data            message: the raw bytes; vq-index: VQ_INDEX_DATA; marker/queue-state/finding: UTF-8 text
 * ```
 */
import { PROBLEM_CODES, type Direction, type ProblemCode, type Revision } from '../protocol/types';

export const RECORD_VERSION = 1;
export const RECORD_HEADER_SIZE = 64;

export const RECORD_KINDS = ['message', 'doorbell', 'queue-state', 'vq-index', 'marker', 'finding'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

/** Session markers: what happened to the session, and user bookmarks. */
export const MARKER_KINDS = ['attach', 'detach', 'reset', 'error', 'bookmark', 'no-response', 'note', 'dropped'] as const;
export type MarkerKind = (typeof MARKER_KINDS)[number];

export const DIRECTIONS: readonly (Direction | null)[] = [null, 'driver-to-device', 'device-to-driver'];
export const REVISION_CODES: readonly (Revision | null)[] = [null, 'r0', 'r2', 'r3', 'r4'];

export const RECORD_FLAGS = {
  request: 1 << 0,
  response: 1 << 1,
  event: 1 << 2,
  /** type bit1: a bus message. */
  bus: 1 << 3,
  /** Not even a header could be read: devNum, msgType, msgId and token are meaningless. */
  noHeader: 1 << 4,
  /** The response was matched by (dev_num, msg_id) because the token did not match. */
  tokenFallback: 1 << 5,
  /** The response came after its request's timeout: pairSeq is the no-response marker that precedes it. */
  late: 1 << 6,
} as const;

export const NO_DEV = 0xffff;
export const NO_SEQ = 0xffff_ffff_ffff_ffffn;

/** vq-index data: what the driver saw of one virtqueue (amp-bus.md / virtio split ring). */
export const VQ_INDEX_DATA_SIZE = 8;
export interface VqIndex {
  availIdx: number;
  usedIdx: number;
  /** The driver's last seen used index. */
  lastSeenUsed: number;
  /** Descriptor chains the device has not returned yet. */
  inFlight: number;
}

/** A record as a plain value: what importers produce and exporters and tests compare. */
export interface TraceRecord {
  kind: RecordKind;
  dir: Direction | null;
  rev: Revision | null;
  seq: number;
  monoNs: bigint;
  wallNs: bigint;
  channel: number;
  devNum: number | null;
  msgType: number;
  msgId: number;
  token: number;
  problems: number;
  flags: number;
  pairSeq: number | null;
  latencyNs: bigint;
  data: Uint8Array;
}

const DIR_CODE: Readonly<Record<Direction, number>> = { 'driver-to-device': 1, 'device-to-driver': 2 };
const REV_CODE: Readonly<Record<Revision, number>> = { r0: 1, r2: 2, r3: 3, r4: 4 };

export function dirCode(dir: Direction | null): number {
  return dir === null ? 0 : DIR_CODE[dir];
}
export function revCode(rev: Revision | null): number {
  return rev === null ? 0 : REV_CODE[rev];
}
export function kindCode(kind: RecordKind): number {
  return RECORD_KINDS.indexOf(kind);
}

export function problemMask(codes: Iterable<ProblemCode>): number {
  let mask = 0;
  for (const c of codes) mask |= 1 << PROBLEM_CODES.indexOf(c);
  return mask >>> 0;
}
export function problemCodes(mask: number): ProblemCode[] {
  return PROBLEM_CODES.filter((_, i) => (mask & (1 << i)) !== 0);
}

export function encodeVqIndex(v: VqIndex): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(VQ_INDEX_DATA_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, v.availIdx, true);
  dv.setUint16(2, v.usedIdx, true);
  dv.setUint16(4, v.lastSeenUsed, true);
  dv.setUint16(6, v.inFlight, true);
  return b;
}
export function decodeVqIndex(data: Uint8Array): VqIndex | null {
  if (data.length < VQ_INDEX_DATA_SIZE) return null;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return { availIdx: dv.getUint16(0, true), usedIdx: dv.getUint16(2, true), lastSeenUsed: dv.getUint16(4, true), inFlight: dv.getUint16(6, true) };
}

/** Writes `r` at `offset` of `out` (which must have room for recordSize(r)); returns the bytes written. */
export function writeRecord(out: Uint8Array, offset: number, r: TraceRecord): number {
  const length = RECORD_HEADER_SIZE + r.data.length;
  const dv = new DataView(out.buffer, out.byteOffset + offset, length);
  dv.setUint32(0, length, true);
  dv.setUint8(4, RECORD_VERSION);
  dv.setUint8(5, kindCode(r.kind));
  dv.setUint8(6, dirCode(r.dir));
  dv.setUint8(7, revCode(r.rev));
  dv.setBigUint64(8, BigInt(r.seq), true);
  dv.setBigUint64(16, r.monoNs, true);
  dv.setBigUint64(24, r.wallNs, true);
  dv.setUint16(32, r.channel, true);
  dv.setUint16(34, r.devNum ?? NO_DEV, true);
  dv.setUint8(36, r.msgType);
  dv.setUint8(37, r.msgId);
  dv.setUint16(38, r.token, true);
  dv.setUint32(40, r.problems, true);
  dv.setUint32(44, r.flags, true);
  dv.setBigUint64(48, r.pairSeq === null ? NO_SEQ : BigInt(r.pairSeq), true);
  dv.setBigUint64(56, r.latencyNs, true);
  out.set(r.data, offset + RECORD_HEADER_SIZE);
  return length;
}

export function encodeRecord(r: TraceRecord): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(RECORD_HEADER_SIZE + r.data.length);
  writeRecord(out, 0, r);
  return out;
}

export type RecordParse = { ok: true; record: TraceRecord; length: number } | { ok: false; offset: number; reason: string };

/** Reads the record at `offset`; a damaged one is a value that says what was expected and seen. */
export function readRecord(bytes: Uint8Array, offset = 0): RecordParse {
  const avail = bytes.length - offset;
  if (avail < RECORD_HEADER_SIZE) return { ok: false, offset, reason: `record header needs ${RECORD_HEADER_SIZE} bytes, ${avail} left` };
  const dv = new DataView(bytes.buffer, bytes.byteOffset + offset, avail);
  const length = dv.getUint32(0, true);
  const version = dv.getUint8(4);
  if (version !== RECORD_VERSION) return { ok: false, offset: offset + 4, reason: `record version ${RECORD_VERSION} expected, saw ${version}` };
  if (length < RECORD_HEADER_SIZE || length > avail) {
    return { ok: false, offset, reason: `record length between ${RECORD_HEADER_SIZE} and ${avail} expected, saw ${length}` };
  }
  const kind = RECORD_KINDS[dv.getUint8(5)];
  if (kind === undefined) return { ok: false, offset: offset + 5, reason: `record kind 0..${RECORD_KINDS.length - 1} expected, saw ${dv.getUint8(5)}` };
  const dirByte = dv.getUint8(6);
  const revByte = dv.getUint8(7);
  if (dirByte >= DIRECTIONS.length) return { ok: false, offset: offset + 6, reason: `direction 0..2 expected, saw ${dirByte}` };
  if (revByte >= REVISION_CODES.length) return { ok: false, offset: offset + 7, reason: `revision code 0..4 expected, saw ${revByte}` };
  const dev = dv.getUint16(34, true);
  const pair = dv.getBigUint64(48, true);
  return {
    ok: true,
    length,
    record: {
      kind,
      dir: DIRECTIONS[dirByte]!,
      rev: REVISION_CODES[revByte]!,
      seq: Number(dv.getBigUint64(8, true)),
      monoNs: dv.getBigUint64(16, true),
      wallNs: dv.getBigUint64(24, true),
      channel: dv.getUint16(32, true),
      devNum: dev === NO_DEV ? null : dev,
      msgType: dv.getUint8(36),
      msgId: dv.getUint8(37),
      token: dv.getUint16(38, true),
      problems: dv.getUint32(40, true),
      flags: dv.getUint32(44, true),
      pairSeq: pair === NO_SEQ ? null : Number(pair),
      latencyNs: dv.getBigUint64(56, true),
      data: bytes.slice(offset + RECORD_HEADER_SIZE, offset + length),
    },
  };
}

/**
 * A flyweight over one record inside a larger buffer, for scans over millions of records
 * (filters, stats): no allocation per record, numbers instead of bigints where they are exact.
 * Point it at a record with `at`; the caller guarantees the record was validated (readRecord or
 * the journal's chunk checks).
 */
export class RecordView {
  private dv: DataView;
  private bytes: Uint8Array;
  offset = 0;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Re-targets the view (another buffer and/or offset). */
  at(bytes: Uint8Array, offset: number): this {
    if (bytes !== this.bytes) {
      this.bytes = bytes;
      this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    this.offset = offset;
    return this;
  }

  get length(): number {
    return this.dv.getUint32(this.offset, true);
  }
  get kindCode(): number {
    return this.dv.getUint8(this.offset + 5);
  }
  get kind(): RecordKind {
    return RECORD_KINDS[this.kindCode]!;
  }
  get dirCode(): number {
    return this.dv.getUint8(this.offset + 6);
  }
  get dir(): Direction | null {
    return DIRECTIONS[this.dirCode] ?? null;
  }
  get revCode(): number {
    return this.dv.getUint8(this.offset + 7);
  }
  get rev(): Revision | null {
    return REVISION_CODES[this.revCode] ?? null;
  }
  get seq(): number {
    return this.dv.getUint32(this.offset + 8, true) + this.dv.getUint32(this.offset + 12, true) * 0x1_0000_0000;
  }
  get monoNs(): bigint {
    return this.dv.getBigUint64(this.offset + 16, true);
  }
  /** monoNs − base as a number (exact for captures shorter than 104 days). */
  relNs(base: bigint): number {
    return Number(this.dv.getBigUint64(this.offset + 16, true) - base);
  }
  get wallNs(): bigint {
    return this.dv.getBigUint64(this.offset + 24, true);
  }
  get channel(): number {
    return this.dv.getUint16(this.offset + 32, true);
  }
  /** NO_DEV (0xffff) when none. */
  get devNum(): number {
    return this.dv.getUint16(this.offset + 34, true);
  }
  get msgType(): number {
    return this.dv.getUint8(this.offset + 36);
  }
  get msgId(): number {
    return this.dv.getUint8(this.offset + 37);
  }
  get token(): number {
    return this.dv.getUint16(this.offset + 38, true);
  }
  get problems(): number {
    return this.dv.getUint32(this.offset + 40, true);
  }
  get flags(): number {
    return this.dv.getUint32(this.offset + 44, true);
  }
  /** -1 when none. */
  get pairSeq(): number {
    const lo = this.dv.getUint32(this.offset + 48, true);
    const hi = this.dv.getUint32(this.offset + 52, true);
    return lo === 0xffff_ffff && hi === 0xffff_ffff ? -1 : lo + hi * 0x1_0000_0000;
  }
  /** ns, as a number (exact below 104 days). */
  get latencyNs(): number {
    return this.dv.getUint32(this.offset + 56, true) + this.dv.getUint32(this.offset + 60, true) * 0x1_0000_0000;
  }
  get dataLength(): number {
    return this.length - RECORD_HEADER_SIZE;
  }
  /** The little-endian u32 at `offset` of the data, or -1 when the data is shorter (no allocation, unlike data()). */
  dataU32(offset: number): number {
    if (offset < 0 || offset + 4 > this.length - RECORD_HEADER_SIZE) return -1;
    return this.dv.getUint32(this.offset + RECORD_HEADER_SIZE + offset, true);
  }
  /** The data bytes (a view, not a copy). */
  data(): Uint8Array {
    return this.bytes.subarray(this.offset + RECORD_HEADER_SIZE, this.offset + this.length);
  }
  /** The whole record's bytes (a view). */
  raw(): Uint8Array {
    return this.bytes.subarray(this.offset, this.offset + this.length);
  }
  toRecord(): TraceRecord {
    const r = readRecord(this.bytes, this.offset);
    if (!r.ok) throw new Error(`RecordView over a damaged record: ${r.reason}`);
    return r.record;
  }
}
