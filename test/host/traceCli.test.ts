/** The trace commands as a user runs them: capture a simulated board, then stats and every export. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadCapture } from '../../main/host/trace/load';
import type { Capture } from '../../main/host/trace/journal';
import { toRecords } from '../../src/trace/block';

const BIN = resolve(__dirname, '../../main/host/cli/amp-workbench.cjs');

function run(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function load(path: string): Capture {
  const o = loadCapture(path);
  if (!o.ok) throw new Error(o.error);
  return o.value;
}

let dir = '';
let cap = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'amp-trace-cli-'));
  cap = join(dir, 'cap');
  for (const board of ['sim-versal', 'sim-stm32mp157']) {
    const r = run(['capture', '--board', board, '--duration', '300ms', '--exercise', '--out', join(dir, board)]);
    if (r.code !== 0) throw new Error(r.stderr);
  }
  const r = run(['capture', '--duration', '500ms', '--exercise', '--out', cap, '--json']);
  if (r.code !== 0) throw new Error(r.stderr);
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('amp-workbench capture / stats / export', () => {
  it('captures bring-up and workload traffic with paired requests, doorbells, ring indices and chain bytes', () => {
    const c = load(cap);
    expect(c.meta.board).toBe('sim-qemu-amp-pci');
    expect(c.meta.revision).toBe('r4');
    const recs = toRecords(c.blocks());
    const kinds = new Set(recs.map((r) => r.kind));
    // buffer: the bytes of the workload's virtqueue chains (docs/formats.md §8).
    expect([...kinds].sort()).toEqual(['buffer', 'doorbell', 'marker', 'message', 'queue-state', 'vq-index']);
    const responses = recs.filter((r) => r.kind === 'message' && r.pairSeq !== null);
    expect(responses.length).toBeGreaterThan(20);
    for (const r of responses) expect(recs[r.pairSeq!]!.token).toBe(r.token);
    expect(recs.filter((r) => r.problems !== 0)).toEqual([]);
  });

  it('stats --json counts what the capture holds', () => {
    const r = run(['stats', cap, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.board).toBe('sim-qemu-amp-pci');
    expect(s.records).toBe(load(cap).count);
    expect(s.latency.map((l: { name: string }) => l.name)).toContain('GET_DEVICE_INFO');
    // The count line goes to stderr with --json, so stdout stays one JSON document.
    expect(r.stderr).toMatch(/\n0 problems, 0 findings\n$/);
  });

  it('stats and export end with the count of problems and findings they report', () => {
    // The STM32's known OpenAMP deviations are recorded as findings (info) in its capture.
    const c = join(dir, 'sim-stm32mp157');
    const findings = toRecords(load(c).blocks()).filter((x) => x.kind === 'finding').length;
    expect(findings).toBeGreaterThan(0);
    const stats = run(['stats', c]);
    expect(stats.code, stats.stderr).toBe(0);
    expect(stats.stdout).toMatch(new RegExp(`\\n\\d+ problems?, ${findings} findings\\n$`));
    const exported = run(['export', c, '--format', 'csv', '--out', `${c}.csv`, '--filter', 'finding']);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(new RegExp(`^${findings} of \\d+ records .*\\n0 problems, ${findings} findings\\n$`));
  });

  it('pcapng and JSONL exports import back identical, for every revision captured', () => {
    for (const c of [cap, join(dir, 'sim-versal'), join(dir, 'sim-stm32mp157')]) {
      const original = toRecords(load(c).blocks());
      for (const format of ['pcapng', 'jsonl']) {
        const file = `${c}.${format}`;
        const r = run(['export', c, '--format', format, '--out', file]);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain(`${original.length} of ${original.length} records`);
        const back = load(file);
        expect(toRecords(back.blocks())).toEqual(original);
        expect(back.meta).toEqual(load(c).meta);
      }
    }
  });

  it('exports exactly what a filter and a time range select', () => {
    const file = join(dir, 'sel.jsonl');
    const c = load(cap);
    const all = toRecords(c.blocks());
    const at = (r: (typeof all)[number]) => Number(r.monoNs - c.meta.startMonoNs);
    // The middle half of the capture, in whole microseconds.
    const fromUs = Math.ceil(at(all[Math.floor(all.length / 4)]!) / 1e3);
    const toUs = Math.floor(at(all[Math.floor((3 * all.length) / 4)]!) / 1e3);
    const r = run(['export', cap, '--format', 'jsonl', '--filter', 'kind == message && dir == to-driver', '--from', `${fromUs}us`, '--to', `${toUs}us`, '--out', file]);
    expect(r.code, r.stderr).toBe(0);
    const got = toRecords(load(file).blocks());
    const want = all.filter((x) => x.kind === 'message' && x.dir === 'device-to-driver' && at(x) >= fromUs * 1e3 && at(x) < toUs * 1e3);
    expect(got.length).toBeGreaterThan(0);
    expect(got).toEqual(want);
  });

  it('writes Perfetto and CSV files', () => {
    for (const format of ['perfetto', 'csv']) {
      const r = run(['export', cap, '--format', format, '--out', join(dir, `x.${format}`)]);
      expect(r.code, r.stderr).toBe(0);
    }
    const csv = readFileSync(join(dir, 'x.csv'), 'utf8').split('\n');
    expect(csv[0]).toMatch(/^seq,time_ns,/);
    expect(csv.filter((l) => l !== '').length).toBe(load(cap).count + 1);
  });

  it('a bad filter is a usage error that points at the column', () => {
    const r = run(['export', cap, '--format', 'csv', '--filter', 'dev == 1 && msg ==', '--out', join(dir, 'bad.csv')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/filter: error at column 19/);
    expect(r.stderr).toContain('dev == 1 && msg ==\n                  ^');
  });

  it('an unreadable capture says what was expected and what was seen', () => {
    const r = run(['stats', BIN]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not a capture this workbench reads; expected a capture folder, a pcapng file .* saw [0-9a-f]{2} /);
    expect(run(['stats', join(dir, 'missing')]).stderr).toMatch(/cannot open capture .*missing: it does not exist\n/);
  });

  it('capture refuses a folder that already holds a capture', () => {
    const r = run(['capture', '--duration', '100ms', '--out', cap]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is not empty/);
  });
});
