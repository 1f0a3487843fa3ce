/**
 * The filters a user applied (most recent first) and the ones they saved, kept in localStorage
 * so they outlive the page, as Wireshark keeps its display filter history and filter buttons.
 */
const RECENT_KEY = 'amp-workbench.trace.recentFilters';
const SAVED_KEY = 'amp-workbench.trace.savedFilters';
export const MAX_RECENT = 20;

function read(key: string): string[] {
  try {
    const v: unknown = JSON.parse(localStorage.getItem(key) ?? '[]');
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    // A hand-edited or foreign value: start again rather than fail the view.
    return [];
  }
}

function write(key: string, list: readonly string[]): void {
  localStorage.setItem(key, JSON.stringify(list));
}

export function recentFilters(): string[] {
  return read(RECENT_KEY);
}

/** Puts `filter` first in the recent list (once), dropping the oldest past MAX_RECENT. */
export function rememberFilter(filter: string): void {
  if (filter === '') return;
  write(RECENT_KEY, [filter, ...read(RECENT_KEY).filter((f) => f !== filter)].slice(0, MAX_RECENT));
}

export function savedFilters(): string[] {
  return read(SAVED_KEY);
}

export function saveFilter(filter: string): void {
  if (filter === '' || read(SAVED_KEY).includes(filter)) return;
  write(SAVED_KEY, [...read(SAVED_KEY), filter]);
}

export function unsaveFilter(filter: string): void {
  write(SAVED_KEY, read(SAVED_KEY).filter((f) => f !== filter));
}
