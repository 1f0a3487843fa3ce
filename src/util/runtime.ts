/**
 * Time and timers, injected so that src/ stays free of Node and DOM globals and tests can run
 * on a fake clock. main/host supplies the real one (main/host/runtime.ts).
 */
export interface Runtime {
  /** Monotonic time in nanoseconds. */
  monoNs(): bigint;
  /** Wall-clock time in milliseconds since the Unix epoch. */
  wallMs(): number;
  /** Calls `fn` once after `ms` milliseconds; the returned function cancels it. */
  setTimer(ms: number, fn: () => void): () => void;
  sleep(ms: number): Promise<void>;
}
