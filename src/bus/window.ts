/**
 * A byte-addressed region of board memory, seen from one side of the bus.
 *
 * Every access is asynchronous so that a slow, bridged window (serial debug bridge, round trips
 * of milliseconds) implements the same interface as a local one; local windows resolve at once.
 * Callers batch: one `read` of a contiguous range instead of many small loads.
 *
 * `load`/`store` are single aligned accesses of the given width with acquire/release meaning
 * (docs/amp-bus.md §4.5): a store is visible to the peer only after every earlier write, and data read
 * after a load is at least as new as the loaded value. Offsets are relative to the window.
 * An out-of-range or misaligned access is a programmer error (RangeError): callers validate
 * peer-provided offsets before they touch memory.
 */
export interface MemoryWindow {
  readonly size: number;
  /** Copy-out of [offset, offset + length). */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Copy-in of `data` at offset. */
  write(offset: number, data: Uint8Array): Promise<void>;
  load(offset: number, width: AccessWidth): Promise<number>;
  store(offset: number, width: AccessWidth, value: number): Promise<void>;
  /** Full barrier: all earlier accesses complete before any later one. */
  fence(): Promise<void>;
}

export type AccessWidth = 8 | 16 | 32;

export function checkRange(window: { readonly size: number }, offset: number, length: number): void {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > window.size) {
    throw new RangeError(`access [${offset}, ${offset + length}) outside window of ${window.size} bytes`);
  }
}

export function checkAligned(offset: number, width: AccessWidth): void {
  if (offset % (width / 8) !== 0) throw new RangeError(`${width}-bit access at unaligned offset ${offset}`);
}

/** Whether this host stores integers little-endian, as every field in shared memory is. */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * A window over bytes this process can address directly: a SharedArrayBuffer shared with a
 * worker thread (the simulated board), or an ordinary ArrayBuffer in tests. Loads and stores go
 * through Atomics, which are sequentially consistent and hence at least acquire/release — and
 * use the host's byte order, so a big-endian host is refused (docs/amp-bus.md §4.5 rule 5).
 */
export class BytesWindow implements MemoryWindow {
  readonly size: number;
  private readonly u8: Uint8Array;
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;

  constructor(buffer: ArrayBufferLike, byteOffset = 0, size = buffer.byteLength - byteOffset) {
    if (!HOST_IS_LITTLE_ENDIAN) throw new Error('this host is big-endian: shared-memory indices are little-endian and Atomics use host order');
    if (byteOffset % 4 !== 0) throw new RangeError('BytesWindow must start 4-byte aligned');
    this.size = size;
    this.u8 = new Uint8Array(buffer, byteOffset, size);
    this.u16 = new Uint16Array(buffer, byteOffset, size >>> 1);
    this.u32 = new Uint32Array(buffer, byteOffset, size >>> 2);
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    return Promise.resolve(this.readSync(offset, length));
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    this.writeSync(offset, data);
    return Promise.resolve();
  }
  load(offset: number, width: AccessWidth): Promise<number> {
    return Promise.resolve(this.loadSync(offset, width));
  }
  store(offset: number, width: AccessWidth, value: number): Promise<void> {
    this.storeSync(offset, width, value);
    return Promise.resolve();
  }
  fence(): Promise<void> {
    // Atomics on this buffer are already sequentially consistent; a dummy RMW orders plain copies.
    if (this.u32.length > 0) Atomics.add(this.u32, 0, 0);
    return Promise.resolve();
  }

  // Synchronous forms for code that owns a local window (benchmarks, inspectors, tests).
  readSync(offset: number, length: number): Uint8Array {
    checkRange(this, offset, length);
    return this.u8.slice(offset, offset + length);
  }
  writeSync(offset: number, data: Uint8Array): void {
    checkRange(this, offset, data.length);
    this.u8.set(data, offset);
  }
  loadSync(offset: number, width: AccessWidth): number {
    checkRange(this, offset, width / 8);
    checkAligned(offset, width);
    if (width === 8) return Atomics.load(this.u8, offset);
    if (width === 16) return Atomics.load(this.u16, offset >>> 1);
    return Atomics.load(this.u32, offset >>> 2);
  }
  storeSync(offset: number, width: AccessWidth, value: number): void {
    checkRange(this, offset, width / 8);
    checkAligned(offset, width);
    if (width === 8) Atomics.store(this.u8, offset, value);
    else if (width === 16) Atomics.store(this.u16, offset >>> 1, value);
    else Atomics.store(this.u32, offset >>> 2, value);
  }
}

/** The part [offset, offset + size) of another window, addressed from 0. */
export class SubWindow implements MemoryWindow {
  constructor(
    private readonly parent: MemoryWindow,
    private readonly base: number,
    readonly size: number,
  ) {
    checkRange(parent, base, size);
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    return this.parent.read(this.base + offset, length);
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    checkRange(this, offset, data.length);
    return this.parent.write(this.base + offset, data);
  }
  load(offset: number, width: AccessWidth): Promise<number> {
    checkRange(this, offset, width / 8);
    return this.parent.load(this.base + offset, width);
  }
  store(offset: number, width: AccessWidth, value: number): Promise<void> {
    checkRange(this, offset, width / 8);
    return this.parent.store(this.base + offset, width, value);
  }
  fence(): Promise<void> {
    return this.parent.fence();
  }
}
