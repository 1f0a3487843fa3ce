/**
 * Whether the Devices and Queues views may act on the devices (reset, workloads, loads, the
 * console), and if not, why, in words: a control that cannot work is disabled and says so
 * instead of failing with an engine error after the click.
 */
import { useEffect, useState } from 'react';

import type { SessionStateJson } from '../../../../src/api/workbench';
import { blockers, useControlling } from '../../ui/blockers';
import type { WorkbenchApi } from '../../engine/api';

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
  return state ? blockers({ unreachable: null, controlling, state, lost }).driver : null;
}
