/**
 * Recent boards and captures: what the app remembers from the requests it relayed, for the File
 * and Board menus. Pure functions over DesktopSettings; main/app saves what they return.
 */
import { DEFAULT_BOARD } from '../../../src/boards/builtin';
import type { WorkbenchReply } from '../../../src/api/rpc';
import type { WorkbenchEvent } from '../../../src/api/workbench';
import type { DesktopSettings } from '../../../src/api/desktop';
import { RECENT_MAX } from './settings';

/** `item` first, without an older copy of it, at most `max` long. */
export function pushRecent(list: readonly string[], item: string, max = RECENT_MAX): string[] {
  return [item, ...list.filter((x) => x !== item)].slice(0, max);
}

/** The list without the entries `exists` rejects (captures deleted since). */
export function pruneRecent(list: readonly string[], exists: (item: string) => boolean): string[] {
  return list.filter(exists);
}

/**
 * Settings after a relayed request succeeded, or null when it changes nothing to remember:
 * session.connect to a built-in board (a profile pasted by the page has no path to go back to)
 * and capture.open remember their target.
 */
export function rememberRequest(settings: DesktopSettings, method: string, params: unknown, reply: WorkbenchReply): DesktopSettings | null {
  if (!reply.ok) return null;
  const p = (typeof params === 'object' && params !== null ? params : {}) as Record<string, unknown>;
  if (method === 'session.connect' && p['profileText'] === undefined) {
    const board = typeof p['board'] === 'string' ? p['board'] : DEFAULT_BOARD;
    return { ...settings, recentBoards: pushRecent(settings.recentBoards, board) };
  }
  if (method === 'capture.open' && typeof p['path'] === 'string') {
    return { ...settings, recentCaptures: pushRecent(settings.recentCaptures, p['path']) };
  }
  return null;
}

/** Settings after an engine event, or null: a session that ended left a capture worth reopening. */
export function rememberEvent(settings: DesktopSettings, event: WorkbenchEvent): DesktopSettings | null {
  if (event.event === 'session.closed' && event.data.capture !== null) {
    return { ...settings, recentCaptures: pushRecent(settings.recentCaptures, event.data.capture) };
  }
  return null;
}
