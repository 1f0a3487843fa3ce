/**
 * A read-only watch over a board's rings, for the passive bus monitor: it follows each
 * direction's producer index and copies every newly published slot out before the producer
 * can reuse it, writing nothing and ringing nobody (docs/amp-bus.md §4.6). Implemented over any
 * MemoryWindow (polling from JavaScript), by the native addon's own thread for mapped memory,
 * and by the serial bridge agent on the board.
 */
import type { IndexCell, SlotArray } from './formats/ring';
import type { QueueProblem } from './queue';
import { queueProblem } from './formats/common';
import { hexNum } from '../util/hex';

/** One direction's ring, as the queue format lays it out. */
export interface TapRing {
  /** Which way its messages travel. */
  direction: 'driver-to-device' | 'device-to-driver';
  /** The producer index the watch follows. */
  producer: IndexCell;
  /** The consumer index, read to tell how far the producer may have run past an uncopied slot. */
  consumer: IndexCell;
  slots: SlotArray;
  /** Applied to raw index values (OpenAMP handles indices as u8). */
  indexMask: number;
}

/** Slots copied in one go from one ring, in publication order. */
export interface TapBatch {
  /** Position of the ring in the array given to `start`. */
  ring: number;
  /** Producer index value of the first slot copied. */
  first: number;
  count: number;
  /** `count` × slotSize bytes, whole slots. */
  slots: Uint8Array;
  /** Messages published before `first` that were overwritten before they could be copied. */
  lost: number;
  /** Host monotonic time (the clock of process.hrtime.bigint()) when the index move was seen. */
  seenNs: bigint;
  /**
   * When the ring was looked at before (same clock): the messages of this batch, and those
   * `lost`, were published between the two looks. Absent: the previous batch's seenNs is taken.
   */
  previousLookNs?: bigint;
  /**
   * The longest time around this batch that the ring's producer index went unread (same clock):
   * from before one read of it to after the next, covering the reads that found this batch's
   * messages and checked their copy. Indices wrap at N, so a producer that published N or more
   * messages in that time could not be seen doing so. Absent where the tap cannot time it.
   */
  unread?: { fromNs: bigint; toNs: bigint };
}

export interface RingTap {
  /** Starts following the rings from their current producer indices; batches arrive in order per ring. */
  start(rings: readonly TapRing[], onBatch: (batch: TapBatch) => void, onProblem: (problem: QueueProblem) => void): void;
  /** Stops and delivers every batch already copied before resolving. */
  stop(): Promise<void>;
}

/** A tap's words for a producer index outside 0..N−1 (reported once per value; nothing is copied until it is back in range). */
export function tapIndexProblem(ring: TapRing, raw: number): QueueProblem {
  const at = ring.producer.offset;
  const n = ring.slots.slots;
  return queueProblem(
    'peer-index',
    at,
    `${ring.direction} producer index ${raw} at ${hexNum(at, 4)} is outside 0..${n - 1} (N = ${n}); its slots are not read until it is back in range`,
  );
}
