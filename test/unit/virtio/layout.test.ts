import { describe, expect, it } from 'vitest';
import { DataAllocator } from '../../../src/virtio/alloc';
import {
  decodeDescriptor,
  descFlagNames,
  encodeDescriptor,
  isValidQueueSize,
  splitRingLayout,
  vringNeedEvent,
  windowTranslator,
} from '../../../src/virtio/layout';
import { toHex } from '../../../src/util/hex';

describe('splitRingLayout', () => {
  it('places size 8 rings byte-exact: the used ring after the whole 6 + 2N driver area', () => {
    expect(splitRingLayout(8)).toEqual({
      size: 8,
      descOffset: 0,
      descBytes: 128,
      availOffset: 128,
      availBytes: 22,
      usedOffset: 152,
      usedBytes: 70,
      totalBytes: 222,
      usedEventInAvail: 20,
      availEventInUsed: 68,
    });
  });

  it('places size 256 rings byte-exact', () => {
    const l = splitRingLayout(256);
    expect([l.descBytes, l.availOffset, l.availBytes, l.usedOffset, l.usedBytes, l.totalBytes, l.usedEventInAvail, l.availEventInUsed]).toEqual([
      4096, 4096, 518, 4616, 2054, 6670, 516, 2052,
    ]);
  });

  it('never puts the used ring over used_event, for every queue size (the old avail + 4 + 2N did)', () => {
    for (let size = 1; size <= 32768; size *= 2) {
      const l = splitRingLayout(size);
      const usedEvent = l.availOffset + l.usedEventInAvail;
      expect(l.usedOffset, `size ${size}`).toBeGreaterThanOrEqual(usedEvent + 2);
      expect(l.usedOffset % 4).toBe(0);
      // No wasted space beyond the 4-byte alignment of the used ring.
      expect(l.usedOffset - (usedEvent + 2)).toBeLessThan(4);
    }
  });

  it('rejects sizes that are not powers of two in 1..32768', () => {
    for (const bad of [0, 3, 100, 65536, -8, 1.5]) {
      expect(isValidQueueSize(bad)).toBe(false);
      expect(() => splitRingLayout(bad)).toThrow(RangeError);
    }
    for (const good of [1, 2, 256, 32768]) expect(isValidQueueSize(good)).toBe(true);
  });
});

describe('descriptors', () => {
  it('encodes le64 addr, le32 len, le16 flags, le16 next', () => {
    const d = { addr: 0x1_4000_1000n, len: 0x208, flags: 3, next: 0x102 };
    const bytes = encodeDescriptor(d);
    expect(toHex(bytes)).toBe('00 10 00 40 01 00 00 00 08 02 00 00 03 00 02 01');
    expect(decodeDescriptor(bytes)).toEqual(d);
  });

  it('names flags', () => {
    expect(descFlagNames(1)).toBe('NEXT');
    expect(descFlagNames(3)).toBe('NEXT|WRITE');
    expect(descFlagNames(4)).toBe('INDIRECT');
    expect(descFlagNames(0)).toBe('');
    expect(descFlagNames(0x12)).toBe('WRITE|0x10');
  });
});

describe('vringNeedEvent', () => {
  it('notifies when the index passes the event index, across wraparound', () => {
    expect(vringNeedEvent(0, 1, 0)).toBe(true);
    expect(vringNeedEvent(5, 2, 1)).toBe(false);
    expect(vringNeedEvent(5, 6, 1)).toBe(true);
    expect(vringNeedEvent(0xffff, 0x0001, 0xfffe)).toBe(true);
    expect(vringNeedEvent(0x0002, 0x0001, 0xfffe)).toBe(false);
  });
});

describe('windowTranslator', () => {
  it('maps peer addresses inside the window and refuses the rest', () => {
    const t = windowTranslator(0x4000_0000n, 0x1000);
    expect(t(0x4000_0000n, 16)).toBe(0);
    expect(t(0x4000_0ff0n, 16)).toBe(0xff0);
    expect(t(0x4000_0ff1n, 16)).toBeNull();
    expect(t(0x3fff_ffffn, 1)).toBeNull();
    expect(t(0x4000_1000n, 0)).toBe(0x1000);
  });
});

describe('DataAllocator', () => {
  it('allocates aligned blocks and coalesces on free', () => {
    const a = new DataAllocator(0x100, 0x100);
    const x = a.alloc(10, 16);
    const y = a.alloc(20, 64);
    expect(x).toEqual({ ok: true, value: 0x100 });
    expect(y).toEqual({ ok: true, value: 0x140 });
    expect(a.freeBytes).toBe(0x100 - 10 - 20);
    a.free(0x100);
    a.free(0x140);
    expect(a.freeBytes).toBe(0x100);
    expect(a.largestFree).toBe(0x100);
    expect(a.allocatedBlocks).toBe(0);
    expect(a.alloc(0x100, 256)).toEqual({ ok: true, value: 0x100 });
  });

  it('reports out of memory as a value', () => {
    const a = new DataAllocator(0, 64);
    expect(a.alloc(48).ok).toBe(true);
    const r = a.alloc(32);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/data memory full: no 32 free bytes aligned to 8 .*16 bytes free/);
  });

  it('fills gaps first-fit and keeps the alignment padding free', () => {
    const a = new DataAllocator(0, 256);
    const one = a.alloc(1, 1);
    const big = a.alloc(16, 64);
    expect(one).toEqual({ ok: true, value: 0 });
    expect(big).toEqual({ ok: true, value: 64 });
    expect(a.alloc(8, 8)).toEqual({ ok: true, value: 8 });
  });

  it('treats freeing an unknown block as a programmer error', () => {
    const a = new DataAllocator(0, 64);
    expect(() => a.free(8)).toThrow(RangeError);
    const r = a.alloc(8);
    if (!r.ok) throw new Error(r.error);
    a.free(r.value);
    expect(() => a.free(r.value)).toThrow(/no block allocated/);
  });
});
