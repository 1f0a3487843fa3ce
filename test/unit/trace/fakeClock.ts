import type { Runtime } from '../../../src/util/runtime';

/** A manual clock: time moves only through `advance`, which fires due timers in order. */
export class FakeClock implements Runtime {
  nowNs = 1_000_000_000n;
  wall = 1_700_000_000_000;
  private timers: { at: bigint; fn: () => void; id: number }[] = [];
  private nextId = 0;

  monoNs(): bigint {
    return this.nowNs;
  }
  wallMs(): number {
    return this.wall;
  }
  setTimer(ms: number, fn: () => void): () => void {
    const id = this.nextId++;
    this.timers.push({ at: this.nowNs + BigInt(Math.round(ms * 1e6)), fn, id });
    return () => {
      this.timers = this.timers.filter((t) => t.id !== id);
    };
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimer(ms, resolve));
  }
  advance(ms: number): void {
    const end = this.nowNs + BigInt(Math.round(ms * 1e6));
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => (a.at < b.at ? -1 : 1))[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.nowNs = due.at;
      due.fn();
    }
    this.nowNs = end;
  }
}
