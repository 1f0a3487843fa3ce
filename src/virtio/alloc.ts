/**
 * First-fit allocator over a region [base, base + length) of a data window, for vrings and
 * buffers. Offsets are window offsets; the peer sees them at peerBase + offset, so alignment is
 * also alignment in the peer's view when peerBase is aligned at least as strictly.
 * Running out of memory is a value; freeing what was not allocated is a programmer error.
 */

interface Range {
  start: number;
  end: number;
}

import type { Result } from '../util/result';

/** What rings and workloads take memory from. */
export interface BufferAllocator {
  alloc(len: number, align?: number): Result<number>;
  free(offset: number): void;
}

export class DataAllocator implements BufferAllocator {
  /** Free ranges, sorted by start, never adjacent (coalesced). */
  private readonly freeRanges: Range[];
  /** offset → end of the allocated block. */
  private readonly blocks = new Map<number, number>();

  constructor(
    readonly base: number,
    readonly length: number,
  ) {
    if (!Number.isInteger(base) || !Number.isInteger(length) || base < 0 || length < 0) {
      throw new RangeError(`allocator region [${base}, +${length}) is not a non-negative integer range`);
    }
    this.freeRanges = length > 0 ? [{ start: base, end: base + length }] : [];
  }

  /** Allocates `len` bytes (at least 1) at a multiple of `align` (a power of two). */
  alloc(len: number, align = 8): Result<number> {
    if (!Number.isInteger(len) || len < 0) throw new RangeError(`allocation length ${len} is not a non-negative integer`);
    if (!Number.isInteger(align) || align < 1 || (align & (align - 1)) !== 0) throw new RangeError(`alignment ${align} is not a power of two`);
    const need = Math.max(len, 1);
    for (let i = 0; i < this.freeRanges.length; i++) {
      const r = this.freeRanges[i]!;
      const at = Math.ceil(r.start / align) * align;
      if (at + need > r.end) continue;
      const replacement: Range[] = [];
      if (at > r.start) replacement.push({ start: r.start, end: at });
      if (at + need < r.end) replacement.push({ start: at + need, end: r.end });
      this.freeRanges.splice(i, 1, ...replacement);
      this.blocks.set(at, at + need);
      return { ok: true, value: at };
    }
    return {
      ok: false,
      error: `data memory full: no ${need} free bytes aligned to ${align} in [0x${this.base.toString(16)}, 0x${(this.base + this.length).toString(16)}) (${this.freeBytes} bytes free, largest ${this.largestFree})`,
    };
  }

  free(offset: number): void {
    const end = this.blocks.get(offset);
    if (end === undefined) throw new RangeError(`free(0x${offset.toString(16)}): no block allocated there`);
    this.blocks.delete(offset);
    let i = 0;
    while (i < this.freeRanges.length && this.freeRanges[i]!.start < offset) i++;
    const block: Range = { start: offset, end };
    this.freeRanges.splice(i, 0, block);
    const next = this.freeRanges[i + 1];
    if (next && next.start === block.end) {
      block.end = next.end;
      this.freeRanges.splice(i + 1, 1);
    }
    const prev = this.freeRanges[i - 1];
    if (prev && prev.end === block.start) {
      prev.end = block.end;
      this.freeRanges.splice(i, 1);
    }
  }

  get freeBytes(): number {
    return this.freeRanges.reduce((n, r) => n + r.end - r.start, 0);
  }
  get largestFree(): number {
    return this.freeRanges.reduce((n, r) => Math.max(n, r.end - r.start), 0);
  }
  /** Number of blocks currently allocated (tests check workloads free what they take). */
  get allocatedBlocks(): number {
    return this.blocks.size;
  }
}

/**
 * The buffers of one owner (a virtqueue) taken from a shared allocator, so that all of them go
 * back at once when the owner goes away (device reset, removal) — including buffers a timed-out
 * request left with the device. After `releaseAll` it hands out nothing, and freeing what it
 * already released is a no-op (a late workload finishing after the reset).
 */
export class OwnedAllocator implements BufferAllocator {
  private readonly blocks = new Set<number>();
  /** Why the owner went away (e.g. "device 0 was reset"); null while it holds. */
  private released: string | null = null;

  constructor(
    private readonly parent: BufferAllocator,
    /** Named in the error of an allocation after release, e.g. "queue 0 of device 2". */
    private readonly owner: string,
  ) {}

  alloc(len: number, align?: number): Result<number> {
    if (this.released !== null) return { ok: false, error: `${this.owner} was torn down (${this.released}); take a new queue context` };
    const r = this.parent.alloc(len, align);
    if (r.ok) this.blocks.add(r.value);
    return r;
  }

  free(offset: number): void {
    if (this.blocks.delete(offset)) this.parent.free(offset);
    else if (this.released === null) throw new RangeError(`free(0x${offset.toString(16)}): not a block of ${this.owner}`);
  }

  /** Returns every block still held to the shared allocator, `why` the owner went away; returns how many there were. */
  releaseAll(why: string): number {
    const n = this.blocks.size;
    for (const b of this.blocks) this.parent.free(b);
    this.blocks.clear();
    this.released = why;
    return n;
  }
}
