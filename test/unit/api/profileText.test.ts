/**
 * Profile files: errors name the field and its line in the file (src/api/jsonLocate.ts), and the
 * real-board profiles shipped in src/boards/profiles validate.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { formatProfileErrors, parseBoardProfile, parseBoardProfileText } from '../../../src/api/boardProfile';
import { locateJson, scanJson } from '../../../src/api/jsonLocate';
import { HARDWARE_PROFILES } from '../../../src/boards/builtin';
import { queueGeometry } from '../../../src/boards/geometry';
import qemuAmpPci from '../../../src/boards/profiles/qemu-virtio-msg-amp-pci.json';
import stm32mp157cDk2 from '../../../src/boards/profiles/stm32mp157c-dk2.json';
import versalVek280 from '../../../src/boards/profiles/versal-vek280.json';
import simQemuAmpPci from '../../../src/boards/profiles/sim-qemu-amp-pci.json';

describe('jsonLocate', () => {
  const text = ['{', '  "a": 1,', '  "b": {', '    "c": [10, {"d": "x"}]', '  }', '}'].join('\n');

  it('gives the line and column of the value at a path', () => {
    expect(locateJson(text, [])).toEqual({ line: 1, column: 1 });
    expect(locateJson(text, ['a'])).toEqual({ line: 2, column: 8 });
    expect(locateJson(text, ['b'])).toEqual({ line: 3, column: 8 });
    expect(locateJson(text, ['b', 'c', 0])).toEqual({ line: 4, column: 11 });
    expect(locateJson(text, ['b', 'c', 1, 'd'])).toEqual({ line: 4, column: 21 });
  });

  it('points a missing field at the object it belongs in', () => {
    expect(locateJson(text, ['b', 'missing', 'deeper'])).toEqual({ line: 3, column: 8 });
    expect(locateJson(text, ['zzz'])).toEqual({ line: 1, column: 1 });
  });

  it.each([
    ['{"a": 1,}', 1, 9, /field name in double quotes, saw "}"/],
    ['{\n  "a": 1\n  "b": 2\n}', 3, 3, /expected "," or "}", saw "\\""/],
    ['[1, 2', 1, 6, /expected "," or "]", saw end of file/],
    ['{"a": tru}', 1, 7, /expected a value, saw "t"/],
    ['{"a": "x\\q"}', 1, 9, /invalid escape \\q/],
    ['{} {}', 1, 4, /after the end of the document/],
  ])('says where %j stops being JSON', (bad, line, column, message) => {
    const s = scanJson(bad);
    expect(s.ok).toBe(false);
    if (s.ok) return;
    expect(s.position).toEqual({ line, column });
    expect(s.error).toMatch(message);
  });

  it('accepts exactly what JSON.parse accepts, with the same value', () => {
    const anyJsonText = fc.oneof(
      fc.json(),
      fc.json().map((t) => t.slice(0, Math.max(0, t.length - 1))),
      fc.string(),
    );
    fc.assert(
      fc.property(anyJsonText, (t) => {
        let parsed: { ok: true; value: unknown } | { ok: false } = { ok: false };
        try {
          parsed = { ok: true, value: JSON.parse(t) as unknown };
        } catch {
          // not JSON
        }
        const s = scanJson(t);
        expect(s.ok).toBe(parsed.ok);
        if (s.ok && parsed.ok) expect(s.value).toEqual(parsed.value);
      }),
      { numRuns: 500 },
    );
  });
});

describe('profile files', () => {
  const good = JSON.stringify(simQemuAmpPci, null, 2);
  const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

  it('reads a valid file exactly as the parsed-JSON path does', () => {
    const r = parseBoardProfileText(good, 'sim.json');
    expect(r).toEqual(parseBoardProfile(simQemuAmpPci));
    expect(r.ok).toBe(true);
  });

  it('names the field and its line: bus.maxMessageSize (line N)', () => {
    const text = good.replace('"maxMessageSize": 64', '"maxMessageSize": 16');
    const r = parseBoardProfileText(text, 'board.json');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const line = lineOf(text, '"maxMessageSize"');
    expect(r.error).toEqual([
      { field: 'bus.maxMessageSize', line, column: 23, message: 'revision r4 needs a bus maximum of at least 52 bytes, saw 16' },
    ]);
    expect(formatProfileErrors(r.error)).toBe(`  bus.maxMessageSize (line ${line}): revision r4 needs a bus maximum of at least 52 bytes, saw 16`);
  });

  it('puts an unknown field on its own line and a missing one on its object', () => {
    const text = good.replace('"handshake": "vmamp-v1",', '"handshake": "vmamp-v1",\n    "colour": "blue",').replace(/\n {2}"hostRole": "driver",/, '');
    const r = parseBoardProfileText(text, 'board.json');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.find((e) => e.field === 'bus')).toMatchObject({ line: lineOf(text, '"colour"'), message: 'unknown field(s) "colour"' });
    expect(r.error.find((e) => e.field === 'hostRole')).toMatchObject({ line: 1 });
  });

  it('says where a file stops being JSON, naming the file', () => {
    const text = good.replace('"revision": "r4",', '"revision": "r4"');
    const r = parseBoardProfileText(text, 'board.json');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toEqual([
      { field: '(file)', line: lineOf(text, '"revision"') + 1, column: 5, message: 'board.json is not valid JSON: expected "," or "}", saw "\\""' },
    ]);
  });

  it.each([
    ['stm32mp157c-dk2', stm32mp157cDk2, 'bridge', 'r0'],
    ['versal-vek280', versalVek280, 'sysfs-pci', 'r3'],
    ['qemu-virtio-msg-amp-pci', qemuAmpPci, 'sysfs-pci', 'r3'],
  ])('ships a valid %s profile', (id, raw, access, revision) => {
    const r = parseBoardProfile(raw);
    if (!r.ok) throw new Error(formatProfileErrors(r.error));
    expect([r.value.id, r.value.access.kind, r.value.bus.revision]).toEqual([id, access, revision]);
    expect(queueGeometry(r.value).ok).toBe(true);
    expect(HARDWARE_PROFILES.find((p) => p.id === id)).toEqual(r.value);
  });
});
