/**
 * Switching what the workbench shows in one step: the engine holds one session at a time and
 * refuses a second connect or an open while a board is connected, so the page (and the desktop
 * app's menu) ends the current session first (its capture stays on disk), then connects or opens.
 */
import type { WorkbenchError } from './workbench';

type Reply<R> = { ok: true; result: R } | { ok: false; error: WorkbenchError };

export async function afterDisconnect<R>(disconnect: () => Promise<Reply<unknown>>, connected: boolean, next: () => Promise<Reply<R>>): Promise<Reply<R>> {
  if (connected) {
    const d = await disconnect();
    // Already gone (lost meanwhile) is what was wanted.
    if (!d.ok && d.error.code !== 'no-session') return d;
  }
  return next();
}
