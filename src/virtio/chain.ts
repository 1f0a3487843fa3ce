import type { MemoryWindow } from '../bus/window';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_SIZE, type Descriptor, type Translate } from './layout';
import { ringProblem, type RingProblem } from './problem';
import type { Result } from '../util/result';
import { hexNum } from '../util/hex';

/** A buffer as a range of the data window. */
export interface Segment {
  offset: number;
  length: number;
}

/** A descriptor chain as the device sees it, with every address translated. */
export interface Chain {
  head: number;
  /** Descriptor indices in chain order. */
  indices: number[];
  readable: Segment[];
  writable: Segment[];
}

/**
 * Follows the NEXT links from `head`, checking everything the driver wrote: indices < size, no
 * descriptor visited twice, readable before writable, no INDIRECT, each buffer translatable.
 * `headField` is the data-window offset of the avail ring entry that named `head`.
 * Shared by the device side (popAvail) and the read-only inspector.
 */
export async function walkChain(
  head: number,
  size: number,
  descTable: number,
  headField: number,
  readDesc: (index: number) => Descriptor | Promise<Descriptor>,
  translate: Translate,
): Promise<Result<Chain, RingProblem>> {
  if (head >= size) {
    return { ok: false, error: ringProblem('desc-index', headField, 'avail ring entry', `a descriptor index < ${size}`, `${head}`) };
  }
  const visited = new Uint8Array(size);
  const chain: Chain = { head, indices: [], readable: [], writable: [] };
  for (let i = head; ; ) {
    visited[i] = 1;
    chain.indices.push(i);
    const at = descTable + VIRTQ_DESC_SIZE * i;
    const d = await readDesc(i);
    if (d.flags & VIRTQ_DESC_F_INDIRECT) {
      return { ok: false, error: ringProblem('desc-indirect', at + 12, `desc[${i}].flags`, 'no INDIRECT (VIRTIO_F_INDIRECT_DESC not negotiated)', `flags 0x${d.flags.toString(16)}`) };
    }
    const writable = (d.flags & VIRTQ_DESC_F_WRITE) !== 0;
    if (!writable && chain.writable.length > 0) {
      return { ok: false, error: ringProblem('desc-order', at + 12, `desc[${i}].flags`, 'device-readable descriptors before device-writable ones', 'a readable descriptor after a writable one') };
    }
    const offset = translate(d.addr, d.len);
    if (offset === null) {
      return { ok: false, error: ringProblem('desc-address', at, `desc[${i}].addr`, 'a buffer inside the data window', `${hexNum(d.addr)} + ${d.len} bytes`) };
    }
    (writable ? chain.writable : chain.readable).push({ offset, length: d.len });
    if (!(d.flags & VIRTQ_DESC_F_NEXT)) return { ok: true, value: chain };
    if (d.next >= size) {
      return { ok: false, error: ringProblem('desc-index', at + 14, `desc[${i}].next`, `a descriptor index < ${size}`, `${d.next}`) };
    }
    if (visited[d.next]) {
      return { ok: false, error: ringProblem('desc-loop', at + 14, `desc[${i}].next`, 'a descriptor not yet in this chain', `${d.next} (loop: ${chain.indices.join('→')}→${d.next})`) };
    }
    i = d.next;
  }
}

export function totalLength(segments: readonly Segment[]): number {
  return segments.reduce((n, s) => n + s.length, 0);
}

/** Reads the segments and returns their bytes concatenated. */
export async function gather(window: MemoryWindow, segments: readonly Segment[]): Promise<Uint8Array<ArrayBuffer>> {
  const out = new Uint8Array(totalLength(segments));
  let at = 0;
  for (const s of segments) {
    if (s.length > 0) out.set(await window.read(s.offset, s.length), at);
    at += s.length;
  }
  return out;
}

/**
 * Writes `bytes` into the segments seen as one run, starting `position` bytes into that run;
 * what does not fit is dropped. Returns the number of bytes written.
 */
export async function scatter(window: MemoryWindow, segments: readonly Segment[], bytes: Uint8Array, position = 0): Promise<number> {
  let skip = position;
  let from = 0;
  for (const s of segments) {
    if (from >= bytes.length) break;
    if (skip >= s.length) {
      skip -= s.length;
      continue;
    }
    const n = Math.min(s.length - skip, bytes.length - from);
    await window.write(s.offset + skip, bytes.subarray(from, from + n));
    from += n;
    skip = 0;
  }
  return from;
}
