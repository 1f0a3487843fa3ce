import type { Runtime } from '../../src/util/runtime';

/** The real clock and timers of a Node process (or worker thread). */
export const nodeRuntime: Runtime = {
  monoNs: () => process.hrtime.bigint(),
  wallMs: () => Date.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
