/**
 * A MemoryWindow over (part of) a native mapping: every access is one call into the addon,
 * which copies in or out or does a single aligned access (amp-bus.md §4.5: loads acquire,
 * stores release), so mapped board memory never becomes a JS ArrayBuffer (stack.md §8).
 */
import { checkRange, HOST_IS_LITTLE_ENDIAN, type AccessWidth, type MemoryWindow } from '../../../src/bus/window';
import type { NativeMapping } from '../../native/index';

export class NativeWindow implements MemoryWindow {
  constructor(
    private readonly mapping: NativeMapping,
    private readonly base = 0,
    readonly size = mapping.size - base,
  ) {
    // The addon's loads and stores use host order; shared-memory fields are little-endian.
    if (!HOST_IS_LITTLE_ENDIAN) throw new Error('this host is big-endian: shared-memory indices are little-endian and native accesses use host order');
    checkRange(mapping, base, size);
    if (base % 8 !== 0) throw new RangeError(`NativeWindow must start 8-byte aligned in its mapping, saw offset ${base}`);
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    const out = new Uint8Array(length);
    this.mapping.readInto(this.base + offset, out);
    return Promise.resolve(out);
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    checkRange(this, offset, data.length);
    this.mapping.write(this.base + offset, data);
    return Promise.resolve();
  }
  load(offset: number, width: AccessWidth): Promise<number> {
    checkRange(this, offset, width / 8);
    return Promise.resolve(this.mapping.load(this.base + offset, width) as number);
  }
  store(offset: number, width: AccessWidth, value: number): Promise<void> {
    checkRange(this, offset, width / 8);
    this.mapping.store(this.base + offset, width, value);
    return Promise.resolve();
  }
  fence(): Promise<void> {
    this.mapping.fence();
    return Promise.resolve();
  }
}
