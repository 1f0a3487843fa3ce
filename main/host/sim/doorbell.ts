/**
 * Doorbells between two threads: a counter per direction in a SharedArrayBuffer. Ringing adds
 * one and wakes the waiter; the receiver compares with the last value it saw, so rings that
 * arrive while it is busy coalesce into one "look at the queue" (docs/amp-bus.md §2.1).
 */
import type { DoorbellIn, DoorbellOut } from '../../../src/bus/link';

export const DOORBELL_TO_DEVICE = 0;
export const DOORBELL_TO_DRIVER = 1;
/** Set to 1 to stop the simulated board's loop. */
export const SIM_STOP = 2;
export const DOORBELL_WORDS = 4;

export class CounterDoorbellOut implements DoorbellOut {
  constructor(
    private readonly words: Int32Array,
    private readonly index: number,
  ) {}
  ring(): Promise<void> {
    Atomics.add(this.words, this.index, 1);
    Atomics.notify(this.words, this.index);
    return Promise.resolve();
  }
}

/**
 * Event-loop side of a counter doorbell: waits with Atomics.waitAsync, so the thread stays free.
 * Its wake-up latency has a long tail (p99 ≈ 13 ms measured here), which is why the bus endpoint
 * also spins briefly after each request instead of relying on this alone.
 */
export class CounterDoorbellIn implements DoorbellIn {
  readonly mode = 'interrupt' as const;
  private readonly listeners = new Set<() => void>();
  private running = false;
  private closed = false;

  constructor(
    private readonly words: Int32Array,
    private readonly index: number,
  ) {}

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    if (!this.running) void this.loop();
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
  }

  private async loop(): Promise<void> {
    this.running = true;
    let seen = Atomics.load(this.words, this.index);
    while (!this.closed && this.listeners.size > 0) {
      const w = Atomics.waitAsync(this.words, this.index, seen, 1000);
      if (w.async) await w.value;
      const now = Atomics.load(this.words, this.index);
      if (now !== seen) {
        seen = now;
        for (const l of this.listeners) l();
      }
    }
    this.running = false;
  }
}

/**
 * Thread-blocking side for a worker that has nothing else to do: spin for a while (a futex
 * wake-up on these machines can take milliseconds), then sleep in Atomics.wait, bounded so
 * timers and messages of the worker still run.
 */
export class BlockingDoorbellIn implements DoorbellIn {
  readonly mode = 'interrupt' as const;
  private readonly listeners = new Set<() => void>();
  private seen: number;

  constructor(
    private readonly words: Int32Array,
    private readonly index: number,
  ) {
    this.seen = Atomics.load(words, index);
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Waits for a ring: spins up to `spinNs`, then sleeps up to `maxWaitMs`. Calls the listeners if one came. */
  waitOnce(spinNs: bigint, maxWaitMs: number): boolean {
    let now = Atomics.load(this.words, this.index);
    if (now === this.seen && spinNs > 0n) {
      const until = process.hrtime.bigint() + spinNs;
      do {
        for (let i = 0; i < 1000 && now === this.seen; i++) now = Atomics.load(this.words, this.index);
      } while (now === this.seen && process.hrtime.bigint() < until);
    }
    if (now === this.seen) {
      Atomics.wait(this.words, this.index, this.seen, maxWaitMs);
      now = Atomics.load(this.words, this.index);
    }
    if (now === this.seen) return false;
    this.seen = now;
    for (const l of this.listeners) l();
    return true;
  }
}
