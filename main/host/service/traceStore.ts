/**
 * The trace as the workbench queries it, live or from a file: a capture source (src/trace/source.ts)
 * behind a resident cache, with filtered views and one analysis pass over it (statistics, the
 * transaction index, the Expert report). Rows are found through the source's block index by
 * binary search, so a page or a window reads only the blocks it needs. Filtered views and the
 * analysis are built incrementally: each scans only what arrived since it was last asked.
 *
 * Memory bound: block bytes held in RAM stay under `residentBytes` (default 256 MiB, about 2.5 M
 * typical records); the rest is read again from the capture when asked for. What stays per
 * record regardless: 4 bytes per match in each cached filtered view (at most MAX_VIEWS views);
 * once the analysis runs, 8 bytes per paired response in the statistics (StatsAccumulator keeps
 * exact percentiles), 4 per request transaction and about 80 per virtqueue operation in the
 * transaction index. Per block: a few numbers of index, in the source.
 *
 * A rolling capture deletes its oldest segments: positions stay as they were, but those below
 * `dropped` read as nothing. Row i of a view is its i-th record still held; filtered views and
 * statistics forget what went; windows and exports read only what is held.
 */
import { deviceToJson, type BufferContent, type DeviceJson, type TraceInfo, type TraceRow, type TransactionRow } from '../../../src/api/workbench';
import type { RecordBlock } from '../../../src/trace/block';
import { compileFilter, type FilterError, type RecordPredicate } from '../../../src/trace/filter';
import { dirCode, RECORD_FLAGS, RECORD_KINDS, RecordView } from '../../../src/trace/record';
import { firstHeld, ResidentCache, spanIndex, type CaptureSource } from '../../../src/trace/source';
import type { Fail, Ok, Result } from '../../../src/util/result';
import { StatsAccumulator, windowQuery, type TraceStats, type WindowQuery, type WindowResult } from '../../../src/trace/stats';
import { ExpertAccumulator, type ExpertReport } from '../../../src/trace/expert';
import { TransactionIndex, type QueueOperation } from '../../../src/trace/transactions';
import { EventIndex, eventLane } from '../../../src/trace/events';
import type { SavedAnalysis } from '../trace/analysisFile';
import { BusModel } from '../../../src/roles/monitor/reconstruct';
import { bufferContent, toRow } from './rows';

export const DEFAULT_RESIDENT_BYTES = 256 << 20;
/** Records a virtqueue operation's row reads back for its buffer records (chains of one step, other devices' records between). */
const BUFFER_LOOKBACK = 256;
const KIND_VQ_INDEX = RECORD_KINDS.indexOf('vq-index');
const KIND_BUFFER = RECORD_KINDS.indexOf('buffer');
const DIR_TO_DEVICE = dirCode('driver-to-device');
/** Filtered views kept (least recently used dropped first). */
const MAX_VIEWS = 8;

class FilterView {
  positions = new Uint32Array(1024);
  /** Matches before this index are positions no longer held. */
  start = 0;
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

  /** Forgets the matches below position `dropped`. */
  trim(dropped: number): void {
    while (this.start < this.length && this.positions[this.start]! < dropped) this.start++;
    // A rolling capture keeps dropping: keep the list to what is held.
    if (this.start > 1024 && this.start * 2 > this.length) {
      this.positions.copyWithin(0, this.start, this.length);
      this.length -= this.start;
      this.start = 0;
    }
  }
}

/** A store answer; a bad filter's failure also says at which column. */
export type StoreResult<T> = Ok<T> | (Fail & { column?: number });

function filterFailure(text: string, f: FilterError): FilterError {
  return { ok: false, error: `filter "${text}": error at column ${f.column}: ${f.error}`, column: f.column };
}

/** An analysis read back with its capture (analysisFile.ts): final, the capture does not grow. */
interface Restored {
  stats: TraceStats;
  expert: ExpertReport;
  index: TransactionIndex;
  events: EventIndex;
  devices: DeviceJson[];
}

interface Analysis {
  stats: StatsAccumulator;
  index: TransactionIndex;
  expert: ExpertAccumulator;
  events: EventIndex;
  /** The devices as the messages left them (src/roles/monitor/reconstruct.ts); null when the capture's revision is unknown. */
  devices: BusModel | null;
  from: number;
  scanned: number;
}

export class TraceStore {
  private readonly src: ResidentCache;
  private readonly base: bigint;
  /**
   * Statistics, the Expert report and the transaction index over positions [from, scanned): one
   * pass feeds all three, so the Statistics, Expert and Transactions views share one read of the
   * capture; built when first asked for, then brought up to date with what arrived since.
   */
  private analysis: Analysis | null = null;
  /** The analysis saved with a static capture, when it was given one: answers in place of the pass. */
  private readonly restored: Restored | null;
  private readonly views = new Map<string, FilterView>();
  private readonly view = new RecordView(new Uint8Array(0));
  /** Time bounds over the spans below `timed`. */
  private times = { from: 0, timed: 0, firstNs: null as number | null, lastNs: null as number | null };

  /** What the store says beside the capture's own notes. */
  private readonly notes: string[] = [];

  /**
   * `analysis`: the one saved with this capture as readAnalysisFile found it (made from this
   * content), or why it cannot be used: then the pass runs, and the notes say why once.
   */
  constructor(source: CaptureSource, opts: { residentBytes?: number; analysis?: Result<SavedAnalysis> | null } = {}) {
    this.src = new ResidentCache(source, opts.residentBytes ?? DEFAULT_RESIDENT_BYTES);
    this.base = source.meta.startMonoNs;
    const a = source.live ? null : (opts.analysis ?? null);
    if (a !== null && !a.ok) this.notes.push(`the analysis saved with the capture is not used (${a.error}); the capture is analysed again`);
    this.restored =
      a?.ok === true
        ? { stats: a.value.stats, expert: a.value.expert, index: TransactionIndex.restore(a.value.transactions), events: EventIndex.restore(a.value.events, this.base), devices: a.value.devices }
        : null;
    // A file source learns its index by being read through once; a journal has it already.
    for (const _ of this.src.blocks({ position: this.src.count }));
  }

  /** The capture behind the store, through its cache (the exporters read it). */
  get source(): CaptureSource {
    return this.src;
  }

  get count(): number {
    return this.src.count;
  }

  /** Records at the start no longer held (ring mode). */
  get dropped(): number {
    return firstHeld(this.src);
  }

  /** Records still held: the rows of the unfiltered view. */
  get held(): number {
    return this.count - this.dropped;
  }

  get live(): boolean {
    return this.src.live;
  }

  /** Calls `onAppended` with the records of each block a live capture appends; returns the unsubscribe function. */
  follow(onAppended: (records: number) => void): () => void {
    return this.src.follow((b) => onAppended(b.offsets.length), this.src.spans().length);
  }

  info(): TraceInfo {
    const m = this.src.meta;
    const spans = this.src.spans();
    const held = this.src.firstHeldSpan;
    if (this.times.from !== held) this.times = { from: held, timed: held, firstNs: null, lastNs: null };
    const t = this.times;
    for (; t.timed < spans.length; t.timed++) {
      const s = spans[t.timed]!;
      if (s.count === 0) continue;
      if (t.firstNs === null || s.minNs < t.firstNs) t.firstNs = s.minNs;
      if (t.lastNs === null || s.maxNs > t.lastNs) t.lastNs = s.maxNs;
    }
    return {
      source: this.live ? 'live' : 'file',
      path: this.src.path,
      count: this.count,
      dropped: this.dropped,
      board: m.board,
      revision: m.revision,
      queueFormat: m.queueFormat,
      link: m.link,
      startMonoNs: m.startMonoNs.toString(),
      startWallNs: m.startWallNs.toString(),
      firstNs: t.firstNs,
      lastNs: t.lastNs,
      notes: [...this.src.notes, ...this.notes],
      residentBytes: this.src.resident,
      residentLimit: this.src.residentBytes,
    };
  }

  /**
   * Blocks of spans [from, to) with their span index, as a scan: each valid until the next is
   * pulled; a block the capture no longer holds is skipped.
   */
  private *spanBlocks(from: number, to: number): Generator<[number, RecordBlock]> {
    for (let k = from; k < to; k++) {
      const b = this.src.scan(k);
      if (b !== null) yield [k, b];
    }
  }

  /** Blocks that may hold records in [fromNs, toNs), as a scan (each valid until the next is pulled). */
  private *blocksBetween(fromNs: number, toNs: number): Generator<RecordBlock> {
    const spans = this.src.spans();
    for (let k = this.src.firstHeldSpan; k < spans.length; k++) {
      const s = spans[k]!;
      if (s.maxNs < fromNs || s.minNs >= toNs) continue;
      const b = this.src.scan(k);
      if (b !== null) yield b;
    }
  }

  /**
   * The record at position `p`, as a view valid until the next call; null when out of range or
   * when its block is no longer in the capture.
   */
  at(p: number): RecordView | null {
    if (!(p >= 0 && p < this.count)) return null;
    const k = spanIndex(this.src.spans(), { position: p });
    const block = this.src.read(k);
    const i = p - this.src.spans()[k]!.first;
    if (!block || i >= block.offsets.length) return null;
    return this.view.at(block.bytes, block.offsets[i]!);
  }

  /** Position of the record with `seq`, or -1. */
  positionOf(seq: number): number {
    const spans = this.src.spans();
    if (spans.length === 0 || seq < spans[0]!.firstSeq) return -1;
    const e = spans[spanIndex(spans, { seq })]!;
    // Seqs are consecutive inside a block unless records were lost; then look record by record.
    const guess = e.first + (seq - e.firstSeq);
    if (seq - e.firstSeq < e.count && this.at(guess)?.seq === seq) return guess;
    for (let p = e.first; p < e.first + e.count; p++) if (this.at(p)?.seq === seq) return p;
    return -1;
  }

  compile(text: string): StoreResult<RecordPredicate> {
    const f = compileFilter(text, { startMonoNs: this.base });
    return f.ok ? { ok: true, value: f.value.test } : filterFailure(text, f);
  }

  /** Calls `fn` with each record from position `from` to the end, and its position. */
  private scanFrom(from: number, fn: (v: RecordView, position: number) => void): void {
    const spans = this.src.spans();
    const v = new RecordView(new Uint8Array(0));
    for (const [k, b] of this.spanBlocks(spanIndex(spans, { position: from }), spans.length)) {
      const first = spans[k]!.first;
      for (let i = Math.max(0, from - first); i < b.offsets.length; i++) fn(v.at(b.bytes, b.offsets[i]!), first + i);
    }
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
    const total = this.count;
    fv.trim(this.dropped);
    fv.scanned = Math.max(fv.scanned, this.dropped);
    if (fv.scanned < total) {
      const f = fv;
      this.scanFrom(f.scanned, (v, p) => {
        if (p < total && f.test(v)) f.push(p);
      });
      fv.scanned = total;
    }
    return { ok: true, value: fv };
  }

  /** Positions of rows [from, from + n) of the view (all records, or those the filter accepts), and the view's size. */
  rows(from: number, n: number, filter?: string): StoreResult<{ total: number; positions: number[] }> {
    const text = filter?.trim() ?? '';
    if (text === '') {
      const dropped = this.dropped;
      const positions: number[] = [];
      for (let p = dropped + from; p < Math.min(this.count, dropped + from + n); p++) positions.push(p);
      return { ok: true, value: { total: this.held, positions } };
    }
    const fv = this.filtered(text);
    if (!fv.ok) return fv;
    const f = fv.value;
    const held = f.length - f.start;
    return { ok: true, value: { total: held, positions: Array.from(f.positions.subarray(f.start + Math.min(from, held), f.start + Math.min(held, from + n))) } };
  }

  stats(filter?: string): StoreResult<TraceStats> {
    const text = filter?.trim() ?? '';
    if (text === '') return { ok: true, value: this.restored?.stats ?? this.analysed().stats.result() };
    const c = this.compile(text);
    if (!c.ok) return c;
    const acc = new StatsAccumulator({ startMonoNs: this.base });
    const test = c.value;
    this.scanFrom(this.dropped, (v) => {
      if (test(v)) acc.add(v);
    });
    return { ok: true, value: acc.result() };
  }

  /**
   * The analysis brought up to date: a fresh one when it is new or records it counted went out
   * of a rolling capture, then the records appended since it last looked — all of them, or as
   * many whole blocks as fit in `budgetMs` (prepare's slices).
   */
  private analysed(budgetMs = Infinity): Analysis {
    const dropped = this.dropped;
    const peer = this.src.meta.peer;
    if (this.analysis === null || this.analysis.from < dropped) {
      this.analysis = {
        stats: new StatsAccumulator({ startMonoNs: this.base }),
        index: new TransactionIndex(this.base),
        expert: new ExpertAccumulator(peer === undefined ? {} : { peer }),
        events: new EventIndex(this.base),
        devices: this.src.meta.revision === null ? null : new BusModel(this.src.meta.revision),
        from: dropped,
        scanned: dropped,
      };
    }
    const a = this.analysis;
    const { stats, index, expert, events, devices } = a;
    const total = this.count;
    const spans = this.src.spans();
    const v = new RecordView(new Uint8Array(0));
    const t0 = performance.now();
    for (let k = spanIndex(spans, { position: a.scanned }); k < spans.length && a.scanned < total; k++) {
      const s = spans[k]!;
      const b = this.src.scan(k);
      const end = Math.min(b === null ? 0 : b.offsets.length, total - s.first);
      for (let i = Math.max(0, a.scanned - s.first); i < end; i++) {
        v.at(b!.bytes, b!.offsets[i]!);
        stats.add(v);
        index.add(v, s.first + i);
        expert.add(v);
        events.add(v);
        if (devices !== null && v.kind === 'message' && v.dir !== null) devices.observe(v.dir, v.data());
      }
      a.scanned = Math.min(total, s.first + s.count);
      if (performance.now() - t0 >= budgetMs) break;
    }
    return a;
  }

  /** Whether the analysis has seen every record held. */
  get prepared(): boolean {
    return this.restored !== null || this.analysis !== null && this.analysis.from >= this.dropped && this.analysis.scanned >= this.count;
  }

  /**
   * Runs the analysis pass in slices of about `sliceMs`, letting the event loop run between
   * them, until it has caught up or `wanted` says the store is no longer shown: an opened
   * capture is analysed while the user looks at its first rows, and the Statistics, Expert and
   * Transactions views fill from a finished pass. A view that asks meanwhile finishes the rest at
   * once; the pass resumes where the slices stopped.
   */
  async prepare(wanted: () => boolean, sliceMs = 20): Promise<void> {
    // Each slice after a turn of the event loop: the request that started the pass is answered first.
    for (;;) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (!wanted() || this.prepared) return;
      this.analysed(sliceMs);
    }
  }

  /**
   * The devices the capture's messages leave (docs/protocol.md §14.2) once the analysis pass has
   * read them all; null while it is still reading (the pass runs in prepare's slices, so a large
   * capture never blocks the engine for them).
   */
  observedDevices(): DeviceJson[] | null {
    if (this.restored !== null) return this.restored.devices;
    if (!this.prepared) return null;
    return this.analysis?.devices?.states().map(deviceToJson) ?? [];
  }

  /** Records the analysis pass has read, for "reading … (n of m records)". */
  get analysedCount(): number {
    return this.restored !== null ? this.count : (this.analysis?.scanned ?? 0);
  }

  /** Findings and session errors by severity and rule (src/trace/expert.ts), over what is held. */
  expert(): ExpertReport {
    return this.restored?.expert ?? this.analysed().expert.result();
  }

  /** The transaction index (src/trace/transactions.ts) over what is held, brought up to date. */
  transactions(): TransactionIndex {
    return this.restored?.index ?? this.analysed().index;
  }

  /**
   * The finished analysis to save with the capture (analysisFile.ts), once the capture is
   * complete and the pass has seen all of it; null for a capture still growing, one that lost
   * its oldest records (reopened, its positions start again from 0), or one written elsewhere.
   */
  savedAnalysis(): SavedAnalysis | null {
    const fingerprint = this.src.fingerprint();
    if (this.live || this.dropped > 0 || fingerprint === null || !this.prepared) return null;
    if (this.restored !== null) return null;
    const a = this.analysed();
    return { fingerprint, stats: a.stats.result(), expert: a.expert.result(), transactions: a.index.snapshot(), events: a.events.snapshot(), devices: this.observedDevices() ?? [] };
  }

  /**
   * Rows [from, from + n) of the request transactions or the virtqueue operations, and how many
   * there are; without `from`, the last page (pages of n from the first row).
   */
  transactionPage(kind: 'requests' | 'virtqueue', at: number | undefined, n: number): { total: number; from: number; rows: TransactionRow[] } {
    const index = this.transactions();
    const total = kind === 'requests' ? index.requests : index.operations;
    const from = at ?? Math.floor(Math.max(0, total - 1) / n) * n;
    const rows: TransactionRow[] = [];
    for (let i = from; i < Math.min(total, from + n); i++) {
      const row = kind === 'requests' ? this.requestTransaction(index.ends.data[i]!) : this.queueOperation(index.operation(i));
      if (row !== null) rows.push(row);
    }
    return { total, from, rows };
  }

  /** The row of the record at `position`, or null when the capture no longer holds it. */
  private rowAt(position: number): TraceRow | null {
    if (position < 0) return null;
    const v = this.at(position);
    return v === null ? null : toRow(v, position, this.base, this.src.meta.absent);
  }

  /** A request transaction from the record that ended it: a response, or the NO_RESPONSE marker of its timeout. */
  private requestTransaction(endPosition: number): TransactionRow | null {
    const v = this.at(endPosition);
    if (v === null) return null;
    const end = toRow(v, endPosition, this.base, this.src.meta.absent);
    const late = (v.flags & RECORD_FLAGS.late) !== 0;
    const timedOut = v.kind === 'marker';
    // A late response pairs with its request's NO_RESPONSE marker, which pairs with the request.
    const pair = late ? (this.at(this.positionOf(end.pairSeq!))?.pairSeq ?? -1) : end.pairSeq!;
    const request = pair < 0 ? null : this.rowAt(this.positionOf(pair));
    return {
      kind: 'request',
      name: request?.name ?? end.name,
      dev: request?.dev ?? end.dev,
      request,
      end,
      outcome: timedOut ? 'no-response' : late ? 'late' : 'answered',
      latencyNs: timedOut || request === null ? null : end.timeNs - request.timeNs,
    };
  }

  private queueOperation(op: QueueOperation): TransactionRow | null {
    const avail = this.rowAt(op.availPosition);
    if (avail === null) return null;
    // The driver records a chain's bytes just before the vq-index record of the same step
    // (src/virtio/driverRing.ts): published ones before EVENT_AVAIL, used ones before the used entries.
    const published = this.buffersBefore(op.availPosition, op.dev, op.queue, true);
    const used = op.usedEntryPosition < 0 ? [] : this.buffersBefore(op.usedEntryPosition + 1, op.dev, op.queue, false);
    return {
      kind: 'virtqueue',
      dev: op.dev,
      queue: op.queue,
      avail,
      usedEntry: this.rowAt(op.usedEntryPosition),
      eventUsed: this.rowAt(op.eventUsedPosition),
      entries: op.entries,
      buffers: [...published, ...used],
      latencyNs: op.doneNs === null ? null : op.doneNs - op.availNs,
    };
  }

  /**
   * The buffer records of virtqueue (dev, queue) in one direction that the step ending at the
   * vq-index record before `position` wrote: read back from there to the step's own vq-index
   * record, then on to the one before (at most BUFFER_LOOKBACK records), in record order.
   */
  private buffersBefore(position: number, dev: number, queue: number, toDevice: boolean): (BufferContent & { seq: number })[] {
    const found: (BufferContent & { seq: number })[] = [];
    let indexes = 0;
    for (let p = position - 1; p >= Math.max(this.dropped, position - BUFFER_LOOKBACK); p--) {
      const v = this.at(p);
      if (v === null || v.devNum !== dev || v.channel !== queue) continue;
      if (v.kindCode === KIND_VQ_INDEX) {
        if (++indexes === 2) break;
      } else if (v.kindCode === KIND_BUFFER && indexes === 1 && (v.dirCode === DIR_TO_DEVICE) === toDevice) {
        const b = bufferContent(v);
        if (b !== null) found.push({ ...b, seq: v.seq });
      }
    }
    return found.reverse();
  }

  window(q: { [K in 'fromNs' | 'toNs' | 'buckets' | 'series']: WindowQuery[K] } & { filter?: string | undefined; dev?: number | undefined; queue?: number | undefined }): StoreResult<WindowResult> {
    const text = q.filter?.trim() ?? '';
    // A Timeline event lane (src/trace/events.ts) is read from the analysis pass's event index.
    const lane = q.series === 'records' && q.dev === undefined && q.queue === undefined ? eventLane(text) : -1;
    if (lane >= 0) return { ok: true, value: (this.restored?.events ?? this.analysed().events).window(lane, q.fromNs, q.toNs, q.buckets) };
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
}
