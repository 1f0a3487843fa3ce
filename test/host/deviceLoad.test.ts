/**
 * DeviceLoad on a scripted clock: every operation counted, latency over exactly the latest
 * LOAD_WINDOW successes in order (the ring wraps), the first distinct failures only, and a load
 * that stops when asked or when the session ends.
 */
import { describe, expect, it } from 'vitest';

import { summarize } from '../../main/host/exercise';
import { DeviceLoad, LOAD_RECENT, LOAD_WINDOW } from '../../main/host/service/load';
import type { LoadProgress } from '../../src/api/workbench';

/** A clock each operation advances by its scripted latency (µs). */
function rig(latencyUs: (i: number) => number, fail: (i: number) => string | null = () => null) {
  let now = 0n;
  let i = 0;
  const reports: LoadProgress[] = [];
  const traced: string[] = [];
  let ended: string | null = null;
  const options = {
    devNum: 3,
    kind: 'rng-read' as const,
    operation: async () => {
      const k = i++;
      now += BigInt(Math.round(latencyUs(k) * 1000));
      return fail(k);
    },
    monoNs: () => now,
    ended: () => ended,
    onProgress: (p: LoadProgress) => reports.push(p),
    onFirstError: (t: string) => traced.push(t),
  };
  return { options, reports, traced, end: (why: string) => (ended = why), ops: () => i };
}

describe('DeviceLoad', () => {
  it('runs count operations and summarizes exactly the latest LOAD_WINDOW latencies, in order', async () => {
    const count = LOAD_WINDOW + 321;
    // Latencies 1..count µs: the window holds the last LOAD_WINDOW of them.
    const r = rig((k) => k + 1);
    const end = await new DeviceLoad({ ...r.options, count }).finished;
    const window = Array.from({ length: LOAD_WINDOW }, (_, k) => count - LOAD_WINDOW + k + 1);
    expect(end).toMatchObject({ devNum: 3, kind: 'rng-read', count, done: count, failed: 0, running: false, stopped: null, errors: [] });
    expect(end.latencyUs).toEqual({ samples: LOAD_WINDOW, last: count, ...summarize(window) });
    expect(end.recentUs).toEqual(window.slice(-LOAD_RECENT));
    // Reports every 250 ms of the load's clock while it ran, and the last one is the end.
    expect(r.reports.at(-1)).toEqual(end);
    expect(r.reports.filter((p) => p.running).length).toBeGreaterThan(100);
    expect(end.elapsedMs).toBeCloseTo((count * (count + 1)) / 2 / 1000, 0);
  });

  it('counts failures but says each distinct one once (the first also in the trace), at most five', async () => {
    const r = rig(
      () => 10,
      (k) => (k % 2 === 0 ? `NACK from 0x${(0x50 + (k % 14)).toString(16)}` : null),
    );
    const end = await new DeviceLoad({ ...r.options, count: 40 }).finished;
    expect(end).toMatchObject({ done: 40, failed: 20 });
    expect(end.latencyUs!.samples).toBe(20);
    expect(end.errors).toEqual(['operation 0: NACK from 0x50', 'operation 2: NACK from 0x52', 'operation 4: NACK from 0x54', 'operation 6: NACK from 0x56', 'operation 8: NACK from 0x58']);
    expect(r.traced).toEqual(['operation 0: NACK from 0x50']);
  });

  it('runs until stopped, or until the session ends', async () => {
    const r = rig(() => 5);
    const load = new DeviceLoad({ ...r.options, count: null });
    while (r.ops() < 50) await new Promise((res) => setImmediate(res));
    const end = await load.stop('stopped by the user');
    expect(end).toMatchObject({ count: null, running: false, stopped: 'stopped by the user', failed: 0 });
    expect(end.done).toBe(r.ops());
    expect(load.isRunning).toBe(false);

    const s = rig(() => 5, () => 'link down');
    const cut = new DeviceLoad({ ...s.options, count: null });
    while (s.ops() < 3) await new Promise((res) => setImmediate(res));
    s.end('the link closed');
    const over = await cut.finished;
    expect(over.stopped).toBe('the session ended: the link closed');
    // Failures after the end are the end's, not reported one by one.
    expect(over.errors).toEqual(['operation 0: link down']);
  });
});
