/**
 * The trace record: one binary layout shared by the journal on disk, the pcapng payload (after
 * the exported-PDU tags, docs/formats.md §1 "keep the payload identical in all options"), the
 * Wireshark dissector and every importer. Little-endian: a 64-byte header whose fields
 * RECORD_FIELDS lists in order (name, type, what each holds), then `data` — message: the raw
 * bytes; vq-index: VQ_INDEX_DATA; buffer: BUFFER_DATA; marker/queue-state/finding: UTF-8 text.
 *
 * RECORD_FIELDS is the one statement of the header: writeRecord, readRecord, RecordView's offsets
 * and the dissector's record fields are derived from it. The recorder's hot path,
 * writeRecordHeaderFast, is written out by hand for speed and checked byte for byte against
 * writeRecord (test/unit/trace/record.test.ts).
 */
import { DIRECTIONS, PROBLEM_CODES, REVISIONS, type Direction, type ProblemCode, type Revision } from '../protocol/types';
import type { Fail, Ok } from '../util/result';

export const RECORD_VERSION = 1;

export const RECORD_KINDS = ['message', 'doorbell', 'queue-state', 'vq-index', 'marker', 'finding', 'buffer'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

/** Session markers: what happened to the session, and user bookmarks. */
export const MARKER_KINDS = ['attach', 'detach', 'reset', 'error', 'bookmark', 'no-response', 'note', 'dropped'] as const;
export type MarkerKind = (typeof MARKER_KINDS)[number];

/** The direction and revision a record's code stands for: 0 none (or unknown), then the protocol's lists. */
export const DIRECTION_CODES: readonly (Direction | null)[] = [null, ...DIRECTIONS];
export const REVISION_CODES: readonly (Revision | null)[] = [null, ...REVISIONS];

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

/** vq-index data: what the driver saw of one virtqueue (docs/amp-bus.md / virtio split ring). */
export const VQ_INDEX_DATA_SIZE = 8;
export interface VqIndex {
  availIdx: number;
  usedIdx: number;
  /** The driver's last seen used index. */
  lastSeenUsed: number;
  /** Descriptor chains the device has not returned yet. */
  inFlight: number;
}

/**
 * buffer data: the bytes of one descriptor chain as the driver role saw them (docs/formats.md §8).
 * The record's dir says which: driver-to-device, the device-readable bytes when the driver
 * published the chain; device-to-driver, the bytes the device wrote (up to the used entry's len)
 * when the driver took the chain back. channel: the virtqueue; devNum: the device. Data: u32 the
 * bytes' full length, u16 the chain's head descriptor, u16 zero, then the first
 * min(length, BUFFER_BYTES_MAX) of them.
 */
export const BUFFER_HEADER_SIZE = 8;
export const BUFFER_BYTES_MAX = 256;
export interface BufferData {
  /** The chain's bytes in full (those kept may be fewer). */
  length: number;
  head: number;
  /** The first min(length, BUFFER_BYTES_MAX) bytes. */
  bytes: Uint8Array;
}

export function encodeBuffer(b: BufferData): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(BUFFER_HEADER_SIZE + b.bytes.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, b.length, true);
  dv.setUint16(4, b.head, true);
  out.set(b.bytes, BUFFER_HEADER_SIZE);
  return out;
}
/** The buffer data in `data`, or null when it is shorter than its header or keeps more bytes than it says there were. */
export function decodeBuffer(data: Uint8Array): BufferData | null {
  if (data.length < BUFFER_HEADER_SIZE) return null;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const length = dv.getUint32(0, true);
  const bytes = data.subarray(BUFFER_HEADER_SIZE);
  if (bytes.length > Math.min(length, BUFFER_BYTES_MAX)) return null;
  return { length, head: dv.getUint16(4, true), bytes };
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

/** How a header field is stored: a little-endian unsigned integer of 1, 2, 4 or 8 bytes. */
export type RecordFieldType = 'u8' | 'u16' | 'u32' | 'u64';
const TYPE_SIZE: Readonly<Record<RecordFieldType, number>> = { u8: 1, u16: 2, u32: 4, u64: 8 };

/** A header field: `length` and `version` are the writer's, the rest are TraceRecord's properties. */
export type RecordFieldName = 'length' | 'version' | Exclude<keyof TraceRecord, 'data'>;

export interface RecordField {
  name: RecordFieldName;
  type: RecordFieldType;
  offset: number;
  size: number;
  /** An enumerated field stores its value's index in this list; readRecord rejects codes beyond it. */
  codes?: readonly (string | null)[];
  /** What readRecord calls an enumerated field in a complaint. */
  codeNoun?: string;
  /** The code stored for null (a value that may be absent and has no list). */
  none?: number | bigint;
  /** A u64 read as a bigint; the other u64s (sequence numbers) are exact as numbers. */
  bigint?: boolean;
  /** The dissector's field: `virtio_msg.record.<filter>`, its label, shown in hex (an enumerated one names its values from `codes`). */
  filter: string;
  label: string;
  hex?: boolean;
}

type FieldSpec = Omit<RecordField, 'type' | 'offset' | 'size'>;
const typed =
  (type: RecordFieldType) =>
  (spec: FieldSpec): [RecordFieldType, FieldSpec] => [type, spec];
const u8 = typed('u8');
const u16 = typed('u16');
const u32 = typed('u32');
const u64 = typed('u64');

/** The record header, in order (each field starts where the one before ends). */
export const RECORD_FIELDS: readonly RecordField[] = layOut([
  // The whole record in bytes (header + data).
  u32({ name: 'length', filter: 'length', label: 'Record length' }),
  u8({ name: 'version', filter: 'version', label: 'Record version' }),
  u8({ name: 'kind', codes: RECORD_KINDS, codeNoun: 'record kind', filter: 'kind', label: 'Kind' }),
  u8({ name: 'dir', codes: DIRECTION_CODES, codeNoun: 'direction', filter: 'dir', label: 'Direction' }),
  u8({ name: 'rev', codes: REVISION_CODES, codeNoun: 'revision code', filter: 'rev', label: 'Revision' }),
  // Record number within the capture, from 0, gap-free unless records were dropped.
  u64({ name: 'seq', filter: 'seq', label: 'Sequence' }),
  // Monotonic clock of the recording host.
  u64({ name: 'monoNs', bigint: true, filter: 'mono_ns', label: 'Monotonic time (ns)' }),
  // Wall clock, ns since 1970-01-01 UTC.
  u64({ name: 'wallNs', bigint: true, filter: 'wall_ns', label: 'Wall clock (ns since 1970)' }),
  // message: the bus queue (0 driver→device, 1 device→driver); vq-index: the virtqueue.
  u16({ name: 'channel', filter: 'channel', label: 'Channel (queue or virtqueue)' }),
  // NO_DEV when none (no header, or not about a device).
  u16({ name: 'devNum', none: NO_DEV, filter: 'dev_num', label: 'Device (65535: none)' }),
  // message: the raw type byte; finding: SEVERITIES index (conformance.ts).
  u8({ name: 'msgType', filter: 'msg_type', label: 'Message type byte', hex: true }),
  // message: msg_id; marker: MARKER_KINDS index; finding: RULES index.
  u8({ name: 'msgId', filter: 'msg_id', label: 'Message id / marker kind', hex: true }),
  u16({ name: 'token', filter: 'token', label: 'Token', hex: true }),
  // Bit i set = PROBLEM_CODES[i] (src/protocol/types.ts).
  u32({ name: 'problems', filter: 'problems', label: 'Problems', hex: true }),
  // RECORD_FLAGS.
  u32({ name: 'flags', filter: 'flags', label: 'Flags', hex: true }),
  // Response: its request's seq (late: its no-response marker's); no-response marker: the
  // request's seq; finding: the offending record's seq; else NO_SEQ.
  u64({ name: 'pairSeq', none: NO_SEQ, filter: 'pair_seq', label: 'Paired record (seq)' }),
  // Response: ns from its request; else 0.
  u64({ name: 'latencyNs', bigint: true, filter: 'latency_ns', label: 'Latency (ns)' }),
]);

function layOut(specs: readonly [RecordFieldType, FieldSpec][]): RecordField[] {
  let offset = 0;
  return specs.map(([type, spec]) => {
    const f = { ...spec, type, offset, size: TYPE_SIZE[type] };
    offset += f.size;
    return f;
  });
}

const lastField = RECORD_FIELDS[RECORD_FIELDS.length - 1]!;
export const RECORD_HEADER_SIZE = lastField.offset + lastField.size;

/** Each header field's offset, by name. */
export const RECORD_OFFSET: Readonly<Record<RecordFieldName, number>> = Object.fromEntries(RECORD_FIELDS.map((f) => [f.name, f.offset])) as Record<
  RecordFieldName,
  number
>;

export function dirCode(dir: Direction | null): number {
  return DIRECTION_CODES.indexOf(dir);
}
export function revCode(rev: Revision | null): number {
  return REVISION_CODES.indexOf(rev);
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
  for (const f of RECORD_FIELDS) putField(dv, f, fieldCode(f, r, length));
  out.set(r.data, offset + RECORD_HEADER_SIZE);
  return length;
}

/** What field `f` of `r` stores. */
function fieldCode(f: RecordField, r: TraceRecord, length: number): number | bigint {
  if (f.name === 'length') return length;
  if (f.name === 'version') return RECORD_VERSION;
  const v = r[f.name];
  if (f.codes) return f.codes.indexOf(v as string | null);
  if (v === null) return f.none!;
  return v as number | bigint;
}

function putField(dv: DataView, f: RecordField, code: number | bigint): void {
  switch (f.type) {
    case 'u8':
      return dv.setUint8(f.offset, Number(code));
    case 'u16':
      return dv.setUint16(f.offset, Number(code), true);
    case 'u32':
      return dv.setUint32(f.offset, Number(code), true);
    case 'u64':
      return dv.setBigUint64(f.offset, BigInt(code), true);
  }
}

function getField(dv: DataView, f: RecordField): number | bigint {
  switch (f.type) {
    case 'u8':
      return dv.getUint8(f.offset);
    case 'u16':
      return dv.getUint16(f.offset, true);
    case 'u32':
      return dv.getUint32(f.offset, true);
    case 'u64':
      return dv.getBigUint64(f.offset, true);
  }
}

export function encodeRecord(r: TraceRecord): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(RECORD_HEADER_SIZE + r.data.length);
  writeRecord(out, 0, r);
  return out;
}

/** A record and its length in bytes, or what is wrong and the byte offset where. */
export type RecordParse = (Ok<TraceRecord> & { length: number }) | (Fail & { offset: number });

/** Reads the record at `offset`; a damaged one is a value that says what was expected and seen. */
export function readRecord(bytes: Uint8Array, offset = 0): RecordParse {
  const avail = bytes.length - offset;
  if (avail < RECORD_HEADER_SIZE) return { ok: false, offset, error: `record header needs ${RECORD_HEADER_SIZE} bytes, ${avail} left` };
  const dv = new DataView(bytes.buffer, bytes.byteOffset + offset, avail);
  const length = dv.getUint32(RECORD_OFFSET.length, true);
  const version = dv.getUint8(RECORD_OFFSET.version);
  if (version !== RECORD_VERSION) return { ok: false, offset: offset + RECORD_OFFSET.version, error: `record version ${RECORD_VERSION} expected, saw ${version}` };
  if (length < RECORD_HEADER_SIZE || length > avail) {
    return { ok: false, offset, error: `record length between ${RECORD_HEADER_SIZE} and ${avail} expected, saw ${length}` };
  }
  const values: Record<string, unknown> = {};
  for (const f of RECORD_FIELDS) {
    if (f.name === 'length' || f.name === 'version') continue;
    const code = getField(dv, f);
    if (f.codes) {
      if (Number(code) >= f.codes.length) return { ok: false, offset: offset + f.offset, error: `${f.codeNoun} 0..${f.codes.length - 1} expected, saw ${code}` };
      values[f.name] = f.codes[Number(code)];
    } else if (code === f.none) {
      values[f.name] = null;
    } else {
      values[f.name] = f.type === 'u64' && !f.bigint ? Number(code) : code;
    }
  }
  values['data'] = bytes.slice(offset + RECORD_HEADER_SIZE, offset + length);
  return { ok: true, value: values as unknown as TraceRecord, length };
}

/** The capture's clock anchors, also split into 32-bit halves for writeRecordHeaderFast's number arithmetic. */
export class RecordClock {
  readonly monoHi: number;
  readonly monoLo: number;
  readonly wallHi: number;
  readonly wallLo: number;

  /** wall = startWallNs + (mono − startMonoNs). */
  constructor(
    readonly startMonoNs: bigint,
    readonly startWallNs: bigint,
  ) {
    this.monoHi = Number(startMonoNs >> 32n);
    this.monoLo = Number(startMonoNs & 0xffff_ffffn);
    this.wallHi = Number(startWallNs >> 32n);
    this.wallLo = Number(startWallNs & 0xffff_ffffn);
  }
}

// Offsets as module-local constants: the hot paths below read them per record.
const AT_LENGTH = RECORD_OFFSET.length;
const AT_VERSION = RECORD_OFFSET.version;
const AT_KIND = RECORD_OFFSET.kind;
const AT_DIR = RECORD_OFFSET.dir;
const AT_REV = RECORD_OFFSET.rev;
const AT_SEQ = RECORD_OFFSET.seq;
const AT_MONO = RECORD_OFFSET.monoNs;
const AT_WALL = RECORD_OFFSET.wallNs;
const AT_CHANNEL = RECORD_OFFSET.channel;
const AT_DEV = RECORD_OFFSET.devNum;
const AT_TYPE = RECORD_OFFSET.msgType;
const AT_ID = RECORD_OFFSET.msgId;
const AT_TOKEN = RECORD_OFFSET.token;
const AT_PROBLEMS = RECORD_OFFSET.problems;
const AT_FLAGS = RECORD_OFFSET.flags;
const AT_PAIR = RECORD_OFFSET.pairSeq;
const AT_LATENCY = RECORD_OFFSET.latencyNs;
const HEADER_SIZE = RECORD_HEADER_SIZE;
const VERSION = RECORD_VERSION;

const KIND_CODES = RECORD_KINDS.length;
const DIR_CODES = DIRECTION_CODES.length;
const REV_CODES = REVISION_CODES.length;

/**
 * The cheap check scans make before trusting RecordView: the length of the record at `at` of
 * `dv` when its header is sound (a length within the `avail` bytes, this version, known kind,
 * direction and revision codes), else -1 — readRecord then says what is wrong.
 */
export function soundRecordLength(dv: DataView, at: number, avail: number): number {
  if (avail < HEADER_SIZE) return -1;
  const length = dv.getUint32(at + AT_LENGTH, true);
  const sound =
    length >= HEADER_SIZE &&
    length <= avail &&
    dv.getUint8(at + AT_VERSION) === VERSION &&
    dv.getUint8(at + AT_KIND) < KIND_CODES &&
    dv.getUint8(at + AT_DIR) < DIR_CODES &&
    dv.getUint8(at + AT_REV) < REV_CODES;
  return sound ? length : -1;
}

/** Stores the u64 (hi·2^32 + lo) + add, for add < 2^53. */
function putSum(dv: DataView, at: number, hi: number, lo: number, add: number): void {
  const addHi = Math.floor(add / 0x1_0000_0000);
  let sumLo = lo + (add - addHi * 0x1_0000_0000);
  let carry = 0;
  if (sumLo >= 0x1_0000_0000) {
    sumLo -= 0x1_0000_0000;
    carry = 1;
  }
  dv.setUint32(at, sumLo, true);
  dv.setUint32(at + 4, (hi + addHi + carry) >>> 0, true);
}

/**
 * The recorder's hot path: writes the header writeRecord would write for a record of
 * `dataLength` data bytes at `o`, from codes rather than a TraceRecord (kind, dir and rev as
 * indexes, devNum NO_DEV and pairSeq -1 for none) and with the wall clock derived from `clock`.
 * Number arithmetic and 32-bit halves instead of bigints and per-field dispatch, which cost more
 * than the rest of a record; returns the record's length.
 */
export function writeRecordHeaderFast(
  dv: DataView,
  o: number,
  dataLength: number,
  clock: RecordClock,
  kind: number,
  dir: number,
  rev: number,
  seq: number,
  monoNs: bigint,
  channel: number,
  devNum: number,
  msgType: number,
  msgId: number,
  token: number,
  problems: number,
  flags: number,
  pairSeq: number,
  latencyNs: bigint,
): number {
  const length = HEADER_SIZE + dataLength;
  dv.setUint32(o + AT_LENGTH, length, true);
  dv.setUint8(o + AT_VERSION, VERSION);
  dv.setUint8(o + AT_KIND, kind);
  dv.setUint8(o + AT_DIR, dir);
  dv.setUint8(o + AT_REV, rev);
  dv.setUint32(o + AT_SEQ, seq % 0x1_0000_0000, true);
  dv.setUint32(o + AT_SEQ + 4, Math.floor(seq / 0x1_0000_0000), true);
  const rel = Number(monoNs - clock.startMonoNs);
  if (rel >= 0 && rel < 2 ** 53) {
    putSum(dv, o + AT_MONO, clock.monoHi, clock.monoLo, rel);
    putSum(dv, o + AT_WALL, clock.wallHi, clock.wallLo, rel);
  } else {
    dv.setBigUint64(o + AT_MONO, monoNs, true);
    dv.setBigUint64(o + AT_WALL, clock.startWallNs + (monoNs - clock.startMonoNs), true);
  }
  dv.setUint16(o + AT_CHANNEL, channel, true);
  dv.setUint16(o + AT_DEV, devNum, true);
  dv.setUint8(o + AT_TYPE, msgType);
  dv.setUint8(o + AT_ID, msgId);
  dv.setUint16(o + AT_TOKEN, token, true);
  dv.setUint32(o + AT_PROBLEMS, problems, true);
  dv.setUint32(o + AT_FLAGS, flags, true);
  if (pairSeq < 0) {
    dv.setUint32(o + AT_PAIR, 0xffff_ffff, true);
    dv.setUint32(o + AT_PAIR + 4, 0xffff_ffff, true);
  } else {
    dv.setUint32(o + AT_PAIR, pairSeq % 0x1_0000_0000, true);
    dv.setUint32(o + AT_PAIR + 4, Math.floor(pairSeq / 0x1_0000_0000), true);
  }
  if (latencyNs === 0n) {
    dv.setUint32(o + AT_LATENCY, 0, true);
    dv.setUint32(o + AT_LATENCY + 4, 0, true);
  } else {
    dv.setBigUint64(o + AT_LATENCY, latencyNs, true);
  }
  return length;
}

/** A monotonic instant (a capture's start) split into the u64's 32-bit halves, for RecordView.relNs. */
export interface TimeBase {
  readonly hi: number;
  readonly lo: number;
}

export function timeBase(ns: bigint): TimeBase {
  return { hi: Number(ns >> 32n), lo: Number(ns & 0xffff_ffffn) };
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
    return this.dv.getUint32(this.offset + AT_LENGTH, true);
  }
  get kindCode(): number {
    return this.dv.getUint8(this.offset + AT_KIND);
  }
  get kind(): RecordKind {
    return RECORD_KINDS[this.kindCode]!;
  }
  get dirCode(): number {
    return this.dv.getUint8(this.offset + AT_DIR);
  }
  get dir(): Direction | null {
    return DIRECTION_CODES[this.dirCode] ?? null;
  }
  get revCode(): number {
    return this.dv.getUint8(this.offset + AT_REV);
  }
  get rev(): Revision | null {
    return REVISION_CODES[this.revCode] ?? null;
  }
  get seq(): number {
    return this.dv.getUint32(this.offset + AT_SEQ, true) + this.dv.getUint32(this.offset + AT_SEQ + 4, true) * 0x1_0000_0000;
  }
  get monoNs(): bigint {
    return this.dv.getBigUint64(this.offset + AT_MONO, true);
  }
  /**
   * monoNs − base as a number, from the u64's 32-bit halves without a BigInt: both terms are exact
   * doubles, so the one rounding of their sum gives what Number(monoNs − base) gives (exact below
   * 2^53 ns, 104 days). Scans over millions of records read time through this.
   */
  relNs(base: TimeBase): number {
    const o = this.offset + AT_MONO;
    return (this.dv.getUint32(o + 4, true) - base.hi) * 0x1_0000_0000 + (this.dv.getUint32(o, true) - base.lo);
  }
  get wallNs(): bigint {
    return this.dv.getBigUint64(this.offset + AT_WALL, true);
  }
  get channel(): number {
    return this.dv.getUint16(this.offset + AT_CHANNEL, true);
  }
  /** NO_DEV (0xffff) when none. */
  get devNum(): number {
    return this.dv.getUint16(this.offset + AT_DEV, true);
  }
  get msgType(): number {
    return this.dv.getUint8(this.offset + AT_TYPE);
  }
  get msgId(): number {
    return this.dv.getUint8(this.offset + AT_ID);
  }
  get token(): number {
    return this.dv.getUint16(this.offset + AT_TOKEN, true);
  }
  get problems(): number {
    return this.dv.getUint32(this.offset + AT_PROBLEMS, true);
  }
  get flags(): number {
    return this.dv.getUint32(this.offset + AT_FLAGS, true);
  }
  /** -1 when none. */
  get pairSeq(): number {
    const lo = this.dv.getUint32(this.offset + AT_PAIR, true);
    const hi = this.dv.getUint32(this.offset + AT_PAIR + 4, true);
    return lo === 0xffff_ffff && hi === 0xffff_ffff ? -1 : lo + hi * 0x1_0000_0000;
  }
  /** ns, as a number (exact below 104 days). */
  get latencyNs(): number {
    return this.dv.getUint32(this.offset + AT_LATENCY, true) + this.dv.getUint32(this.offset + AT_LATENCY + 4, true) * 0x1_0000_0000;
  }
  get dataLength(): number {
    return this.length - RECORD_HEADER_SIZE;
  }
  /** The little-endian u32 at `offset` of the data, or -1 when the data is shorter (no allocation, unlike data()). */
  dataU32(offset: number): number {
    if (offset < 0 || offset + 4 > this.length - RECORD_HEADER_SIZE) return -1;
    return this.dv.getUint32(this.offset + HEADER_SIZE + offset, true);
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
    if (!r.ok) throw new Error(`RecordView over a damaged record: ${r.error}`);
    return r.value;
  }
}
