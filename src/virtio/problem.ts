/**
 * A fault in virtqueue memory written by the other side: reported as a value, never thrown.
 * `offset` is the byte offset in the data window of the field that is wrong, or -1 when the
 * fault is in the values the driver sent (SET_VQUEUE size/addresses) rather than in memory.
 */
export interface RingProblem {
  code: RingProblemCode;
  offset: number;
  expected: string;
  seen: string;
  /** One sentence: what, where, expected and seen. */
  reason: string;
}

export type RingProblemCode =
  | 'queue-size' // size from SET_VQUEUE not a power of two in 1..32768
  | 'ring-address' // a ring area not translatable into the window, or misaligned
  | 'avail-idx' // avail.idx ran ahead of the device by more than the queue size
  | 'used-idx' // used.idx advanced by more than the chains in flight
  | 'used-id' // used element id out of range or not a chain in flight
  | 'used-len' // used element len larger than the chain's device-writable bytes
  | 'desc-index' // a head or `next` index ≥ queue size
  | 'desc-loop' // a NEXT chain visits a descriptor twice
  | 'desc-in-use' // the avail ring names a head the device still holds (popped, not yet used)
  | 'desc-address' // a buffer address not translatable into the window
  | 'desc-order' // a device-readable descriptor after a device-writable one
  | 'desc-indirect' // INDIRECT descriptor although VIRTIO_F_INDIRECT_DESC is not offered
  | 'queue-retired'; // the driver tore the queue down (device reset or removed) while it was in use

export function ringProblem(code: RingProblemCode, offset: number, what: string, expected: string, seen: string): RingProblem {
  // Offset -1: the problem is in a value (a SET_VQUEUE field), not at a place in memory.
  const where = offset < 0 ? '' : ` at data offset 0x${offset.toString(16)}`;
  return { code, offset, expected, seen, reason: `${what}${where}: expected ${expected}, saw ${seen}` };
}
