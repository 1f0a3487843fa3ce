/**
 * One shape for every capture the workbench reads, live or from a file (the idea of Foxglove
 * Studio's IterablePlayer data sources): metadata, notes, the records known so far, an index of
 * blocks, ranged iteration from a position, a seq or a time, and random access to one block. A
 * live source also tells who follows it about every block appended. Caching and eviction are a
 * wrapper (ResidentCache), not part of any reader.
 *
 * A source's notes and count grow as it learns: a file source finds damage and counts records as
 * it streams; a live source grows as the capture is written.
 */
import type { RecordBlock } from './block';
import type { CaptureMeta } from './meta';
import { RecordView, timeBase } from './record';
import { ok, type Result } from '../util/result';

/** Where a ranged read starts: a record position, a seq, or a time in ns from meta.startMonoNs. */
export type SourceFrom = { position: number } | { seq: number } | { ns: number };

/** One block of a source's index: where it sits in the trace and what it holds. */
export interface BlockSpan {
  /** Position of its first record in the trace. */
  readonly first: number;
  readonly count: number;
  readonly firstSeq: number;
  /** Time span of its records, ns from meta.startMonoNs. */
  readonly minNs: number;
  readonly maxNs: number;
  readonly bytes: number;
}

/**
 * What identifies a capture's content as written (a journal's: its record count and its last
 * chunk's place and payload CRC), so a file saved beside it can tell it was made from this content.
 */
export interface CaptureFingerprint {
  records: number;
  chunk: { file: string; offset: number; crc: number };
}

export interface CaptureSource {
  readonly path: string;
  readonly meta: CaptureMeta;
  /** Recovery and integrity notes found so far. */
  readonly notes: readonly string[];
  /** True while records are still being appended. */
  readonly live: boolean;
  /** Records known so far (every record once a file source has been read through). */
  readonly count: number;
  /** The blocks known so far, in capture order. */
  spans(): readonly BlockSpan[];
  /**
   * Ring mode: the first span the capture still holds. The spans before it were deleted with
   * their segments; their records keep their positions but read as nothing. Absent: all held.
   */
  readonly firstHeldSpan?: number;
  /**
   * Blocks in capture order, from the whole block holding `from` (default: the start); the
   * first one yielded is span `spanIndex(spans(), from)`. A file source reads on past its index.
   */
  blocks(from?: SourceFrom): Iterable<RecordBlock>;
  /**
   * Block `k` of the index read again; null when the capture no longer holds it (ring mode,
   * damage). `transient`: the caller is done with the block before its next read (a scan), so
   * the source may hand out the same memory again.
   */
  read(k: number, transient?: boolean): RecordBlock | null;
  /**
   * Live sources: calls `onBlock` with every block from span `fromSpan` on — the ones there now at
   * once, then each one as it is appended, in the same call that appends it, so none falls
   * between the read and the subscription. Returns the unsubscribe function.
   */
  follow?(onBlock: (block: RecordBlock, k: number) => void, fromSpan?: number): () => void;
  /** Sources written by the workbench (a journal): the content's fingerprint, null while it holds no chunk. */
  fingerprint?(): CaptureFingerprint | null;
}

/** Position of the first record the source still holds: 0 unless ring mode deleted the oldest. */
export function firstHeld(source: Pick<CaptureSource, 'firstHeldSpan' | 'spans' | 'count'>): number {
  const k = source.firstHeldSpan ?? 0;
  return k === 0 ? 0 : (source.spans()[k]?.first ?? source.count);
}

/** A reader's open: the source, or why the file is not a capture it reads. */
export type SourceOpen = Result<CaptureSource>;

/** A whole capture in memory: its metadata, every block and the notes found reading it. */
export interface WholeCapture {
  meta: CaptureMeta;
  blocks: RecordBlock[];
  notes: string[];
}

/** Reads an opened source through (files small enough to hold: tests, imports). */
export function readWhole(o: SourceOpen): Result<WholeCapture> {
  if (!o.ok) return o;
  const blocks = [...o.value.blocks()];
  return ok({ meta: o.value.meta, blocks, notes: [...o.value.notes] });
}

/**
 * Positioned reads of a file (or of bytes in memory): up to `n` bytes from `at`, fewer at the
 * end. `into`, when given, is memory the caller lends for the read (at least `n` bytes): the
 * result may be a view of it, valid until the caller reuses it.
 */
export interface ByteSource {
  readonly size: number;
  read(at: number, n: number, into?: Uint8Array): Uint8Array;
}

/** Bytes already in memory as a ByteSource (no copy). */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: (at, n) => bytes.subarray(at, at + n) };
}

/** The index of the span holding `from`; spans.length when it lies past the known ones. */
export function spanIndex(spans: readonly BlockSpan[], from: SourceFrom | undefined): number {
  if (from === undefined || spans.length === 0) return 0;
  const key: (s: BlockSpan) => number = 'position' in from ? (s) => s.first : 'seq' in from ? (s) => s.firstSeq : (s) => s.maxNs;
  const target = 'position' in from ? from.position : 'seq' in from ? from.seq : from.ns;
  if ('ns' in from) {
    // The first span that may hold a record at or after the time.
    let lo = 0;
    let hi = spans.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (key(spans[mid]!) < target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  // The last span starting at or before the target.
  if (target < key(spans[0]!)) return 0;
  let lo = 0;
  let hi = spans.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (key(spans[mid]!) <= target) lo = mid;
    else hi = mid - 1;
  }
  const s = spans[lo]!;
  return 'position' in from && target >= s.first + s.count ? spans.length : lo;
}

/** The index entry of `block`, whose first record is at position `first`. */
export function spanOf(block: RecordBlock, first: number, startMonoNs: bigint): BlockSpan {
  const v = new RecordView(new Uint8Array(0));
  const base = timeBase(startMonoNs);
  let minNs = Infinity;
  let maxNs = -Infinity;
  const n = block.offsets.length;
  for (let i = 0; i < n; i++) {
    const t = v.at(block.bytes, block.offsets[i]!).relNs(base);
    if (t < minNs) minNs = t;
    if (t > maxNs) maxNs = t;
  }
  const firstSeq = n > 0 ? v.at(block.bytes, block.offsets[0]!).seq : 0;
  return { first, count: n, firstSeq, minNs, maxNs, bytes: block.bytes.length };
}

/** Ranged iteration over an index that holds every block: `read` each span from the one holding `from`. */
export function* indexedBlocks(source: Pick<CaptureSource, 'spans' | 'read'>, from?: SourceFrom): Generator<RecordBlock> {
  for (let k = spanIndex(source.spans(), from); k < source.spans().length; k++) {
    const b = source.read(k);
    if (b !== null) yield b;
  }
}

/** Listeners of a live source, told in order; one place for follow()'s catch-up-then-subscribe. */
export class Followers {
  private readonly listeners = new Set<(block: RecordBlock, k: number) => void>();

  /** Delivers spans [fromSpan, now) read back through `read`, then subscribes. */
  follow(source: Pick<CaptureSource, 'spans' | 'read'>, onBlock: (block: RecordBlock, k: number) => void, fromSpan = 0): () => void {
    for (let k = fromSpan; k < source.spans().length; k++) {
      const b = source.read(k);
      if (b !== null) onBlock(b, k);
    }
    this.listeners.add(onBlock);
    return () => this.listeners.delete(onBlock);
  }

  get size(): number {
    return this.listeners.size;
  }

  tell(block: RecordBlock, k: number): void {
    for (const l of this.listeners) l(block, k);
  }
}

/**
 * A source whose blocks, once read one by one (`read`: pages, single records) or appended live,
 * stay in memory until `residentBytes` of them are held; beyond that the least recently used are
 * dropped and read again from the source when asked for. Scans (`blocks`, `scan`) use what is
 * held but keep nothing, so a filter over the whole capture neither grows memory nor pushes out
 * the pages on screen.
 */
export class ResidentCache implements CaptureSource {
  private readonly held = new Map<number, RecordBlock>();
  private heldBytes = 0;

  constructor(
    private readonly inner: CaptureSource,
    readonly residentBytes: number,
  ) {}

  get path(): string {
    return this.inner.path;
  }
  get meta(): CaptureMeta {
    return this.inner.meta;
  }
  get notes(): readonly string[] {
    return this.inner.notes;
  }
  get live(): boolean {
    return this.inner.live;
  }
  get count(): number {
    return this.inner.count;
  }
  get firstHeldSpan(): number {
    return this.inner.firstHeldSpan ?? 0;
  }
  fingerprint(): CaptureFingerprint | null {
    return this.inner.fingerprint?.() ?? null;
  }
  /** Block bytes held in memory now. */
  get resident(): number {
    return this.heldBytes;
  }

  spans(): readonly BlockSpan[] {
    return this.inner.spans();
  }

  read(k: number): RecordBlock | null {
    if (k < this.firstHeldSpan) return this.release(k);
    const hit = this.held.get(k);
    if (hit) {
      this.held.delete(k);
      this.held.set(k, hit);
      return hit;
    }
    const b = this.inner.read(k);
    if (b !== null) this.keep(k, b);
    return b;
  }

  /** Block k as held, else read from the source without keeping it; valid until the next scan. */
  scan(k: number): RecordBlock | null {
    if (k < this.firstHeldSpan) return this.release(k);
    return this.held.get(k) ?? this.inner.read(k, true);
  }

  /** Block k is gone from the capture: not kept here either. */
  private release(k: number): null {
    const b = this.held.get(k);
    if (b) {
      this.held.delete(k);
      this.heldBytes -= b.bytes.length;
    }
    return null;
  }

  *blocks(from?: SourceFrom): Generator<RecordBlock> {
    // Within the index: what is held, else read. Past it (a file read for the first time): from the source.
    for (let k = spanIndex(this.inner.spans(), from); k < this.inner.spans().length; k++) {
      const b = k < this.firstHeldSpan ? this.release(k) : (this.held.get(k) ?? this.inner.read(k));
      if (b !== null) yield b;
    }
    yield* this.inner.blocks({ position: this.inner.count });
  }

  follow(onBlock: (block: RecordBlock, k: number) => void, fromSpan = 0): () => void {
    if (!this.inner.follow) throw new Error(`${this.inner.path} is not a live capture`);
    return this.inner.follow((b, k) => {
      this.keep(k, b);
      onBlock(b, k);
    }, fromSpan);
  }

  private keep(k: number, b: RecordBlock): void {
    if (k < 0 || this.held.has(k)) return;
    this.held.set(k, b);
    this.heldBytes += b.bytes.length;
    // The block just kept stays even when it alone is over the budget.
    while (this.heldBytes > this.residentBytes && this.held.size > 1) {
      const [oldest, ob] = this.held.entries().next().value!;
      this.held.delete(oldest);
      this.heldBytes -= ob.bytes.length;
    }
  }
}

/** A reader's walk over a file, block by block, from a state it can be resumed from. */
export interface Walk<S> {
  /** The next block (its bytes its own), or null at the end; `kept`: records before it, for notes. */
  next(kept: number): RecordBlock | null;
  /** Where the walk stands: a walk started from it reads on exactly as this one would. */
  state(): S;
}

/** The note taker of a walk over ground already walked, whose notes were taken the first time. */
export const ignore = (): void => undefined;

/**
 * A file read by streaming (pcapng, JSONL): the first read-through indexes its blocks, with the
 * walk state at each so any block can be read again by itself, and collects the notes; memory
 * stays at what one walk holds, whatever the file's size.
 */
export class StreamedSource<S> implements CaptureSource {
  readonly live = false;
  readonly notes: string[];
  private readonly index: BlockSpan[] = [];
  private readonly starts: S[] = [];
  /** The first read-through, where it stands; null once it reached the end. */
  private frontier: Walk<S> | null;
  private total = 0;

  constructor(
    readonly path: string,
    readonly meta: CaptureMeta,
    headNotes: readonly string[],
    start: S,
    private readonly walk: (from: S, note: (text: string) => void) => Walk<S>,
  ) {
    this.notes = [...headNotes];
    this.frontier = walk(start, (t) => this.notes.push(t));
  }

  get count(): number {
    return this.total;
  }

  spans(): readonly BlockSpan[] {
    return this.index;
  }

  read(k: number): RecordBlock | null {
    const from = this.starts[k];
    return from === undefined ? null : this.walk(from, ignore).next(0);
  }

  *blocks(from?: SourceFrom): Generator<RecordBlock> {
    let k = spanIndex(this.index, from);
    // A walk of its own over known ground; the one shared first read-through past it.
    let own: Walk<S> | null = null;
    for (;;) {
      if (k < this.index.length) {
        own ??= this.walk(this.starts[k]!, ignore);
        k++;
        yield own.next(0)!;
        continue;
      }
      const b = this.advance();
      if (b === null) return;
      own = null;
      k++;
      yield b;
    }
  }

  /** The next block of the first read-through, indexed; null at the end of the file. */
  private advance(): RecordBlock | null {
    if (this.frontier === null) return null;
    const start = this.frontier.state();
    const b = this.frontier.next(this.total);
    if (b === null) {
      this.frontier = null;
      return null;
    }
    this.starts.push(start);
    this.index.push(spanOf(b, this.total, this.meta.startMonoNs));
    this.total += b.offsets.length;
    return b;
  }
}

/** Blocks already in memory as a finished capture source. */
export function memorySource(path: string, meta: CaptureMeta, notes: readonly string[], blocks: readonly RecordBlock[]): CaptureSource {
  const index: BlockSpan[] = [];
  let total = 0;
  for (const b of blocks) {
    index.push(spanOf(b, total, meta.startMonoNs));
    total += b.offsets.length;
  }
  const src: CaptureSource = { path, meta, notes, live: false, count: total, spans: () => index, read: (k) => blocks[k] ?? null, blocks: (from) => indexedBlocks(src, from) };
  return src;
}
