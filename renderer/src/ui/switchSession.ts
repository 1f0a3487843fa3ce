/**
 * Switching what the workbench shows in one step: the engine holds one session at a time and
 * refuses a second connect or an open while a board is connected, so the page ends the current
 * session first (its capture stays on disk), then connects or opens.
 */
import type { WorkbenchApi, WorkbenchError } from '../../../src/api/workbench';

type Reply<R> = { ok: true; result: R } | { ok: false; error: WorkbenchError };

export async function afterDisconnect<R>(api: WorkbenchApi, connected: boolean, next: () => Promise<Reply<R>>): Promise<Reply<R>> {
  if (connected) {
    const d = await api.call('session.disconnect', {});
    // Already gone (lost meanwhile) is what was wanted.
    if (!d.ok && d.error.code !== 'no-session') return d;
  }
  return next();
}
