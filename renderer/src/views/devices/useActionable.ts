/**
 * Whether the Devices and Queues views may act on the devices (reset, workloads, loads, the
 * console), and if not, why, in words: a control that cannot work is disabled and says so
 * instead of failing with an engine error after the click.
 */
import { useEffect, useState } from 'react';

import type { SessionStateJson } from '../../../../src/api/workbench';
import type { EngineApi, WorkbenchApi } from '../../engine/api';

/**
 * What the session plays and where its state comes from (session.state's role and source; a
 * state without them is a driver on a board).
 */
export function modeOf(state: SessionStateJson): { role: unknown; source: unknown } {
  const { role, source } = state as SessionStateJson & { role?: unknown; source?: unknown };
  return { role: role ?? 'driver', source: source ?? 'board' };
}

/**
 * Why nothing can be run on the devices of `state`, or null when it can. `lost`: why the session
 * was lost, if it was. The same reasons, in the same words and order, as the shell gives for the
 * palette's resets and workloads (App.tsx).
 */
export function actionBlocker(state: SessionStateJson, controlling: boolean, lost: string | null): string | null {
  const { role, source } = modeOf(state);
  if (!controlling) return 'This window only views the session: take control in the header first.';
  if (!state.connected) {
    if (source === 'capture') return 'An opened capture is read-only: connect a board for a live session.';
    return lost !== null ? `The session is over: ${lost}` : 'No board is connected: connect one first.';
  }
  if (role === 'monitor') return 'A monitor session only watches the bus: it sends nothing.';
  if (role === 'device') return 'The workbench plays the device side here: the driver resets and runs workloads.';
  return null;
}

/** Web mode: whether this page controls the session (the desktop app and tests always do). */
function useControlling(api: WorkbenchApi): boolean {
  const engine = api as Partial<EngineApi>;
  const [controlling, setControlling] = useState(() => engine.controlling?.() ?? true);
  useEffect(() => api.onEvent((e) => e.event === 'control.changed' && setControlling(e.data.controller)), [api]);
  return controlling;
}

/** Why the session's devices cannot be acted on now (null: they can), kept current from events. */
export function useActionBlocker(api: WorkbenchApi, state: SessionStateJson | null): string | null {
  const controlling = useControlling(api);
  const [lost, setLost] = useState<string | null>(null);
  useEffect(
    () =>
      api.onEvent((e) => {
        if (e.event === 'session.closed') setLost(e.data.lost ? e.data.reason : null);
        else if (e.event === 'trace.reset') setLost(null);
      }),
    [api],
  );
  return state ? actionBlocker(state, controlling, lost) : null;
}
