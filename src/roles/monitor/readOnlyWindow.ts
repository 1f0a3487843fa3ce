/**
 * A window a passive monitor reads through: loads and reads pass, every write or store is
 * refused (a RangeError, as for any access the caller must not make), so no code path of the
 * monitor can touch the board's memory even where the mapping itself is writable (an ivshmem
 * peer's shared-memory fd).
 */
import type { AccessWidth, MemoryWindow } from '../../bus/window';

export class ReadOnlyWindow implements MemoryWindow {
  constructor(
    private readonly inner: MemoryWindow,
    /** Named in the refusal, e.g. "the bus area of sim-versal". */
    private readonly what: string,
  ) {}
  get size(): number {
    return this.inner.size;
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.inner.read(offset, length);
  }
  load(offset: number, width: AccessWidth): Promise<number> {
    return this.inner.load(offset, width);
  }
  fence(): Promise<void> {
    return this.inner.fence();
  }
  write(offset: number): Promise<void> {
    throw new RangeError(`${this.what} is watched read-only; a write at ${offset} was refused`);
  }
  store(offset: number): Promise<void> {
    throw new RangeError(`${this.what} is watched read-only; a store at ${offset} was refused`);
  }
}
