/**
 * Desktop settings: theme, view, recent boards and captures, panel layout and window size, kept as
 * JSON in Electron's userData folder. Reading never fails: a file that is not JSON is reported,
 * kept beside as settings.json.broken and replaced by defaults; a field with a wrong value is
 * reported and takes its default while the other fields survive. Writes are atomic (temp file +
 * rename), so a crash mid-write leaves the old file.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';

import { describeValue } from '../../../src/api/issues';
import { scanJson } from '../../../src/api/jsonLocate';
import { SETTINGS_VERSION, THEMES, VIEWS, type DesktopSettings, type SettingsUpdateResult } from '../../../src/api/desktop';
import { fileErrorText } from '../failure';

export const SETTINGS_FILE = 'settings.json';
/** How many recent boards and captures are kept. */
export const RECENT_MAX = 10;
const MAX_PATH = 4096;
const MAX_LAYOUT_KEYS = 64;


export function defaultSettings(): DesktopSettings {
  return { version: SETTINGS_VERSION, theme: 'system', view: 'connect', recentBoards: [], recentCaptures: [], layout: {}, window: { width: 1400, height: 900, maximized: false } };
}

type Check<T> = { ok: true; value: T } | { ok: false; expected: string };

function oneOf<T extends string>(options: readonly T[]): (v: unknown) => Check<T> {
  return (v) => (typeof v === 'string' && (options as readonly string[]).includes(v) ? { ok: true, value: v as T } : { ok: false, expected: `one of ${options.map((o) => `"${o}"`).join(', ')}` });
}

function stringList(v: unknown): Check<string[]> {
  const expected = `a list of at most ${RECENT_MAX} non-empty strings`;
  if (!Array.isArray(v) || v.length > RECENT_MAX) return { ok: false, expected };
  if (!v.every((s) => typeof s === 'string' && s.length > 0 && s.length <= MAX_PATH)) return { ok: false, expected };
  return { ok: true, value: [...new Set(v as string[])] };
}

function layout(v: unknown): Check<Record<string, number>> {
  const expected = `an object of at most ${MAX_LAYOUT_KEYS} panel ids (1..64 characters) to finite numbers`;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, expected };
  const entries = Object.entries(v);
  if (entries.length > MAX_LAYOUT_KEYS) return { ok: false, expected };
  if (!entries.every(([k, n]) => k.length > 0 && k.length <= 64 && typeof n === 'number' && Number.isFinite(n))) return { ok: false, expected };
  return { ok: true, value: Object.fromEntries(entries) as Record<string, number> };
}

function windowSize(v: unknown): Check<DesktopSettings['window']> {
  const expected = 'an object {width: 400..10000, height: 300..10000, maximized: boolean}';
  if (typeof v !== 'object' || v === null) return { ok: false, expected };
  const { width, height, maximized } = v as Record<string, unknown>;
  const inRange = (n: unknown, lo: number): n is number => typeof n === 'number' && Number.isInteger(n) && n >= lo && n <= 10_000;
  if (!inRange(width, 400) || !inRange(height, 300) || typeof maximized !== 'boolean') return { ok: false, expected };
  return { ok: true, value: { width, height, maximized } };
}

const FIELDS: { [K in Exclude<keyof DesktopSettings, 'version'>]: (v: unknown) => Check<DesktopSettings[K]> } = {
  theme: oneOf(THEMES),
  view: oneOf(VIEWS),
  recentBoards: stringList,
  recentCaptures: stringList,
  layout,
  window: windowSize,
};
const PATCHABLE = ['theme', 'view', 'layout'] as const;

/** Settings from parsed JSON: each bad field reported ("where: expected …, saw …") and defaulted. */
export function validateSettings(raw: unknown, where = SETTINGS_FILE): { settings: DesktopSettings; problems: string[] } {
  const settings = defaultSettings();
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { settings, problems: [`${where}: expected a JSON object, saw ${describeValue(raw)}; using defaults`] };
  }
  const problems: string[] = [];
  const obj = raw as Record<string, unknown>;
  if (obj['version'] !== SETTINGS_VERSION) problems.push(`${where}: version: expected ${SETTINGS_VERSION}, saw ${describeValue(obj['version'])}; reading the fields that still fit`);
  for (const [key, value] of Object.entries(obj)) {
    if (key === 'version') continue;
    if (!Object.hasOwn(FIELDS, key)) {
      problems.push(`${where}: unknown field "${key}" dropped`);
      continue;
    }
    const k = key as keyof typeof FIELDS;
    const r = FIELDS[k](value);
    if (r.ok) (settings as unknown as Record<string, unknown>)[k] = r.value;
    else problems.push(`${where}: ${k}: expected ${r.expected}, saw ${describeValue(value)}; using the default`);
  }
  return { settings, problems };
}

/** A change the page asks for: every field must be patchable and valid, or nothing changes. */
export function applySettingsPatch(current: DesktopSettings, patch: unknown): SettingsUpdateResult {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return { ok: false, error: `settings update: expected an object such as {"theme": "dark"}, saw ${describeValue(patch)}` };
  const next: DesktopSettings = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (!(PATCHABLE as readonly string[]).includes(key)) {
      return { ok: false, error: `settings update: "${key}" cannot be set by the page; expected only ${PATCHABLE.map((p) => `"${p}"`).join(', ')}` };
    }
    const k = key as (typeof PATCHABLE)[number];
    const r = FIELDS[k](value);
    if (!r.ok) return { ok: false, error: `settings update: ${k}: expected ${r.expected}, saw ${describeValue(value)}` };
    (next as unknown as Record<string, unknown>)[k] = r.value;
  }
  return { ok: true, value: next };
}

export interface LoadedSettings {
  settings: DesktopSettings;
  /** What was wrong, one sentence each (the app logs them and tells the user once). */
  problems: string[];
  /** Where an unreadable file was moved to, when it was. */
  brokenCopy: string | null;
}

/** Reads the settings file; a missing file gives defaults quietly, anything else broken is reported. */
export function loadSettings(file: string): LoadedSettings {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { settings: defaultSettings(), problems: [], brokenCopy: null };
    return { settings: defaultSettings(), problems: [`cannot read the settings ${file}: ${fileErrorText(e, file, 'read')}; using defaults, and the file will be written anew`], brokenCopy: null };
  }
  // scanJson says where the JSON broke in its own words (JSON.parse's text is the engine's).
  const scan = scanJson(text);
  if (!scan.ok) {
    const brokenCopy = `${file}.broken`;
    let kept: string | null = brokenCopy;
    try {
      renameSync(file, brokenCopy);
    } catch {
      kept = null;
    }
    const where = kept ? `kept as ${kept}` : 'could not be moved aside';
    return { settings: defaultSettings(), problems: [`${file}: not JSON (line ${scan.position.line}, column ${scan.position.column}: ${scan.error}); ${where}, using defaults`], brokenCopy: kept };
  }
  return { ...validateSettings(scan.value, file), brokenCopy: null };
}

/** Writes atomically: a temp file beside, flushed, then renamed over the old one. */
export function saveSettings(file: string, settings: DesktopSettings): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify(settings, null, 2) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
