/**
 * The session as the engine reports it (session.state), kept current from events: a device that
 * changes (session.device), a session that ends (session.closed) or starts recording (trace.reset).
 */
import { useCallback, useEffect, useRef, useState } from 'react';

import type { DeviceJson, SessionStateJson, WorkbenchApi, WorkbenchError } from '../../../src/api/workbench';

export interface SessionView {
  /** null until the first session.state answer. */
  state: SessionStateJson | null;
  error: WorkbenchError | null;
  refresh(): Promise<void>;
  /** Replaces the whole state, e.g. with session.connect's result. */
  set(state: SessionStateJson): void;
}

export function withDevice(s: SessionStateJson, d: DeviceJson): SessionStateJson {
  const has = s.devices.some((x) => x.devNum === d.devNum);
  const devices = has ? s.devices.map((x) => (x.devNum === d.devNum ? d : x)) : [...s.devices, d].sort((a, b) => a.devNum - b.devNum);
  return { ...s, devices };
}

export function useSession(api: WorkbenchApi): SessionView {
  const [state, setState] = useState<SessionStateJson | null>(null);
  const [error, setError] = useState<WorkbenchError | null>(null);
  const source = useRef<SessionStateJson['source'] | null>(null);
  source.current = state?.source ?? null;

  const refresh = useCallback(async () => {
    const r = await api.call('session.state', {});
    if (r.ok) {
      setState(r.result);
      setError(null);
    } else setError(r.error);
  }, [api]);

  useEffect(() => {
    void refresh();
    return api.onEvent((e) => {
      if (e.event === 'session.device') {
        setState((s) => (s ? withDevice(s, e.data.device) : s));
        // An opened capture's devices come once its analysis pass has read them: its "reading" notice ends then.
        if (source.current === 'capture') void refresh();
      } else if (e.event === 'session.closed') setState((s) => (s ? { ...s, connected: false } : s));
      else if (e.event === 'trace.reset') void refresh();
    });
  }, [api, refresh]);

  return { state, error, refresh, set: setState };
}
