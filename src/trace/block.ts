/**
 * Records in bulk: a block is one byte buffer holding encoded records back to back plus the
 * offset of each. The journal reads chunks into blocks, importers build blocks, and filters,
 * stats and exporters walk blocks with one reused RecordView, so a scan over millions of
 * records allocates nothing per record.
 */
import type { Fail, Ok } from '../util/result';
import { readRecord, RECORD_HEADER_SIZE, RecordView, soundRecordLength, writeRecord, type TraceRecord } from './record';

export interface RecordBlock {
  readonly bytes: Uint8Array;
  /** Offset of each record in `bytes`, in capture order. */
  readonly offsets: Uint32Array;
}

/** The records of `bytes`; a failure also holds, as `block`, every record before the damaged one. */
export type BlockIndex = Ok<RecordBlock> | (Fail & { block: RecordBlock; offset: number });

/**
 * Indexes records laid back to back in `bytes`. Stops at the first damaged record: the block
 * then holds every record before it, and the failure says where and why.
 */
export function indexRecords(bytes: Uint8Array): BlockIndex {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offsets: number[] = [];
  // A local: an imported binding read in the loop costs a getter call per record under tsx.
  const sound = soundRecordLength;
  let off = 0;
  while (off < bytes.length) {
    const length = sound(dv, off, bytes.length - off);
    if (length < 0) {
      const why = readRecord(bytes, off);
      const block = { bytes: bytes.subarray(0, off), offsets: Uint32Array.from(offsets) };
      return { ok: false, block, offset: off, error: why.ok ? 'damaged record' : why.error };
    }
    offsets.push(off);
    off += length;
  }
  return { ok: true, value: { bytes, offsets: Uint32Array.from(offsets) } };
}

/** The records an index found: all of them, or those before the damage. */
export function indexedBlock(idx: BlockIndex): RecordBlock {
  return idx.ok ? idx.value : idx.block;
}

/** Collects encoded records into blocks of about `blockBytes`. */
export class BlockBuilder {
  private buf: Uint8Array;
  private used = 0;
  private offsets: number[] = [];
  private readonly done: RecordBlock[] = [];
  private total = 0;

  constructor(private readonly blockBytes = 1 << 20) {
    this.buf = new Uint8Array(blockBytes);
  }

  get count(): number {
    return this.total;
  }

  /** Appends one encoded record (its bytes are copied). */
  append(record: Uint8Array): void {
    this.reserve(record.length);
    this.buf.set(record, this.used);
    this.push(record.length);
  }

  appendRecord(r: TraceRecord): void {
    const n = RECORD_HEADER_SIZE + r.data.length;
    this.reserve(n);
    writeRecord(this.buf, this.used, r);
    this.push(n);
  }

  /** The blocks built so far, including the partly filled one. */
  blocks(): RecordBlock[] {
    this.seal();
    return [...this.done];
  }

  private push(n: number): void {
    this.offsets.push(this.used);
    this.used += n;
    this.total++;
  }

  private reserve(n: number): void {
    if (this.used + n <= this.buf.length) return;
    this.seal();
    this.buf = new Uint8Array(Math.max(this.blockBytes, n));
  }

  private seal(): void {
    if (this.offsets.length === 0) return;
    this.done.push({ bytes: this.buf.subarray(0, this.used), offsets: Uint32Array.from(this.offsets) });
    this.buf = this.buf.subarray(this.used);
    this.used = 0;
    this.offsets = [];
  }
}

export function blockCount(blocks: Iterable<RecordBlock>): number {
  let n = 0;
  for (const b of blocks) n += b.offsets.length;
  return n;
}

/**
 * Calls `fn` with one reused view per record. `fn` returning false stops the walk; the result
 * says whether the walk ran to the end.
 */
export function forEachRecord(blocks: Iterable<RecordBlock>, fn: (view: RecordView) => boolean | void): boolean {
  const view = new RecordView(new Uint8Array(0));
  for (const b of blocks) {
    const offs = b.offsets;
    for (let i = 0; i < offs.length; i++) {
      if (fn(view.at(b.bytes, offs[i]!)) === false) return false;
    }
  }
  return true;
}

/** Every record as a plain value (tests, small captures). */
export function toRecords(blocks: Iterable<RecordBlock>): TraceRecord[] {
  const out: TraceRecord[] = [];
  forEachRecord(blocks, (v) => {
    out.push(v.toRecord());
  });
  return out;
}

export function fromRecords(records: Iterable<TraceRecord>): RecordBlock[] {
  const b = new BlockBuilder();
  for (const r of records) b.appendRecord(r);
  return b.blocks();
}
