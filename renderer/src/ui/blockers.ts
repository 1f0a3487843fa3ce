/**
 * Why a control cannot work now, in words, or null when it can: a control that cannot work is
 * disabled and says so instead of failing with an engine error after the click. One rule for
 * the shell (header, palette) and the views.
 */
import { useEffect, useState } from 'react';

import type { SessionStateJson } from '../../../src/api/workbench';
import type { EngineApi, WorkbenchApi } from '../engine/api';

export interface BlockerInputs {
  /** Why the workbench cannot be reached, or null when it can. */
  unreachable: string | null;
  /** Web mode: this window controls the session (the desktop app always does). */
  controlling: boolean;
  state: SessionStateJson | null;
  /** Why the session was lost, if it was. */
  lost: string | null;
}

export interface Blockers {
  /** Anything that changes the engine's state (connect, export, open). */
  change: string | null;
  /** Anything that needs a live session (bookmarks). */
  live: string | null;
  /** The driver's requests: resets, workloads, loads, the console. */
  driver: string | null;
}

export function blockers({ unreachable, controlling, state, lost }: BlockerInputs): Blockers {
  const change = unreachable ?? (controlling ? null : 'This window only views the session: take control in the header first.');
  const notLive =
    state?.connected === true
      ? null
      : state?.source === 'capture'
        ? 'An opened capture is read-only: connect a board for a live session.'
        : lost !== null
          ? `The session is over: ${lost}`
          : 'No board is connected: connect one first.';
  const live = change ?? notLive;
  const role = state?.role;
  const driver =
    live ??
    (role === 'monitor'
      ? 'A monitor session only watches the bus: it sends nothing.'
      : role === 'device'
        ? 'The workbench plays the device side here: the driver resets and runs workloads.'
        : null);
  return { change, live, driver };
}

/** Web mode: whether this page controls the session (the desktop app and component tests always do). */
export function useControlling(api: WorkbenchApi): boolean {
  const engine = api as Partial<EngineApi>;
  const [controlling, setControlling] = useState(() => engine.controlling?.() ?? true);
  useEffect(() => {
    const off = api.onEvent((e) => e.event === 'control.changed' && setControlling(e.data.controller));
    // The word may have come between the first render and this subscription.
    setControlling(engine.controlling?.() ?? true);
    return off;
  }, [api, engine]);
  return controlling;
}
