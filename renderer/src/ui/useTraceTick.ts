import { useEffect, useState } from 'react';

import type { WorkbenchApi } from '../../../src/api/workbench';

/**
 * A counter that moves when the trace changes: at once when it is replaced (trace.reset), and
 * at most once per `intervalMs` while it grows. Views put it in their query effects' dependencies
 * so they re-query at a bounded rate, never once per record.
 */
export function useTraceTick(api: WorkbenchApi, intervalMs: number, onReset?: () => void): number {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const off = api.onEvent((e) => {
      if (e.event === 'trace.reset') {
        onReset?.();
        setTick((t) => t + 1);
      } else if (e.event === 'trace.appended' && timer === null) {
        timer = setTimeout(() => {
          timer = null;
          setTick((t) => t + 1);
        }, intervalMs);
      }
    });
    return () => {
      off();
      if (timer !== null) clearTimeout(timer);
    };
  }, [api, intervalMs, onReset]);
  return tick;
}
