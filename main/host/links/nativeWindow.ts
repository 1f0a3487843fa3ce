/**
 * A MemoryWindow over (part of) a native mapping: every access is one call into the addon,
 * which copies in or out or does a single aligned access (docs/amp-bus.md §4.5: loads acquire,
 * stores release), so mapped board memory never becomes a JS ArrayBuffer (docs/stack.md §8).
 */
import { checkRange, HOST_IS_LITTLE_ENDIAN, type AccessWidth, type MemoryWindow } from '../../../src/bus/window';
import { MAPPING_GONE, type NativeMapping } from '../../native/index';

/**
 * The memory behind the mapping went away under the session (a peer truncated the shared file,
 * a device was removed): the addon caught the bus error. Every later access fails the same way.
 */
export class MappingGoneError extends Error {}

/**
 * Where the windows of one link report a gone mapping: pass `onGone` to each NativeWindow of
 * the link; `lost` resolves once, with the first access's words, and is the link's
 * BoardLink.lost (or part of it), so the session ends once with that reason.
 */
export function watchMappings(): { onGone: (error: MappingGoneError) => void; lost: Promise<string> } {
  let onGone!: (error: MappingGoneError) => void;
  const lost = new Promise<string>((resolve) => (onGone = (e) => resolve(e.message)));
  return { onGone, lost };
}

export class NativeWindow implements MemoryWindow {
  constructor(
    private readonly mapping: NativeMapping,
    private readonly base = 0,
    readonly size = mapping.size - base,
    /** Told of every access that found the memory gone (the link reports it as lost). */
    private readonly onGone: (error: MappingGoneError) => void = () => undefined,
  ) {
    // The addon's loads and stores use host order; shared-memory fields are little-endian.
    if (!HOST_IS_LITTLE_ENDIAN) throw new Error('this host is big-endian: shared-memory indices are little-endian and native accesses use host order');
    checkRange(mapping, base, size);
    if (base % 8 !== 0) throw new RangeError(`NativeWindow must start 8-byte aligned in its mapping, saw offset ${base}`);
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    const out = new Uint8Array(length);
    return this.access(() => {
      this.mapping.readInto(this.base + offset, out);
      return out;
    });
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    checkRange(this, offset, data.length);
    return this.access(() => this.mapping.write(this.base + offset, data));
  }
  load(offset: number, width: AccessWidth): Promise<number> {
    checkRange(this, offset, width / 8);
    return this.access(() => this.mapping.load(this.base + offset, width) as number);
  }
  store(offset: number, width: AccessWidth, value: number): Promise<void> {
    checkRange(this, offset, width / 8);
    return this.access(() => this.mapping.store(this.base + offset, width, value));
  }
  fence(): Promise<void> {
    return this.access(() => this.mapping.fence());
  }

  /** A gone mapping is a value (a rejected access), not a throw; anything else is a caller's bug. */
  private access<T>(run: () => T): Promise<T> {
    try {
      return Promise.resolve(run());
    } catch (e) {
      if ((e as { code?: unknown }).code !== MAPPING_GONE) throw e;
      const gone = new MappingGoneError((e as Error).message);
      this.onGone(gone);
      return Promise.reject(gone);
    }
  }
}
