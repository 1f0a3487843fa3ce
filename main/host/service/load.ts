/**
 * A device's load: one workload run `count` times back to back, or until stopped (the UI's
 * "repeat" and "continuous"; `exercise --count` for any workload and its params). Latency is per
 * operation over the ones that succeeded, as `exercise` counts it (main/host/exercise.ts), over
 * the last LOAD_WINDOW of them so a load can run for hours; progress goes out a few times a
 * second, and once more when the load ends.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

import type { LoadProgress } from '../../../src/api/workbench';
import type { WorkloadKind } from '../../../src/devices/registry';
import { errorText } from '../../../src/util/errorText';
import { summarize } from '../exercise';

/** Successful operations the latency summary covers (the latest). */
export const LOAD_WINDOW = 10_000;
/** Latest latencies a progress report carries, for a live chart. */
export const LOAD_RECENT = 120;
/** How often progress is reported while the load runs. */
export const LOAD_REPORT_MS = 250;
const MAX_ERRORS = 5;

export interface LoadOptions {
  devNum: number;
  kind: WorkloadKind;
  count: number | null;
  /** One operation: null when it succeeded, else what went wrong. */
  operation: () => Promise<string | null>;
  /** Monotonic nanoseconds (the session's runtime clock). */
  monoNs: () => bigint;
  /** Why no further operation may run (the session ended); null while it may. */
  ended: () => string | null;
  onProgress: (p: LoadProgress) => void;
  /** The first failure, for the trace. */
  onFirstError: (text: string) => void;
}

export class DeviceLoad {
  private done = 0;
  private failed = 0;
  /** Latencies of the last LOAD_WINDOW successful operations, a ring written at `ok % LOAD_WINDOW`. */
  private readonly ring = new Float64Array(LOAD_WINDOW);
  private ok = 0;
  private readonly errors: string[] = [];
  private readonly seen = new Set<string>();
  private stopReason: string | null = null;
  private running = true;
  private readonly started: bigint;
  private lastReport: bigint;
  /** Settles when the loop has left (after the operation in progress). */
  readonly finished: Promise<LoadProgress>;

  constructor(private readonly opts: LoadOptions) {
    this.started = opts.monoNs();
    this.lastReport = this.started;
    this.finished = this.loop();
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Asks the load to stop after the operation in progress; `finished` says where it ended. */
  stop(reason: string): Promise<LoadProgress> {
    this.stopReason ??= reason;
    return this.finished;
  }

  progress(): LoadProgress {
    const o = this.opts;
    const held = Math.min(this.ok, LOAD_WINDOW);
    const samples = this.latest(held);
    const s = held > 0 ? summarize(samples) : null;
    return {
      devNum: o.devNum,
      kind: o.kind,
      count: o.count,
      done: this.done,
      failed: this.failed,
      running: this.running,
      elapsedMs: Number(o.monoNs() - this.started) / 1e6,
      latencyUs: s && { samples: held, last: samples[held - 1]!, ...s },
      recentUs: samples.slice(-LOAD_RECENT),
      errors: [...this.errors],
      stopped: this.running ? null : this.stopReason,
    };
  }

  private async loop(): Promise<LoadProgress> {
    const o = this.opts;
    while (this.stopReason === null && (o.count === null || this.done < o.count)) {
      const ended = o.ended();
      if (ended !== null) {
        this.stopReason = `the session ended: ${ended}`;
        break;
      }
      const t0 = o.monoNs();
      let error: string | null;
      try {
        error = await o.operation();
      } catch (e) {
        error = errorText(e);
      }
      const now = o.monoNs();
      this.done++;
      if (error === null) this.sample(Number(now - t0) / 1000);
      else this.fail(error);
      if (now - this.lastReport >= BigInt(LOAD_REPORT_MS) * 1_000_000n) {
        this.lastReport = now;
        o.onProgress(this.progress());
      }
      // An operation that fails without touching the bus must not starve the engine's other work.
      await nextTurn();
    }
    this.running = false;
    const end = this.progress();
    o.onProgress(end);
    return end;
  }

  private sample(us: number): void {
    this.ring[this.ok % LOAD_WINDOW] = us;
    this.ok++;
  }

  /** The latest `n` latencies, oldest first. */
  private latest(n: number): number[] {
    const out: number[] = [];
    for (let k = this.ok - n; k < this.ok; k++) out.push(this.ring[k % LOAD_WINDOW]!);
    return out;
  }

  private fail(error: string): void {
    this.failed++;
    // An operation cut off by the session's end failed for `stopped`'s reason, said once there.
    if (this.opts.ended() !== null || this.seen.has(error)) return;
    if (this.seen.size === 0) this.opts.onFirstError(`operation ${this.done - 1}: ${error}`);
    this.seen.add(error);
    if (this.errors.length < MAX_ERRORS) this.errors.push(`operation ${this.done - 1}: ${error}`);
  }
}
