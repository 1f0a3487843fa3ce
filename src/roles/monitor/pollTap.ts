/**
 * The RingTap over any MemoryWindow, polling from JavaScript (docs/amp-bus.md §4.5, §4.6): for links
 * the native watcher cannot map (a serial-bridged window, a simulated board's buffer) and as the
 * reference the native tap is tested against.
 *
 * Each poll takes the producer indices as one consistent cut (see cut) and delivers the
 * driver→device batch first. A batch's slots are copied after the producer index that published them (acquire);
 * then the producer index is loaded again: every slot the producer may have reached again since
 * (including the one it may be writing now) is not trusted and counted as lost instead of being
 * delivered torn or as a later message. Overlapping slots (the OpenAMP stride quirk) are held
 * to a stricter rule, see copyOverlapping. Loss beyond one lap between two polls is not visible
 * in indices that wrap at N, so the poll interval must stay below the time the producer needs to
 * publish N − 1 messages.
 */
import { tapIndexProblem, type TapBatch, type RingTap, type TapRing } from '../../bus/tap';
import type { QueueProblem } from '../../bus/queue';
import type { MemoryWindow } from '../../bus/window';
import type { Runtime } from '../../util/runtime';

export interface PollingTapOptions {
  runtime: Runtime;
  /** Time between polls while the rings are idle. */
  pollMs: number;
  /**
   * Yields to the event loop and resolves as soon as it may run again (Node: setImmediate):
   * for `hotMs` after a poll that copied something the next one follows at once, so traffic is
   * followed at the speed the tap can copy instead of one look per pollMs (a ring of 4 slots
   * laps in 4 messages). Without it, pollMs always.
   */
  yieldNow?: () => Promise<void>;
  /** How long after the last message the tap keeps looking without pause (default 50 ms). */
  hotMs?: number;
}

interface Follow {
  ring: TapRing;
  index: number;
  /** Producer index value up to which slots were delivered or counted lost. */
  next: number;
  /** Last out-of-range index reported, so a stuck one is said once. */
  reportedBad: number | null;
  /** When the look that last loaded the producer index began. */
  lookedNs: bigint;
  /** The longest time the index went unread since the last batch (TapBatch.unread). */
  unread: NonNullable<TapBatch['unread']> | null;
}

type Unread = NonNullable<TapBatch['unread']>;
const longer = (a: Unread | null, b: Unread): Unread => (a && a.toNs - a.fromNs >= b.toNs - b.fromNs ? a : b);

const dist = (from: number, to: number, n: number): number => (to - from + n) % n;

export class PollingTap implements RingTap {
  private follows: Follow[] = [];
  private running = false;
  private loop: Promise<void> | null = null;
  private cancelTimer: (() => void) | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly window: MemoryWindow,
    private readonly opts: PollingTapOptions,
  ) {}

  start(rings: readonly TapRing[], onBatch: (batch: TapBatch) => void, onProblem: (problem: QueueProblem) => void): void {
    if (this.running) throw new Error('PollingTap.start called twice without stop');
    this.running = true;
    this.follows = rings.map((ring, index) => ({ ring, index, next: -1, reportedBad: null, lookedNs: this.opts.runtime.monoNs(), unread: null }));
    this.loop = this.run(onBatch, onProblem);
  }

  async stop(): Promise<void> {
    if (!this.running) return this.loop ?? undefined;
    this.running = false;
    this.cancelTimer?.();
    this.wake?.();
    await this.loop;
  }

  private async run(onBatch: (batch: TapBatch) => void, onProblem: (problem: QueueProblem) => void): Promise<void> {
    // The starting point: what is already published is the past the monitor joined after.
    for (const f of this.follows) f.next = (await this.loadProducer(f, onProblem)) ?? 0;
    // Driver→device delivered first (see the module comment).
    const deliverOrder = [...this.follows].sort((a, b) => (a.ring.direction === b.ring.direction ? a.index - b.index : a.ring.direction === 'driver-to-device' ? -1 : 1));
    const hotNs = BigInt(Math.round((this.opts.hotMs ?? 50) * 1e6));
    let busyNs = -hotNs;
    while (this.running) {
      const seenNs = this.opts.runtime.monoNs();
      const seen = await this.cut(onProblem);
      const cutNs = this.opts.runtime.monoNs();
      const before = new Map(this.follows.map((f) => [f, f.lookedNs]));
      for (const f of this.follows) {
        f.unread = longer(f.unread, { fromNs: f.lookedNs, toNs: cutNs });
        f.lookedNs = seenNs;
      }
      let busy = false;
      for (const f of deliverOrder) {
        const p = seen.get(f)!;
        if (p === null || p === f.next) continue;
        onBatch(this.delivered(f, await this.copy(f, p, seenNs), before.get(f)!, seenNs));
        busy = true;
      }
      if (!this.running) break;
      if (busy) busyNs = seenNs;
      if (this.opts.yieldNow && seenNs - busyNs < hotNs) {
        await this.opts.yieldNow();
        continue;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.cancelTimer = this.opts.runtime.setTimer(this.opts.pollMs, resolve);
      });
    }
    // One last look, so what was published before stop() is delivered.
    const seenNs = this.opts.runtime.monoNs();
    for (const f of deliverOrder) {
      const p = await this.loadProducer(f, onProblem);
      if (p !== null && p !== f.next) onBatch(this.delivered(f, await this.copy(f, p, seenNs), f.lookedNs, f.lookedNs));
    }
  }

  /** A copied batch with its look times; the copy's own index read ends its unread span. */
  private delivered(f: Follow, batch: TapBatch, previousLookNs: bigint, lookNs: bigint): TapBatch {
    const unread = longer(f.unread, { fromNs: lookNs, toNs: this.opts.runtime.monoNs() });
    f.unread = null;
    return { ...batch, previousLookNs, unread };
  }

  /**
   * Every ring's producer index as one consistent cut: the driver→device indices are loaded
   * before and after the device→driver ones, again until they did not move (a few tries), so
   * every response taken has its request taken, and every request taken the response before it
   * on its lane (docs/amp-bus.md §4.6 rule 4) — also when the host paused the monitor between
   * two loads.
   */
  private async cut(onProblem: (problem: QueueProblem) => void): Promise<Map<Follow, number | null>> {
    const down = this.follows.filter((f) => f.ring.direction === 'driver-to-device');
    const up = this.follows.filter((f) => f.ring.direction === 'device-to-driver');
    const load = async (fs: Follow[], into: Map<Follow, number | null>) => {
      for (const f of fs) into.set(f, await this.loadProducer(f, onProblem));
    };
    const seen = new Map<Follow, number | null>();
    await load(down, seen);
    for (let tries = 0; tries < 4; tries++) {
      await load(up, seen);
      const again = new Map<Follow, number | null>();
      await load(down, again);
      if (down.every((f) => again.get(f) === seen.get(f))) break;
      for (const [f, p] of again) seen.set(f, p);
    }
    return seen;
  }

  /** The producer index, or null (reported once) when it is outside 0..N−1. */
  private async loadProducer(f: Follow, onProblem: (problem: QueueProblem) => void): Promise<number | null> {
    const { producer, slots, indexMask } = f.ring;
    const raw = ((await this.window.load(producer.offset, producer.width)) & indexMask) >>> 0;
    if (raw < slots.slots) {
      f.reportedBad = null;
      return raw;
    }
    if (f.reportedBad !== raw) {
      f.reportedBad = raw;
      onProblem(tapIndexProblem(f.ring, raw));
    }
    return null;
  }

  /** Copies the slots from f.next up to p, then drops those the producer may have reached again. */
  private async copy(f: Follow, p: number, seenNs: bigint): Promise<TapBatch> {
    const { offset, slots: n, slotSize, stride } = f.ring.slots;
    const start = f.next;
    const count = dist(start, p, n);
    f.next = p;
    if (stride < slotSize) return this.copyOverlapping(f, p, count, seenNs);
    const out = new Uint8Array(count * slotSize);
    const first = Math.min(count, n - start);
    out.set(await this.window.read(offset + start * stride, first * slotSize), 0);
    if (count > first) out.set(await this.window.read(offset, (count - first) * slotSize), first * slotSize);
    const after = await this.load(f.ring.producer, f.ring.indexMask);
    // Published during the copy: the producer's next lap reaches our first slots after n − count
    // more, and the slot at `after` may be half written (it writes a slot, then publishes it).
    const moved = after < n ? dist(p, after, n) : 0;
    const lost = Math.min(count, Math.max(0, moved + 1 - (n - count)));
    return { ring: f.index, first: (start + lost) % n, count: count - lost, slots: out.subarray(lost * slotSize), lost, seenNs };
  }

  /**
   * Overlapping slots (the OpenAMP stride quirk, docs/amp-bus.md §4.3, one message in flight):
   * every write covers the slots before it, so of the slots published since the last look
   * only the newest can still hold its message, and only while the consumer has not taken it
   * (the producer writes the next slot, unpublished, as soon as the consumer index reaches p).
   */
  private async copyOverlapping(f: Follow, p: number, count: number, seenNs: bigint): Promise<TapBatch> {
    const { offset, slots: n, slotSize, stride } = f.ring.slots;
    const last = (p - 1 + n) % n;
    const slot = await this.window.read(offset + last * stride, slotSize);
    const after = await this.load(f.ring.producer, f.ring.indexMask);
    const consumer = await this.load(f.ring.consumer, f.ring.indexMask);
    const intact = after === p && dist(consumer, p, n) === 1;
    return intact
      ? { ring: f.index, first: last, count: 1, slots: slot, lost: count - 1, seenNs }
      : { ring: f.index, first: p, count: 0, slots: new Uint8Array(0), lost: count, seenNs };
  }

  private async load(cell: TapRing['producer'], mask: number): Promise<number> {
    return ((await this.window.load(cell.offset, cell.width)) & mask) >>> 0;
  }
}
