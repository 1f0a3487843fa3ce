/**
 * For the status bar: messages per second from trace.appended (the server coalesces those, so
 * this costs one event per ~50 ms at most) and the number of problems from trace.stats, fetched
 * at most every 2 s and only when the trace grew. A new trace (trace.reset) shows its own count at
 * once, and a count asked of the trace before it is dropped.
 */
import { useEffect, useState } from 'react';

import type { WorkbenchApi } from '../../../src/api/workbench';

export interface TraceActivity {
  perSecond: number;
  total: number;
  problems: number;
}

const TICK_MS = 1000;
const STATS_EVERY_TICKS = 2;

export function useTraceActivity(api: WorkbenchApi): TraceActivity {
  const [activity, setActivity] = useState<TraceActivity>({ perSecond: 0, total: 0, problems: 0 });
  useEffect(() => {
    let arrived = 0;
    let total = 0;
    let problems = 0;
    let grew = true;
    let ticks = 0;
    let alive = true;
    // Bumped by each trace.reset: a stats answer about an older trace is not this one's.
    let generation = 0;
    const show = (perSecond: number): void => {
      if (alive) setActivity({ perSecond, total, problems });
    };
    const off = api.onEvent((e) => {
      if (e.event === 'trace.appended') {
        arrived += e.data.count;
        total = e.data.total;
        grew = true;
      } else if (e.event === 'trace.reset') {
        generation++;
        arrived = 0;
        total = e.data.count;
        problems = 0;
        grew = true;
        show(0);
      }
    });
    const tick = async (): Promise<void> => {
      const perSecond = (arrived * 1000) / TICK_MS;
      arrived = 0;
      if (grew && ticks++ % STATS_EVERY_TICKS === 0) {
        grew = false;
        const asked = generation;
        const r = await api.call('trace.stats', {});
        if (r.ok && asked === generation) {
          problems = r.result.problems.reduce((n, p) => n + p.count, 0);
          total = r.result.records;
        }
      }
      show(perSecond);
    };
    const timer = setInterval(() => void tick(), TICK_MS);
    void tick();
    return () => {
      alive = false;
      off();
      clearInterval(timer);
    };
  }, [api]);
  return activity;
}
