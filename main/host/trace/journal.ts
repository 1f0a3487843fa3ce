/**
 * The capture journal on disk: a folder holding `capture.json` (CaptureMeta plus the journal's
 * own state) and segment files `seg-NNNNNN.ampc`, each a run of chunks (src/trace/chunk.ts)
 * appended with one write each. RAM stays bounded however long the capture runs: the recorder
 * hands over a chunk at least every 100 ms and nothing is kept after the write. A writer killed
 * with SIGKILL leaves every chunk it wrote readable; the reader reports the torn tail. In ring
 * mode the oldest segments are deleted so that only about the newest `ringBytes` stay.
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeFileSync, writevSync } from 'node:fs';
import { basename, join } from 'node:path';

import { indexedBlock, indexRecords, type RecordBlock } from '../../../src/trace/block';
import { CHUNK_HEADER_SIZE, CHUNK_MAGIC, chunkHeader, parseChunkHeader, payloadIntact, type ChunkHeader } from '../../../src/trace/chunk';
import { metaFromJson, metaToJson, type CaptureMeta, type CaptureMetaJson } from '../../../src/trace/meta';
import { RECORD_HEADER_SIZE, RecordView, timeBase } from '../../../src/trace/record';
import type { RecordChunkSink } from '../../../src/trace/recorder';
import { Followers, indexedBlocks, spanOf, type BlockSpan, type CaptureFingerprint, type CaptureSource, type SourceFrom } from '../../../src/trace/source';
import { fileErrorText } from '../failure';
import { ok, type Result } from '../../../src/util/result';

export const MANIFEST = 'capture.json';
const SEGMENT_RE = /^seg-(\d{6})\.ampc$/;
const DEFAULT_SEGMENT_BYTES = 64 << 20;
const MIN_RING_SEGMENTS = 4;

interface Manifest extends CaptureMetaJson {
  journal: {
    version: 1;
    segmentBytes: number;
    ringBytes: number | null;
    /** Set when the writer closed the capture; absent after a crash or SIGKILL. */
    closed?: { records: number; endWallNs: string };
  };
}

function segmentName(n: number): string {
  return `seg-${String(n).padStart(6, '0')}.ampc`;
}

function writeManifest(dir: string, m: Manifest): void {
  const tmp = join(dir, MANIFEST + '.tmp');
  writeFileSync(tmp, JSON.stringify(m, null, 2) + '\n');
  renameSync(tmp, join(dir, MANIFEST));
}

export interface JournalOptions {
  /** Capture folder; created, or must be empty. */
  dir: string;
  meta: CaptureMeta;
  /** Keep only about the newest this many bytes (ring mode). */
  ringBytes?: number;
  /** Segment file size before the next one starts (default 64 MiB; ring mode: ringBytes / 4). */
  segmentBytes?: number;
}

/**
 * The recorder's sink: appends chunks to segment files. Its `source` is the capture as it is
 * written, live: the chunks indexed as they are written, each one told to followers in the
 * same call.
 */
export class JournalWriter implements RecordChunkSink {
  readonly source: Capture;
  private readonly live: JournalSource;
  private readonly manifest: Manifest;
  private fd: number;
  private segment = 1;
  private segmentUsed = 0;
  /** Sizes of the segments on disk, oldest first, for ring mode. */
  private readonly segments: { n: number; bytes: number }[] = [];
  private records = 0;
  private closed = false;

  constructor(private readonly opts: JournalOptions) {
    const { dir } = opts;
    if (existsSync(dir)) {
      if (!statSync(dir).isDirectory()) throw new Error(`capture path ${dir} exists and is not a folder; give a new folder name`);
      if (readdirSync(dir).length > 0) throw new Error(`capture folder ${dir} is not empty; give a new or empty folder so no earlier capture is overwritten`);
    } else {
      mkdirSync(dir, { recursive: true });
    }
    const ringBytes = opts.ringBytes ?? null;
    if (ringBytes !== null && !(ringBytes >= 1 << 20)) throw new Error(`ring size must be at least 1 MiB, saw ${ringBytes} bytes`);
    const segmentBytes = opts.segmentBytes ?? (ringBytes !== null ? Math.floor(ringBytes / MIN_RING_SEGMENTS) : DEFAULT_SEGMENT_BYTES);
    this.manifest = { ...metaToJson(opts.meta), journal: { version: 1, segmentBytes, ringBytes } };
    this.live = new JournalSource(dir, opts.meta, [...opts.meta.notes]);
    this.live.live = true;
    this.source = this.live;
    writeManifest(dir, this.manifest);
    this.fd = openSync(join(dir, segmentName(this.segment)), 'wx');
    this.segments.push({ n: this.segment, bytes: 0 });
  }

  get recordCount(): number {
    return this.records;
  }

  writeChunk(payload: Uint8Array, count: number, firstSeq: number): void {
    if (this.closed) throw new Error('capture journal is closed');
    const size = CHUNK_HEADER_SIZE + payload.length;
    if (this.segmentUsed > 0 && this.segmentUsed + size > this.manifest.journal.segmentBytes) this.nextSegment();
    // One writev per chunk: a kill lands between chunks or tears only the last one.
    const head = chunkHeader(payload, count, firstSeq);
    const written = writevSync(this.fd, [head, payload]);
    if (written !== size) throw new Error(`short write to ${segmentName(this.segment)}: ${written} of ${size} bytes (disk full?)`);
    // The payload CRC sits at header byte 24 (chunk.ts); the chunk needs no check when read back in this process.
    const header = { payloadBytes: payload.length, count, firstSeq, payloadCrc: new DataView(head.buffer).getUint32(24, true) };
    const ref = { file: join(this.opts.dir, segmentName(this.segment)), offset: this.segmentUsed, header, checked: true as const };
    this.segmentUsed += size;
    this.segments[this.segments.length - 1]!.bytes = this.segmentUsed;
    this.records += count;
    this.trimRing();
    const offsets = indexedBlock(indexRecords(payload)).offsets;
    const span = spanOf({ bytes: payload, offsets }, 0, this.opts.meta.startMonoNs);
    this.live.add(ref, span.minNs, span.maxNs);
    // The payload is the recorder's buffer, reused after this call: followers get a copy.
    if (this.live.followers.size > 0) this.live.followers.tell({ bytes: payload.slice(), offsets }, this.live.refs.length - 1);
  }

  /** Marks the capture complete in its manifest. */
  close(endWallNs: bigint): void {
    if (this.closed) return;
    this.closed = true;
    this.live.live = false;
    closeSync(this.fd);
    this.manifest.journal.closed = { records: this.records, endWallNs: endWallNs.toString() };
    writeManifest(this.opts.dir, this.manifest);
  }

  private nextSegment(): void {
    closeSync(this.fd);
    this.segment++;
    this.segmentUsed = 0;
    this.fd = openSync(join(this.opts.dir, segmentName(this.segment)), 'wx');
    this.segments.push({ n: this.segment, bytes: 0 });
  }

  private trimRing(): void {
    const ring = this.manifest.journal.ringBytes;
    if (ring === null) return;
    let total = this.segments.reduce((s, x) => s + x.bytes, 0);
    while (total > ring && this.segments.length > 1) {
      const oldest = this.segments.shift()!;
      const file = join(this.opts.dir, segmentName(oldest.n));
      unlinkSync(file);
      this.live.forget(file);
      total -= oldest.bytes;
    }
  }
}

interface ChunkRef {
  file: string;
  offset: number;
  header: ChunkHeader;
  /** Set once a read found the payload's CRC wrong (its note is written once). */
  damaged?: true;
  /** Set once the payload's CRC was found good (by a read, or by the writer that wrote it): checked once per opening. */
  checked?: true;
}

/** A capture opened for reading, or being written: its records through the capture source interface. */
export type Capture = CaptureSource;

export type CaptureOpen = Result<Capture>;

/**
 * Memory for a read: not zeroed first (the read fills it), never a slice of Node's shared pool
 * (blocks are kept), and a plain Uint8Array, whose slice() copies as records expect.
 */
export function readBuffer(n: number): Uint8Array {
  const mem = Buffer.allocUnsafeSlow(n);
  return new Uint8Array(mem.buffer, mem.byteOffset, n);
}

/** Bytes [at, at + n) of `file` with one positioned read, into `into` when given; fewer at the end of the file. */
function readAt(fd: number, at: number, n: number, into = readBuffer(n)): Uint8Array {
  const got = readSync(fd, into, 0, n, at);
  return into.subarray(0, got);
}

/**
 * The chunks of a capture folder as a capture source: an index of chunks (file, offset, seq and
 * time span), each chunk read with one positioned read when asked for and checked by its CRC
 * then, so opening costs a header read per chunk however large the capture.
 */
class JournalSource implements CaptureSource {
  readonly refs: ChunkRef[] = [];
  private readonly index: BlockSpan[] = [];
  private total = 0;
  readonly followers = new Followers();
  live = false;
  firstHeldSpan = 0;
  /** The memory scans read into (read(k, true)). */
  private scratch: Uint8Array = new Uint8Array(0);

  constructor(
    readonly path: string,
    readonly meta: CaptureMeta,
    readonly notes: string[],
  ) {}

  get count(): number {
    return this.total;
  }

  spans(): readonly BlockSpan[] {
    return this.index;
  }

  add(ref: ChunkRef, minNs: number, maxNs: number): BlockSpan {
    const span = { first: this.total, count: ref.header.count, firstSeq: ref.header.firstSeq, minNs, maxNs, bytes: ref.header.payloadBytes };
    this.refs.push(ref);
    this.index.push(span);
    this.total += span.count;
    return span;
  }

  blocks(from?: SourceFrom): Iterable<RecordBlock> {
    return indexedBlocks(this, from);
  }

  fingerprint(): CaptureFingerprint | null {
    const last = this.refs[this.refs.length - 1];
    return last === undefined ? null : { records: this.total, chunk: { file: basename(last.file), offset: last.offset, crc: last.header.payloadCrc } };
  }

  /** Ring mode deleted segment `file`: its chunks, the oldest indexed, are no longer held. */
  forget(file: string): void {
    while (this.refs[this.firstHeldSpan]?.file === file) this.firstHeldSpan++;
  }

  read(k: number, transient = false): RecordBlock | null {
    const r = this.refs[k];
    if (!r || r.damaged || k < this.firstHeldSpan) return null;
    let payload: Uint8Array;
    try {
      const fd = openSync(r.file, 'r');
      try {
        // A scan reads every chunk into the same memory: fresh memory per chunk costs a page fault per page.
        if (transient && this.scratch.length < r.header.payloadBytes) this.scratch = readBuffer(r.header.payloadBytes);
        payload = readAt(fd, r.offset + CHUNK_HEADER_SIZE, r.header.payloadBytes, transient ? this.scratch : undefined);
      } finally {
        closeSync(fd);
      }
    } catch {
      // Ring mode deleted the segment since it was indexed.
      return null;
    }
    const name = basename(r.file);
    const { firstSeq, count } = r.header;
    const first = !r.checked;
    // A short read is a file cut since it was indexed: damage whether or not the chunk was checked before.
    if (payload.length !== r.header.payloadBytes || (first && !payloadIntact(r.header, payload))) {
      r.damaged = true;
      const why = payload.length < r.header.payloadBytes ? `chunk of ${r.header.payloadBytes} payload bytes, only ${payload.length} present` : 'payload CRC-32C does not match';
      this.notes.push(`${name}: damaged chunk at byte ${r.offset}: ${why}; skipped ${CHUNK_HEADER_SIZE + r.header.payloadBytes} bytes to the next intact chunk`);
      this.notes.push(`records ${firstSeq}..${firstSeq + count - 1} missing (damaged chunk or lost writes)`);
      return null;
    }
    r.checked = true;
    const idx = indexRecords(payload);
    const block = indexedBlock(idx);
    if (first && (!idx.ok || block.offsets.length !== count)) {
      this.notes.push(`${name}: chunk at byte ${r.offset} is intact but malformed (${malformation(idx, count)}); ${block.offsets.length} records before the damage kept`);
    }
    return block;
  }

  follow(onBlock: (block: RecordBlock, k: number) => void, fromSpan = 0): () => void {
    return this.followers.follow(this, onBlock, fromSpan);
  }
}

function malformation(idx: ReturnType<typeof indexRecords>, count: number): string {
  return idx.ok ? `${idx.value.offsets.length} records where the header says ${count}` : `record at chunk byte ${idx.offset}: ${idx.error}`;
}

/** Where a record's monoNs sits in its header (record.ts). */
const CHUNK_PEEK = CHUNK_HEADER_SIZE + RECORD_HEADER_SIZE;

/**
 * Indexes one segment file from its chunk headers, reading each header and its first record's
 * header with one positioned read. Where a header does not hold (a torn tail, damage), the rest
 * of the segment is searched for the next intact chunk, a piece at a time.
 */
function indexSegment(src: JournalSource, file: string, last: boolean): void {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const view = new RecordView(new Uint8Array(0));
    const base = src.meta.startMonoNs;
    let off = 0;
    // The chunk before: its end time is where the next one starts; the last one's is read.
    let pending: { ref: ChunkRef; minNs: number } | null = null;
    const settle = (nextNs: number | null): void => {
      if (!pending) return;
      const { ref, minNs } = pending;
      let maxNs = nextNs;
      if (maxNs === null) {
        const b = indexedBlock(indexRecords(readAt(fd, ref.offset + CHUNK_HEADER_SIZE, ref.header.payloadBytes)));
        maxNs = b.offsets.length > 0 ? spanOf(b, 0, base).maxNs : minNs;
      }
      src.add(ref, minNs, Math.max(minNs, maxNs));
      pending = null;
    };
    while (off < size) {
      const peek = readAt(fd, off, CHUNK_PEEK);
      const h = parseChunkHeader(peek);
      if (!h.ok || off + CHUNK_HEADER_SIZE + h.value.payloadBytes > size || h.value.count === 0 || peek.length < CHUNK_PEEK) {
        settle(null);
        recoverSegment(src, fd, file, off, size, last);
        return;
      }
      const minNs = view.at(peek, CHUNK_HEADER_SIZE).relNs(timeBase(base));
      settle(minNs);
      pending = { ref: { file, offset: off, header: h.value }, minNs };
      off += CHUNK_HEADER_SIZE + h.value.payloadBytes;
    }
    settle(null);
  } finally {
    closeSync(fd);
  }
}

type ChunkRead = Result<{ header: ChunkHeader; payload: Uint8Array }>;

/** The chunk at `off` with its payload, if it is whole and its CRCs hold. */
function chunkAt(fd: number, off: number, size: number): ChunkRead {
  const h = parseChunkHeader(readAt(fd, off, CHUNK_HEADER_SIZE));
  if (!h.ok) return h;
  const present = size - off - CHUNK_HEADER_SIZE;
  const header = h.value;
  if (header.payloadBytes > present) return { ok: false, error: `chunk of ${header.payloadBytes} payload bytes, only ${present} present` };
  const payload = readAt(fd, off + CHUNK_HEADER_SIZE, header.payloadBytes);
  return payloadIntact(header, payload) ? ok({ header, payload }) : { ok: false, error: 'payload CRC-32C does not match' };
}

/** Bytes searched per read for the next chunk's magic. */
const SEARCH_PIECE = 1 << 20;

/** Offset of the next intact chunk at or after `from`, or -1. */
function nextChunk(fd: number, from: number, size: number): number {
  for (let at = from; at + CHUNK_HEADER_SIZE <= size; at += SEARCH_PIECE) {
    // Pieces overlap by 3 bytes so a magic split between two is still seen.
    const piece = readAt(fd, at, Math.min(SEARCH_PIECE + 3, size - at));
    const dv = new DataView(piece.buffer, piece.byteOffset, piece.byteLength);
    for (let i = 0; i + 4 <= piece.length && i < SEARCH_PIECE; i++) {
      if (dv.getUint32(i, true) === CHUNK_MAGIC && chunkAt(fd, at + i, size).ok) return at + i;
    }
  }
  return -1;
}

/** Walks a segment from byte `from` chunk by chunk, skipping damage to the next intact chunk, noting what it skips. */
function recoverSegment(src: JournalSource, fd: number, file: string, from: number, size: number, last: boolean): void {
  const name = basename(file);
  let off = from;
  while (off < size) {
    const c = chunkAt(fd, off, size);
    if (c.ok) {
      const { header, payload } = c.value;
      // A chunk whose CRC holds was written whole; its records are still checked one by one.
      const idx = indexRecords(payload);
      const block = indexedBlock(idx);
      if (!idx.ok || block.offsets.length !== header.count) {
        src.notes.push(`${name}: chunk at byte ${off} is intact but malformed (${malformation(idx, header.count)}); ${block.offsets.length} records before the damage kept`);
      }
      const span = spanOf(block, 0, src.meta.startMonoNs);
      if (span.count > 0) src.add({ file, offset: off, header: { ...header, count: span.count }, checked: true }, span.minNs, span.maxNs);
      off += CHUNK_HEADER_SIZE + header.payloadBytes;
      continue;
    }
    const next = nextChunk(fd, off + 1, size);
    if (next < 0) {
      const what = last ? 'torn tail (the writer stopped mid-chunk; everything before it is intact)' : 'damaged end of segment';
      src.notes.push(`${name}: ${what} at byte ${off}: ${c.error}; ${size - off} bytes discarded`);
      return;
    }
    src.notes.push(`${name}: damaged chunk at byte ${off}: ${c.error}; skipped ${next - off} bytes to the next intact chunk`);
    off = next;
  }
}

/**
 * Opens a capture folder; every intact chunk is readable whatever happened to the writer.
 * Damage inside a chunk whose header holds is found, and noted, when the chunk is read.
 */
export function openJournal(dir: string): CaptureOpen {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8'));
  } catch (e) {
    const manifest = join(dir, MANIFEST);
    if (e instanceof SyntaxError) return { ok: false, error: `${manifest}: the capture manifest is not JSON; the capture folder is damaged` };
    if ((e as { code?: unknown }).code === 'ENOENT') return { ok: false, error: `${dir} is not a capture folder: it has no ${MANIFEST}` };
    return { ok: false, error: `cannot read ${manifest}: ${fileErrorText(e, manifest, 'read')}` };
  }
  const meta = metaFromJson(raw);
  if (!meta.ok) return { ok: false, error: `${join(dir, MANIFEST)}: ${meta.error}` };
  const journal = (raw as Partial<Manifest>).journal;
  const segs = readdirSync(dir)
    .map((f) => SEGMENT_RE.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ name: m[0], n: Number(m[1]) }))
    .sort((a, b) => a.n - b.n);
  if (segs.length === 0) return { ok: false, error: `${dir}: no segment files (seg-NNNNNN.ampc); expected at least seg-000001.ampc` };
  const src = new JournalSource(dir, meta.value, [...meta.value.notes]);
  segs.forEach((s, i) => indexSegment(src, join(dir, s.name), i === segs.length - 1));
  const { notes, refs, count } = src;
  if (!journal?.closed) {
    notes.push(`capture was not closed (writer killed or crashed): recovered ${count} records up to the last flush`);
  } else if (journal.closed.records !== count && journal.ringBytes === null) {
    notes.push(`manifest says ${journal.closed.records} records, ${count} found intact`);
  }
  const first = refs[0]?.header.firstSeq ?? 0;
  if (first > 0) {
    const why = journal?.ringBytes != null ? 'ring mode keeps only the newest data' : 'damaged chunk or lost writes';
    notes.push(`records 0..${first - 1} are not in the capture (${why})`);
  }
  for (let i = 1; i < refs.length; i++) {
    const prev = refs[i - 1]!.header;
    const gap = refs[i]!.header.firstSeq - (prev.firstSeq + prev.count);
    if (gap > 0) notes.push(`records ${prev.firstSeq + prev.count}..${refs[i]!.header.firstSeq - 1} missing (damaged chunk or lost writes)`);
  }
  return ok(src);
}

/** Bytes on disk of a capture folder's segments. */
export function journalBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir)) if (SEGMENT_RE.test(f)) n += statSync(join(dir, f)).size;
  return n;
}
