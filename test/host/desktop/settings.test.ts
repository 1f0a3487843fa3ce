/** Desktop settings on disk (good, broken, missing) and the recent lists kept in them. */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { pruneRecent, pushRecent, rememberEvent, rememberRequest } from '../../../main/host/desktop/recent';
import {
  applySettingsPatch,
  defaultSettings,
  loadSettings,
  RECENT_MAX,
  saveSettings,
  SETTINGS_FILE,
  validateSettings,
} from '../../../main/host/desktop/settings';
import type { DesktopSettings } from '../../../src/api/desktop';
import { DEFAULT_BOARD } from '../../../src/boards/builtin';

let dir = '';
let file = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'amp-settings-'));
  file = join(dir, SETTINGS_FILE);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const custom: DesktopSettings = {
  ...defaultSettings(),
  theme: 'dark',
  view: 'trace',
  recentBoards: ['sim-qemu-amp-pci'],
  recentCaptures: ['/captures/a', '/captures/b'],
  layout: { 'trace.detail': 0.35, 'timeline.lanes': 240 },
  window: { width: 1600, height: 1000, maximized: true },
};

describe('settings file', () => {
  it('round-trips through an atomic write, leaving no temp file', () => {
    saveSettings(file, custom);
    expect(loadSettings(file)).toEqual({ settings: custom, problems: [], brokenCopy: null });
    expect(readdirSync(dir)).toEqual([SETTINGS_FILE]);
    saveSettings(file, { ...custom, theme: 'light' });
    expect(loadSettings(file).settings.theme).toBe('light');
  });

  it('a missing file gives the defaults quietly', () => {
    expect(loadSettings(file)).toEqual({ settings: defaultSettings(), problems: [], brokenCopy: null });
  });

  it('a file that is not JSON is reported, kept aside and replaced by defaults', () => {
    writeFileSync(file, '{"theme": "dark",');
    const r = loadSettings(file);
    expect(r.settings).toEqual(defaultSettings());
    expect(r.brokenCopy).toBe(`${file}.broken`);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not JSON \\(line 1, column 18: .+\\); kept as ${file}\\.broken, using defaults$`));
    expect(readFileSync(`${file}.broken`, 'utf8')).toBe('{"theme": "dark",');
    expect(existsSync(file)).toBe(false);
  });

  it('bad fields are reported one by one and defaulted; the good ones survive', () => {
    writeFileSync(file, JSON.stringify({ ...custom, theme: 'neon', recentCaptures: [1, 2], layout: { p: 'wide' }, window: { width: 10, height: 900, maximized: false }, colour: 'red' }));
    const r = loadSettings(file);
    expect(r.settings).toEqual({ ...custom, theme: 'system', recentCaptures: [], layout: {}, window: defaultSettings().window });
    expect(r.problems).toEqual([
      `${file}: theme: expected one of "system", "light", "dark", saw "neon"; using the default`,
      `${file}: recentCaptures: expected a list of at most ${RECENT_MAX} non-empty strings, saw [1,2]; using the default`,
      `${file}: layout: expected an object of at most 64 panel ids (1..64 characters) to finite numbers, saw {"p":"wide"}; using the default`,
      `${file}: window: expected an object {width: 400..10000, height: 300..10000, maximized: boolean}, saw {"width":10,"height":900,"maximized":false}; using the default`,
      `${file}: unknown field "colour" dropped`,
    ]);
  });

  it('a JSON value that is not an object, or another version, is reported', () => {
    expect(validateSettings([1, 2]).problems).toEqual([`${SETTINGS_FILE}: expected a JSON object, saw [1,2]; using defaults`]);
    const other = validateSettings({ version: 2, theme: 'dark' });
    expect(other.settings.theme).toBe('dark');
    expect(other.problems).toEqual([`${SETTINGS_FILE}: version: expected 1, saw 2; reading the fields that still fit`]);
  });

  it('never throws on garbage, and always yields settings that validate cleanly', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (raw) => {
        const { settings } = validateSettings(raw);
        expect(validateSettings(JSON.parse(JSON.stringify(settings))).problems).toEqual([]);
      }),
    );
  });
});

describe('settings patches from the page', () => {
  it('applies theme, view and layout', () => {
    expect(applySettingsPatch(defaultSettings(), { theme: 'dark', layout: { a: 1 } })).toEqual({ ok: true, value: { ...defaultSettings(), theme: 'dark', layout: { a: 1 } } });
  });

  it.each([
    [{ recentCaptures: ['/etc'] }, 'settings update: "recentCaptures" cannot be set by the page; expected only "theme", "view", "layout"'],
    [{ view: 'registers' }, 'settings update: view: expected one of "connect", "devices", "queues", "trace", "timeline", "transactions", "statistics", "expert", saw "registers"'],
    ['dark', 'settings update: expected an object such as {"theme": "dark"}, saw "dark"'],
  ])('refuses %j as a whole', (patch, error) => {
    expect(applySettingsPatch(custom, patch)).toEqual({ ok: false, error });
  });
});

describe('recent lists', () => {
  it('puts the newest first, without duplicates, at most RECENT_MAX long', () => {
    let list: string[] = [];
    for (let i = 0; i < 15; i++) list = pushRecent(list, `/c/${i}`);
    expect(list).toHaveLength(RECENT_MAX);
    expect(list[0]).toBe('/c/14');
    expect(pushRecent(list, '/c/10')).toEqual(['/c/10', ...list.filter((x) => x !== '/c/10')]);
    expect(pruneRecent(['/a', '/b', '/c'], (p) => p !== '/b')).toEqual(['/a', '/c']);
  });

  it('remembers connected built-in boards and opened captures, not failures or pasted profiles', () => {
    const s = defaultSettings();
    const ok = { ok: true as const, result: {} };
    expect(rememberRequest(s, 'session.connect', {}, ok)?.recentBoards).toEqual([DEFAULT_BOARD]);
    expect(rememberRequest(s, 'session.connect', { board: 'hw-x' }, ok)?.recentBoards).toEqual(['hw-x']);
    expect(rememberRequest(s, 'session.connect', { profileText: '{}', fileName: 'p.json' }, ok)).toBeNull();
    expect(rememberRequest(s, 'capture.open', { path: '/captures/x' }, ok)?.recentCaptures).toEqual(['/captures/x']);
    expect(rememberRequest(s, 'capture.open', { path: '/captures/x' }, { ok: false, error: { code: 'not-found', message: 'no capture at /captures/x' } })).toBeNull();
    expect(rememberRequest(s, 'trace.info', {}, ok)).toBeNull();
    expect(rememberEvent(s, { event: 'session.closed', data: { reason: 'x', capture: '/captures/y', lost: false } })?.recentCaptures).toEqual(['/captures/y']);
    expect(rememberEvent(s, { event: 'session.closed', data: { reason: 'x', capture: null, lost: false } })).toBeNull();
  });
});
