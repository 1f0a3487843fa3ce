/**
 * The capture journal on disk: a folder holding `capture.json` (CaptureMeta plus the journal's
 * own state) and segment files `seg-NNNNNN.ampc`, each a run of chunks (src/trace/chunk.ts)
 * appended with one write each. RAM stays bounded however long the capture runs: the recorder
 * hands over a chunk at least every 100 ms and nothing is kept after the write. A writer killed
 * with SIGKILL leaves every chunk it wrote readable; the reader reports the torn tail. In ring
 * mode the oldest segments are deleted so that only about the newest `ringBytes` stay.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeFileSync, writevSync } from 'node:fs';
import { join } from 'node:path';

import { indexRecords, type RecordBlock } from '../../../src/trace/block';
import { CHUNK_HEADER_SIZE, CHUNK_MAGIC, chunkHeader, parseChunkHeader, payloadIntact, type ChunkHeader } from '../../../src/trace/chunk';
import { metaFromJson, metaToJson, type CaptureMeta, type CaptureMetaJson } from '../../../src/trace/meta';
import type { RecordChunkSink } from '../../../src/trace/recorder';
import { fileErrorText } from '../failure';

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

/** The recorder's sink: appends chunks to segment files. */
export class JournalWriter implements RecordChunkSink {
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
    const written = writevSync(this.fd, [chunkHeader(payload, count, firstSeq), payload]);
    if (written !== size) throw new Error(`short write to ${segmentName(this.segment)}: ${written} of ${size} bytes (disk full?)`);
    this.segmentUsed += size;
    this.segments[this.segments.length - 1]!.bytes = this.segmentUsed;
    this.records += count;
    this.trimRing();
  }

  /** Marks the capture complete in its manifest. */
  close(endWallNs: bigint): void {
    if (this.closed) return;
    this.closed = true;
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
      unlinkSync(join(this.opts.dir, segmentName(oldest.n)));
      total -= oldest.bytes;
    }
  }
}

interface ChunkRef {
  file: string;
  offset: number;
  header: ChunkHeader;
  /** Records readable in the chunk (header.count unless the chunk is malformed). */
  count: number;
}

/** A capture opened for reading: its metadata, what recovery found, and its records in blocks. */
export interface Capture {
  readonly path: string;
  readonly meta: CaptureMeta;
  /** Recovery and integrity notes: torn tail, skipped damage, unclean close, ring-mode trimming. */
  readonly notes: string[];
  readonly count: number;
  /** Records in capture order, one block per chunk, read from disk as they are walked. */
  blocks(): Iterable<RecordBlock>;
}

export type CaptureOpen = { ok: true; capture: Capture } | { ok: false; reason: string };

/** Scans one segment file: every intact chunk, and notes for what is not. */
function scanSegment(file: string, name: string, last: boolean, notes: string[]): ChunkRef[] {
  const bytes = readFileSync(file);
  const refs: ChunkRef[] = [];
  let off = 0;
  while (off < bytes.length) {
    const h = parseChunkHeader(bytes.subarray(off, off + CHUNK_HEADER_SIZE));
    const end = h.ok ? off + CHUNK_HEADER_SIZE + h.header.payloadBytes : 0;
    if (h.ok && end <= bytes.length && payloadIntact(h.header, bytes.subarray(off + CHUNK_HEADER_SIZE, end))) {
      // A chunk whose CRC holds was written whole; its records are still checked one by one.
      const idx = indexRecords(bytes.subarray(off + CHUNK_HEADER_SIZE, end));
      if (!idx.ok || idx.block.offsets.length !== h.header.count) {
        const why = idx.ok ? `${idx.block.offsets.length} records where the header says ${h.header.count}` : `record at chunk byte ${idx.offset}: ${idx.reason}`;
        notes.push(`${name}: chunk at byte ${off} is intact but malformed (${why}); ${idx.block.offsets.length} records before the damage kept`);
      }
      refs.push({ file, offset: off, header: h.header, count: idx.block.offsets.length });
      off = end;
      continue;
    }
    const why = !h.ok ? h.reason : end > bytes.length ? `chunk of ${h.header.payloadBytes} payload bytes, only ${bytes.length - off - CHUNK_HEADER_SIZE} present` : 'payload CRC-32C does not match';
    const next = findNextChunk(bytes, off + 1);
    if (next < 0) {
      const what = last ? 'torn tail (the writer stopped mid-chunk; everything before it is intact)' : 'damaged end of segment';
      notes.push(`${name}: ${what} at byte ${off}: ${why}; ${bytes.length - off} bytes discarded`);
      break;
    }
    notes.push(`${name}: damaged chunk at byte ${off}: ${why}; skipped ${next - off} bytes to the next intact chunk`);
    off = next;
  }
  return refs;
}

function findNextChunk(bytes: Uint8Array, from: number): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = from; i + CHUNK_HEADER_SIZE <= bytes.length; i++) {
    if (dv.getUint32(i, true) !== CHUNK_MAGIC) continue;
    const h = parseChunkHeader(bytes.subarray(i, i + CHUNK_HEADER_SIZE));
    const end = h.ok ? i + CHUNK_HEADER_SIZE + h.header.payloadBytes : 0;
    if (h.ok && end <= bytes.length && payloadIntact(h.header, bytes.subarray(i + CHUNK_HEADER_SIZE, end))) return i;
  }
  return -1;
}

/** Opens a capture folder; every intact chunk is readable whatever happened to the writer. */
export function openJournal(dir: string): CaptureOpen {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8'));
  } catch (e) {
    const manifest = join(dir, MANIFEST);
    if (e instanceof SyntaxError) return { ok: false, reason: `${manifest}: the capture manifest is not JSON; the capture folder is damaged` };
    if ((e as { code?: unknown }).code === 'ENOENT') return { ok: false, reason: `${dir} is not a capture folder: it has no ${MANIFEST}` };
    return { ok: false, reason: `cannot read ${manifest}: ${fileErrorText(e, manifest, 'read')}` };
  }
  const meta = metaFromJson(raw);
  if (!meta.ok) return { ok: false, reason: `${join(dir, MANIFEST)}: ${meta.reason}` };
  const journal = (raw as Partial<Manifest>).journal;
  const notes = [...meta.meta.notes];
  const segs = readdirSync(dir)
    .map((f) => SEGMENT_RE.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ name: m[0], n: Number(m[1]) }))
    .sort((a, b) => a.n - b.n);
  if (segs.length === 0) return { ok: false, reason: `${dir}: no segment files (seg-NNNNNN.ampc); expected at least seg-000001.ampc` };
  const refs: ChunkRef[] = [];
  segs.forEach((s, i) => refs.push(...scanSegment(join(dir, s.name), s.name, i === segs.length - 1, notes)));
  const count = refs.reduce((n, r) => n + r.count, 0);
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
  return {
    ok: true,
    capture: {
      path: dir,
      meta: meta.meta,
      notes,
      count,
      *blocks() {
        let fd = -1;
        let open = '';
        try {
          for (const r of refs) {
            if (r.file !== open) {
              if (fd >= 0) closeSync(fd);
              fd = openSync(r.file, 'r');
              open = r.file;
            }
            const payload = new Uint8Array(r.header.payloadBytes);
            const got = readSync(fd, payload, 0, payload.length, r.offset + CHUNK_HEADER_SIZE);
            if (got !== payload.length || !payloadIntact(r.header, payload)) {
              throw new Error(`${r.file} changed while it was read: chunk at byte ${r.offset} no longer holds the ${r.header.payloadBytes} bytes scanned`);
            }
            yield indexRecords(payload).block;
          }
        } finally {
          if (fd >= 0) closeSync(fd);
        }
      },
    },
  };
}

/** Bytes on disk of a capture folder's segments. */
export function journalBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir)) if (SEGMENT_RE.test(f)) n += statSync(join(dir, f)).size;
  return n;
}
