/**
 * JSONL export and import: one JSON object per line. The first line is the capture header
 * `{"type":"capture", ...CaptureMeta}` (meta.ts JSON, bigints as decimal strings); every other
 * line is one record, `{"type":"record", ...}` with, in this order:
 *
 * - the record's own fields, which the importer reads back exactly: `seq`, `monoNs`, `wallNs`
 *   (decimal strings), `kind`, `dir`, `rev`, `dev` (null when none), `channel`, `msgType`,
 *   `msgId`, `token`, `problems` and `flags` (names; bits without a name as "bit<i>"),
 *   `pairSeq` (decimal string or null), `latencyNs` (decimal string);
 * - what describeRecord() makes of them, for readers (ignored on import): `name`, `summary`,
 *   `problemReasons` ([{offset, code, reason}]), `fields` (msgToJson fields of a message, the
 *   indexes of a vq-index record, a buffer record's {length, head, bytes (hex)}, else null), `text` (markers, queue states and findings), and for
 *   findings `finding` ({rule, section, severity, seq}: conformance.ts, seq the offending record);
 * - `data`: the raw bytes as hex.
 */
import { msgToJson } from '../protocol/json';
import { DIRECTIONS, PROBLEM_CODES, REVISIONS, type Direction, type Revision } from '../protocol/types';
import { toHex } from '../util/hex';
import { BlockBuilder, type RecordBlock } from './block';
import { findingOf } from './conformance';
import type { AbsentField } from './conformance';
import { describeRecord } from './describe';
import { DEFAULT_CHUNK_CHARS, TextChunker, type ExportByteSink, type TraceWriter } from './exportWriter';
import { metaFromJson, metaToJson, type CaptureMeta } from './meta';
import { decodeBuffer, decodeVqIndex, NO_DEV, RECORD_FLAGS, RECORD_KINDS, type RecordKind, type RecordView, type TraceRecord } from './record';
import { errorText } from '../util/errorText';
import { bytesSource, ignore, readWhole, StreamedSource, type ByteSource, type SourceOpen, type Walk, type WholeCapture } from './source';
import type { Result } from '../util/result';

const FLAG_NAMES: readonly string[] = (() => {
  const names: string[] = [];
  for (const [name, bit] of Object.entries(RECORD_FLAGS)) names[Math.log2(bit)] = name;
  return names;
})();

/** Set bits as names; bits no name covers as "bit<i>", so any mask survives the round trip. */
function bitNames(mask: number, names: readonly (string | undefined)[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < 32; i++) if ((mask >>> i) & 1) out.push(names[i] ?? `bit${i}`);
  return out;
}

function bitsFromNames(list: unknown, names: readonly (string | undefined)[]): number | null {
  if (!Array.isArray(list)) return null;
  let mask = 0;
  for (const n of list) {
    if (typeof n !== 'string') return null;
    let i = names.indexOf(n);
    if (i < 0) {
      const m = /^bit(\d{1,2})$/.exec(n);
      i = m ? Number(m[1]) : -1;
      if (i < 0 || i > 31) return null;
    }
    mask |= 1 << i;
  }
  return mask >>> 0;
}

/** A u64 field of the view's record, exactly (RecordView's numbers are exact only below 2^53). */
function u64At(v: RecordView, offset: number, approx: number): string {
  if (Number.isSafeInteger(approx)) return String(approx);
  const raw = v.raw();
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return dv.getBigUint64(offset, true).toString();
}

const utf8 = new TextDecoder();

/** A buffer record's data for readers: its full length, head descriptor and the bytes kept, as hex. */
export function bufferFields(data: Uint8Array): { length: number; head: number; bytes: string } | null {
  const b = decodeBuffer(data);
  return b && { length: b.length, head: b.head, bytes: toHex(b.bytes).replaceAll(' ', '') };
}

/** One record as the JSON object of its line. */
export function recordToJson(v: RecordView, absent: readonly AbsentField[] = []): Record<string, unknown> {
  const d = describeRecord(v, absent);
  const data = v.data();
  const pair = v.pairSeq;
  let fields: unknown = null;
  if (d.msg) fields = msgToJson(d.msg).fields;
  else if (v.kind === 'vq-index') fields = decodeVqIndex(data);
  else if (v.kind === 'buffer') fields = bufferFields(data);
  const o: Record<string, unknown> = {
    type: 'record',
    seq: String(v.seq),
    monoNs: v.monoNs.toString(),
    wallNs: v.wallNs.toString(),
    kind: v.kind,
    dir: v.dir,
    rev: v.rev,
    dev: v.devNum === NO_DEV ? null : v.devNum,
    channel: v.channel,
    msgType: v.msgType,
    msgId: v.msgId,
    token: v.token,
    problems: bitNames(v.problems, PROBLEM_CODES),
    flags: bitNames(v.flags, FLAG_NAMES),
    pairSeq: pair < 0 ? null : String(pair),
    latencyNs: u64At(v, 56, v.latencyNs),
    name: d.name,
    summary: d.summary,
    problemReasons: d.problems,
    fields,
  };
  if (v.kind === 'marker' || v.kind === 'queue-state' || v.kind === 'finding') o['text'] = utf8.decode(data);
  const f = findingOf(v);
  if (f !== null) o['finding'] = { rule: f.rule, section: f.section, severity: f.severity, seq: f.seq < 0 ? null : String(f.seq) };
  o['data'] = toHex(data, '');
  return o;
}

export class JsonlWriter implements TraceWriter {
  /** Fields the capture never held: no problem about them is written (docs/formats.md §5). */
  private absent: readonly AbsentField[] = [];
  private readonly out: TextChunker;

  constructor(emit: ExportByteSink, options: { chunkChars?: number } = {}) {
    this.out = new TextChunker(emit, options.chunkChars ?? DEFAULT_CHUNK_CHARS);
  }

  begin(meta: CaptureMeta): void {
    this.absent = meta.absent ?? [];
    this.out.push(JSON.stringify({ type: 'capture', ...metaToJson(meta) }) + '\n');
  }

  write(v: RecordView): void {
    this.out.push(JSON.stringify(recordToJson(v, this.absent)) + '\n');
  }

  end(): void {
    this.out.flush();
  }
}

// ---- import -----------------------------------------------------------------------------------

/** Bad lines reported one by one; beyond this many, one note counts the rest. */
export const MAX_LINE_NOTES = 100;

const U64_MAX = 0xffff_ffff_ffff_ffffn;
const DECIMAL = /^\d{1,20}$/;

function seen(v: unknown): string {
  const s = v === undefined ? 'nothing' : JSON.stringify(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

const u64 = (v: unknown): bigint | undefined => {
  if (typeof v !== 'string' || !DECIMAL.test(v)) return undefined;
  const n = BigInt(v);
  return n <= U64_MAX ? n : undefined;
};
const seqNumber = (v: unknown): number | undefined => {
  const n = u64(v);
  return n !== undefined && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : undefined;
};
const int =
  (max: number) =>
  (v: unknown): number | undefined =>
    Number.isInteger(v) && (v as number) >= 0 && (v as number) <= max ? (v as number) : undefined;
const oneOf =
  <T>(values: readonly T[]) =>
  (v: unknown): T | undefined =>
    values.includes(v as T) ? (v as T) : undefined;
const orNull =
  <T>(read: (v: unknown) => T | undefined) =>
  (v: unknown): T | null | undefined =>
    v === null ? null : read(v);

const U64_TEXT = 'a decimal string 0..18446744073709551615';
const SEQ_TEXT = 'a decimal string 0..9007199254740991';

const NIBBLE = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  NIBBLE['0123456789abcdef'.charCodeAt(i)] = i;
  NIBBLE['0123456789ABCDEF'.charCodeAt(i)] = i;
}

/** Strict hex (pairs of digits, nothing else): the hot path of an import, hence not util/hex's lenient parseHex. */
const hexBytes = (v: unknown): Uint8Array | undefined => {
  if (typeof v !== 'string' || v.length % 2 !== 0) return undefined;
  const out = new Uint8Array(v.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = NIBBLE[v.charCodeAt(2 * i)] ?? -1;
    const lo = NIBBLE[v.charCodeAt(2 * i + 1)] ?? -1;
    if (hi < 0 || lo < 0) return undefined;
    out[i] = (hi << 4) | lo;
  }
  return out;
};

/** [TraceRecord field, JSON key, what is expected, reader] for every raw field, in line order. */
const RAW_FIELDS: readonly [keyof TraceRecord, string, string, (v: unknown) => unknown][] = [
  ['seq', 'seq', SEQ_TEXT, seqNumber],
  ['monoNs', 'monoNs', U64_TEXT, u64],
  ['wallNs', 'wallNs', U64_TEXT, u64],
  ['kind', 'kind', `one of ${RECORD_KINDS.join(', ')}`, oneOf<RecordKind>(RECORD_KINDS)],
  ['dir', 'dir', `null, ${DIRECTIONS.map((d) => JSON.stringify(d)).join(' or ')}`, orNull(oneOf<Direction>(DIRECTIONS))],
  ['rev', 'rev', `null or one of ${REVISIONS.join(', ')}`, orNull(oneOf<Revision>(REVISIONS))],
  ['devNum', 'dev', 'null or an integer 0..65534', orNull(int(NO_DEV - 1))],
  ['channel', 'channel', 'an integer 0..65535', int(0xffff)],
  ['msgType', 'msgType', 'an integer 0..255', int(0xff)],
  ['msgId', 'msgId', 'an integer 0..255', int(0xff)],
  ['token', 'token', 'an integer 0..65535', int(0xffff)],
  ['problems', 'problems', 'an array of problem codes or "bit<i>"', (v) => bitsFromNames(v, PROBLEM_CODES) ?? undefined],
  ['flags', 'flags', `an array of ${FLAG_NAMES.join(', ')} or "bit<i>"`, (v) => bitsFromNames(v, FLAG_NAMES) ?? undefined],
  ['pairSeq', 'pairSeq', `null or ${SEQ_TEXT}`, orNull(seqNumber)],
  ['latencyNs', 'latencyNs', U64_TEXT, u64],
  ['data', 'data', 'a string of hex bytes', hexBytes],
];

/** Rebuilds a record from its raw fields (the decoded ones are ignored), or says which field is wrong. */
function recordFromJson(o: Record<string, unknown>): TraceRecord | string {
  const r: Record<string, unknown> = {};
  for (const [key, name, expected, read] of RAW_FIELDS) {
    const v = read(o[name]);
    if (v === undefined) return `field "${name}": expected ${expected}, saw ${seen(o[name])}`;
    r[key] = v;
  }
  return r as unknown as TraceRecord;
}

function parseLine(text: string): Result<unknown> {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, error: `not valid JSON (${errorText(e)}); a truncated last line means the export was cut short` };
  }
}

/** Bytes are decoded a window at a time (cut at a line end), so a file larger than the longest JS string still reads. */
const WINDOW_BYTES = 1 << 23;

/** Where a walk over a JSONL file stands: at a line start, after `line` lines. */
interface WalkState {
  off: number;
  line: number;
  /** The header line was passed. */
  header: boolean;
  /** Bad record lines so far (only the first MAX_LINE_NOTES are noted). */
  bad: number;
}

const START: WalkState = { off: 0, line: 0, header: false, bad: 0 };

/** Each line of `text` without its line end (LF or CRLF). */
function* linesOf(text: string): Generator<string> {
  for (let pos = 0; pos < text.length; ) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    const line = text.slice(pos, end);
    pos = end + 1;
    yield line.endsWith('\r') ? line.slice(0, -1) : line;
  }
}

/** The header line's metadata, or why the file is not one of our exports. */
function parseHeader(line: string, lineNo: number): Result<CaptureMeta> {
  const parsed = parseLine(line);
  const v = parsed.ok ? (parsed.value as Record<string, unknown> | null) : null;
  if (typeof v !== 'object' || v === null || v['type'] !== 'capture') {
    return { ok: false, error: `line ${lineNo}: expected the capture header {"type":"capture",...}, saw ${parsed.ok ? seen(parsed.value) : parsed.error}; is this an amp-workbench JSONL export?` };
  }
  const { type: _type, ...rest } = v;
  const m = metaFromJson(rest);
  return m.ok ? m : { ok: false, error: `line ${lineNo}: ${m.error}` };
}

/** One walk over a JSONL file, a window of whole lines at a time; each window's records are one block. */
class JsonlWalk implements Walk<WalkState> {
  private readonly st: WalkState;
  private scratch: Uint8Array = new Uint8Array(0);
  private ended = false;

  constructor(
    private readonly file: ByteSource,
    from: WalkState,
    private readonly note: (text: string) => void,
    private readonly windowBytes: number,
  ) {
    this.st = { ...from };
  }

  state(): WalkState {
    return { ...this.st };
  }

  /** The next window of whole lines (up to a line end, or the end of the file), decoded; null at the end. */
  private window(): string | null {
    const { off } = this.st;
    const size = this.file.size;
    if (off >= size) return null;
    // Decoded before the next read, so every window is read into the same memory.
    const want = Math.min(this.windowBytes, size - off);
    if (this.scratch.length < want) this.scratch = new Uint8Array(want);
    let piece = this.file.read(off, want, this.scratch);
    while (off + piece.length < size) {
      const nl = piece.lastIndexOf(0x0a);
      if (nl >= 0) {
        piece = piece.subarray(0, nl + 1);
        break;
      }
      // A line longer than the window: read on to its end.
      const more = this.file.read(off + piece.length, this.windowBytes);
      const joined = new Uint8Array(piece.length + more.length);
      joined.set(piece);
      joined.set(more, piece.length);
      piece = joined;
    }
    this.st.off += piece.length;
    return utf8.decode(piece);
  }

  /** Reads up to the header line and parses it (a walk of the records starts again from the top and passes it). */
  header(): Result<CaptureMeta> {
    for (let text = this.window(); text !== null; text = this.window()) {
      for (const line of linesOf(text)) {
        this.st.line++;
        if (line.trim() !== '') return parseHeader(line, this.st.line);
      }
    }
    return { ok: false, error: 'no capture header line: the file is empty' };
  }

  next(): RecordBlock | null {
    for (;;) {
      if (this.ended) return null;
      const text = this.window();
      if (text === null) {
        this.ended = true;
        const { bad } = this.st;
        if (bad > MAX_LINE_NOTES) this.note(`${bad - MAX_LINE_NOTES} more bad lines not listed (${bad} in all)`);
        return null;
      }
      // A record's line is longer than its binary form (every field is named, the data is hex), so
      // one buffer of the window's size holds them all; the block keeps only the bytes used.
      const builder = new BlockBuilder(text.length + 1024);
      for (const line of linesOf(text)) this.take(line, builder);
      const [block] = builder.blocks();
      if (block) return { bytes: block.bytes.slice(), offsets: block.offsets };
    }
  }

  private take(line: string, builder: BlockBuilder): void {
    const st = this.st;
    const lineNo = ++st.line;
    if (line.trim() === '') return;
    if (!st.header) {
      st.header = true;
      return;
    }
    const bad = (why: string): void => {
      st.bad++;
      if (st.bad <= MAX_LINE_NOTES) this.note(`line ${lineNo}: ${why}`);
    };
    const parsed = parseLine(line);
    if (!parsed.ok) return bad(parsed.error);
    const v = parsed.value;
    if (typeof v !== 'object' || v === null || Array.isArray(v) || (v as Record<string, unknown>)['type'] !== 'record') {
      return bad(`expected a record object {"type":"record",...}, saw ${seen(v)}`);
    }
    const r = recordFromJson(v as Record<string, unknown>);
    if (typeof r === 'string') bad(r);
    else builder.appendRecord(r);
  }
}

const utf8Encoder = new TextEncoder();

/**
 * Opens a JSONL export for streaming: the header line is read now, the records as the source
 * is read. A bad record line is skipped and noted (line number, field, expected and seen); the
 * records before and after it are kept. Only a missing or bad header line fails the open.
 */
export function openJsonl(file: ByteSource, path: string, options: { windowBytes?: number } = {}): SourceOpen {
  const windowBytes = options.windowBytes ?? WINDOW_BYTES;
  const h = new JsonlWalk(file, START, ignore, windowBytes).header();
  if (!h.ok) return h;
  return { ok: true, value: new StreamedSource(path, h.value, [], START, (from, note) => new JsonlWalk(file, from, note, windowBytes)) };
}

/** A whole JSONL export in memory, read through the streaming reader. */
export function importJsonl(input: string | Uint8Array, options: { windowBytes?: number } = {}): Result<WholeCapture> {
  return readWhole(openJsonl(bytesSource(typeof input === 'string' ? utf8Encoder.encode(input) : input), '', options));
}
