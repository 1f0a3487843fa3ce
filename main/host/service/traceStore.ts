/**
 * The trace as the workbench queries it, live or from a file: record blocks in capture order with
 * an index (first position, first seq, time span per block), so a row is found by binary search,
 * not by a scan. Filtered views are arrays of matching positions built incrementally: a view
 * scans only what arrived since it was last asked.
 *
 * Memory bound: block bytes held in RAM stay under `residentBytes` (default 256 MiB, about 2.5 M
 * typical records). Beyond it the oldest blocks are dropped from memory and re-read from the
 * capture on disk when asked for (the journal is the source of truth, docs/architecture.md "Trace
 * recorder"). What stays per record regardless: 4 bytes per match in each cached filtered view
 * (at most MAX_VIEWS views), and 8 bytes per paired response in the live latency statistics
 * (StatsAccumulator keeps exact percentiles). Per block: a few numbers of index.
 */
import type { TraceInfo } from '../../../src/api/workbench';
import type { RecordBlock } from '../../../src/trace/block';
import { compileFilter, type FilterError, type RecordPredicate } from '../../../src/trace/filter';
import type { CaptureMeta } from '../../../src/trace/meta';
import { RecordView } from '../../../src/trace/record';
import { StatsAccumulator, windowQuery, type TraceStats, type WindowQuery, type WindowResult } from '../../../src/trace/stats';
import type { Capture } from '../trace/journal';

export const DEFAULT_RESIDENT_BYTES = 256 << 20;
/** Filtered views kept (least recently used dropped first). */
const MAX_VIEWS = 8;
/** Re-read blocks kept for random access into the evicted part. */
const REREAD_CACHE = 8;

export interface TraceSource {
  path: string;
  meta: CaptureMeta;
  notes: readonly string[];
  live: boolean;
  /** The capture's blocks read again from disk, in order; null when they exist only in memory. */
  reread: (() => Iterable<RecordBlock>) | null;
}

interface Entry {
  /** Position of the block's first record in the trace. */
  first: number;
  firstSeq: number;
  count: number;
  bytes: number;
  minNs: number;
  maxNs: number;
  /** null once evicted. */
  block: RecordBlock | null;
}

class FilterView {
  positions = new Uint32Array(1024);
  length = 0;
  /** Positions below this have been tested. */
  scanned = 0;
  constructor(readonly test: RecordPredicate) {}

  push(position: number): void {
    if (this.length === this.positions.length) {
      const grown = new Uint32Array(this.length * 2);
      grown.set(this.positions);
      this.positions = grown;
    }
    this.positions[this.length++] = position;
  }
}

export type StoreResult<T> = { ok: true; value: T } | { ok: false; error: string; column?: number };

function filterFailure(text: string, f: FilterError): { ok: false; error: string; column: number } {
  return { ok: false, error: `filter "${text}": error at column ${f.column}: ${f.message}`, column: f.column };
}

export class TraceStore {
  private readonly entries: Entry[] = [];
  private total = 0;
  private resident = 0;
  /** Entries below this index were evicted. */
  private evicted = 0;
  private firstNs: number | null = null;
  private lastNs: number | null = null;
  private readonly base: bigint;
  private readonly liveStats: StatsAccumulator;
  private readonly views = new Map<string, FilterView>();
  private readonly rereadCache = new Map<number, RecordBlock>();
  private readonly view = new RecordView(new Uint8Array(0));
  private readonly residentLimit: number;
  live: boolean;

  constructor(
    readonly source: TraceSource,
    opts: { residentBytes?: number } = {},
  ) {
    this.base = source.meta.startMonoNs;
    this.live = source.live;
    this.liveStats = new StatsAccumulator({ startMonoNs: this.base });
    // Blocks that exist only in memory cannot be dropped: nothing could bring them back.
    this.residentLimit = source.reread ? (opts.residentBytes ?? DEFAULT_RESIDENT_BYTES) : Infinity;
  }

  get count(): number {
    return this.total;
  }

  /** Adds a block at the end; its records must follow the ones already held. */
  append(block: RecordBlock): void {
    const n = block.offsets.length;
    if (n === 0) return;
    const v = this.view;
    let minNs = Infinity;
    let maxNs = -Infinity;
    for (let i = 0; i < n; i++) {
      v.at(block.bytes, block.offsets[i]!);
      const t = v.relNs(this.base);
      if (t < minNs) minNs = t;
      if (t > maxNs) maxNs = t;
      this.liveStats.add(v);
    }
    const firstSeq = v.at(block.bytes, block.offsets[0]!).seq;
    this.entries.push({ first: this.total, firstSeq, count: n, bytes: block.bytes.length, minNs, maxNs, block });
    this.total += n;
    this.resident += block.bytes.length;
    if (this.firstNs === null || minNs < this.firstNs) this.firstNs = minNs;
    if (this.lastNs === null || maxNs > this.lastNs) this.lastNs = maxNs;
    while (this.resident > this.residentLimit && this.evicted < this.entries.length - 1) {
      const e = this.entries[this.evicted++]!;
      this.resident -= e.bytes;
      e.block = null;
    }
  }

  info(): TraceInfo {
    const m = this.source.meta;
    return {
      source: this.live ? 'live' : 'file',
      path: this.source.path,
      count: this.total,
      board: m.board,
      revision: m.revision,
      queueFormat: m.queueFormat,
      link: m.link,
      startMonoNs: m.startMonoNs.toString(),
      startWallNs: m.startWallNs.toString(),
      firstNs: this.firstNs,
      lastNs: this.lastNs,
      notes: [...this.source.notes],
      residentBytes: this.resident,
      residentLimit: Number.isFinite(this.residentLimit) ? this.residentLimit : -1,
    };
  }

  /** Entry holding position `p` (0 ≤ p < count). */
  private entryAt(p: number): number {
    let lo = 0;
    let hi = this.entries.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.entries[mid]!.first <= p) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * Blocks of entries [from, to) with their entry index; evicted ones are read again from disk
   * (matched by first seq), so a block the disk no longer holds is skipped.
   */
  private *entryBlocks(from: number, to: number): Generator<[number, RecordBlock]> {
    let k = from;
    if (k < Math.min(this.evicted, to)) {
      const cached = k + 1 === to ? this.rereadCache.get(k) : undefined;
      if (cached) {
        yield [k, cached];
        k = to;
      } else {
        const v = new RecordView(new Uint8Array(0));
        for (const b of this.source.reread!()) {
          if (k >= Math.min(this.evicted, to)) break;
          if (b.offsets.length === 0) continue;
          const seq = v.at(b.bytes, b.offsets[0]!).seq;
          while (k < this.evicted && k < to && this.entries[k]!.firstSeq < seq) k++;
          if (k < this.evicted && k < to && this.entries[k]!.firstSeq === seq) {
            this.remember(k, b);
            yield [k, b];
            k++;
          }
        }
        k = Math.max(k, Math.min(this.evicted, to));
      }
    }
    for (; k < to; k++) yield [k, this.entries[k]!.block!];
  }

  private remember(k: number, b: RecordBlock): void {
    this.rereadCache.delete(k);
    this.rereadCache.set(k, b);
    if (this.rereadCache.size > REREAD_CACHE) this.rereadCache.delete(this.rereadCache.keys().next().value!);
  }

  /** Every block in order (evicted ones from disk). */
  *blocks(): Generator<RecordBlock> {
    for (const [, b] of this.entryBlocks(0, this.entries.length)) yield b;
  }

  /** Blocks that may hold records in [fromNs, toNs). */
  private *blocksBetween(fromNs: number, toNs: number): Generator<RecordBlock> {
    let k = 0;
    while (k < this.entries.length) {
      while (k < this.entries.length && (this.entries[k]!.maxNs < fromNs || this.entries[k]!.minNs >= toNs)) k++;
      let end = k;
      while (end < this.entries.length && !(this.entries[end]!.maxNs < fromNs || this.entries[end]!.minNs >= toNs)) end++;
      for (const [, b] of this.entryBlocks(k, end)) yield b;
      k = end;
    }
  }

  /**
   * The record at position `p`, as a view valid until the next call; null when out of range or
   * when its block is no longer on disk.
   */
  at(p: number): RecordView | null {
    if (!(p >= 0 && p < this.total)) return null;
    const k = this.entryAt(p);
    const e = this.entries[k]!;
    let block = e.block;
    if (!block) for (const [, b] of this.entryBlocks(k, k + 1)) block = b;
    if (!block) return null;
    return this.view.at(block.bytes, block.offsets[p - e.first]!);
  }

  /** Position of the record with `seq`, or -1. */
  positionOf(seq: number): number {
    let lo = 0;
    let hi = this.entries.length - 1;
    if (hi < 0 || seq < this.entries[0]!.firstSeq) return -1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.entries[mid]!.firstSeq <= seq) lo = mid;
      else hi = mid - 1;
    }
    const e = this.entries[lo]!;
    // Seqs are consecutive inside a block unless records were lost; then look record by record.
    const guess = e.first + (seq - e.firstSeq);
    if (seq - e.firstSeq < e.count && this.at(guess)?.seq === seq) return guess;
    for (let p = e.first; p < e.first + e.count; p++) if (this.at(p)?.seq === seq) return p;
    return -1;
  }

  private compile(text: string): StoreResult<RecordPredicate> {
    const f = compileFilter(text, { startMonoNs: this.base });
    return f.ok ? { ok: true, value: f.test } : filterFailure(text, f);
  }

  /** The filtered view for `text`, brought up to date with the trace. */
  private filtered(text: string): StoreResult<FilterView> {
    let fv = this.views.get(text);
    if (fv) this.views.delete(text);
    else {
      const c = this.compile(text);
      if (!c.ok) return c;
      fv = new FilterView(c.value);
    }
    this.views.set(text, fv);
    if (this.views.size > MAX_VIEWS) this.views.delete(this.views.keys().next().value!);
    if (fv.scanned < this.total) {
      const v = new RecordView(new Uint8Array(0));
      const from = fv.scanned;
      for (const [k, b] of this.entryBlocks(this.entryAt(from), this.entries.length)) {
        const e = this.entries[k]!;
        for (let i = Math.max(0, from - e.first); i < b.offsets.length; i++) if (fv.test(v.at(b.bytes, b.offsets[i]!))) fv.push(e.first + i);
      }
      fv.scanned = this.total;
    }
    return { ok: true, value: fv };
  }

  /** Positions of rows [from, from + n) of the view (all records, or those the filter accepts), and the view's size. */
  rows(from: number, n: number, filter?: string): StoreResult<{ total: number; positions: number[] }> {
    const text = filter?.trim() ?? '';
    if (text === '') {
      const positions: number[] = [];
      for (let p = from; p < Math.min(this.total, from + n); p++) positions.push(p);
      return { ok: true, value: { total: this.total, positions } };
    }
    const fv = this.filtered(text);
    if (!fv.ok) return fv;
    const f = fv.value;
    return { ok: true, value: { total: f.length, positions: Array.from(f.positions.subarray(Math.min(from, f.length), Math.min(f.length, from + n))) } };
  }

  stats(filter?: string): StoreResult<TraceStats> {
    const text = filter?.trim() ?? '';
    if (text === '') return { ok: true, value: this.liveStats.result() };
    const c = this.compile(text);
    if (!c.ok) return c;
    const acc = new StatsAccumulator({ startMonoNs: this.base });
    const v = new RecordView(new Uint8Array(0));
    for (const b of this.blocks()) for (let i = 0; i < b.offsets.length; i++) if (c.value(v.at(b.bytes, b.offsets[i]!))) acc.add(v);
    return { ok: true, value: acc.result() };
  }

  window(q: { [K in 'fromNs' | 'toNs' | 'buckets' | 'series']: WindowQuery[K] } & { filter?: string | undefined; dev?: number | undefined; queue?: number | undefined }): StoreResult<WindowResult> {
    const text = q.filter?.trim() ?? '';
    let test: RecordPredicate | undefined;
    if (text !== '') {
      const c = this.compile(text);
      if (!c.ok) return c;
      test = c.value;
    }
    const query: WindowQuery = { fromNs: q.fromNs, toNs: q.toNs, buckets: q.buckets, series: q.series, startMonoNs: this.base };
    if (test) query.filter = test;
    if (q.dev !== undefined) query.dev = q.dev;
    if (q.queue !== undefined) query.queue = q.queue;
    return { ok: true, value: windowQuery(this.blocksBetween(q.fromNs, q.toNs), query) };
  }

  /** The trace as a Capture for the exporters. */
  capture(): Capture {
    return { path: this.source.path, meta: this.source.meta, notes: [...this.source.notes], count: this.total, blocks: () => this.blocks() };
  }
}
