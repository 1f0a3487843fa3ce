/**
 * `amp-workbench check` as a user runs it: a clean capture of every built-in simulated board has
 * no errors and no warnings (the ST firmware's known deviations read as info under the profile's
 * openamp-st quirk profile, and as errors without it), a capture with broken messages exits 1
 * with its findings grouped by rule, exported captures check the same as the folder, and bad
 * usage exits 2 saying what was expected.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadCapture } from '../../main/host/trace/load';
import { forEachRecord, fromRecords } from '../../src/trace/block';
import { exportRecords } from '../../src/trace/exportWriter';
import { JsonlWriter } from '../../src/trace/jsonl';
import { sampleMeta, sampleRecords } from '../unit/trace/sample';

const BIN = resolve(__dirname, '../../main/host/cli/amp-workbench.cjs');
const BOARDS = ['sim-qemu-amp-pci', 'sim-stm32mp157', 'sim-versal'] as const;

function run(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface CheckJson {
  board: string;
  peer: string | null;
  errors: number;
  warnings: number;
  infos: number;
  checked: number;
  recorded: number;
  findings: { rule: string; section: string; severity: string; seq: number; dev: number | null; message: string }[];
}

function check(args: string[]): { code: number | null; json: CheckJson } {
  const r = run(['check', '--json', ...args]);
  return { code: r.code, json: JSON.parse(r.stdout) as CheckJson };
}

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'amp-check-cli-'));
  for (const board of BOARDS) {
    const r = run(['capture', '--board', board, '--duration', '300ms', '--exercise', '--out', join(dir, board)]);
    if (r.code !== 0) throw new Error(r.stderr);
  }
  const chunks: Uint8Array[] = [];
  exportRecords(new JsonlWriter((c) => chunks.push(c.slice())), sampleMeta(), fromRecords(sampleRecords()));
  writeFileSync(join(dir, 'broken.jsonl'), Buffer.concat(chunks));
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('amp-workbench check', () => {
  it.each(BOARDS)('a capture of %s with its workload has no errors and no warnings, and exits 0', (board) => {
    const { code, json } = check([join(dir, board)]);
    expect(code).toBe(0);
    expect(json).toMatchObject({ board, errors: 0, warnings: 0 });
    expect(json.checked).toBeGreaterThan(100);
    // Live findings are in the capture already and are not counted again.
    expect(json.recorded).toBe(json.findings.length);
    expect(json.infos).toBe(json.findings.length);
  });

  it("reads the ST firmware's known deviations as info under the board's openamp-st profile, as errors without it", () => {
    const st = join(dir, 'sim-stm32mp157');
    const quirky = check([st]);
    expect(quirky.json.peer).toBe('openamp-st');
    // Every answer is an echo without the response bit; an unanswered SET_DEVICE_STATUS shows once its timeout passed.
    const rules = new Set(quirky.json.findings.map((f) => f.rule));
    expect(rules).toContain('response-type');
    expect([...rules].filter((r) => r !== 'response-type' && r !== 'request-answered')).toEqual([]);
    expect(quirky.json.findings.every((f) => f.message.includes('(known openamp-st deviation: '))).toBe(true);

    const plain = check([st, '--peer', 'none']);
    expect(plain.code).toBe(1);
    expect(plain.json).toMatchObject({ peer: null, warnings: 0, infos: 0, errors: quirky.json.infos });
    const f = plain.json.findings.find((x) => x.rule === 'response-type')!;
    expect(f).toMatchObject({ section: 'virtio-msg §7', severity: 'error', dev: 0 });
    expect(f.message).toMatch(/^device→driver DEVICE_INFO response has type 0x00, expected 0x01 \(request record \d+ type 0x00 \| 1\)$/);
  });

  it('exits 1 on a capture with errors and reports them grouped by rule, with section, severity, count and the first records', () => {
    const path = join(dir, 'broken.jsonl');
    const r = run(['check', path]);
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^sim-qemu-amp-pci: \d+ records checked$/);
    expect(lines[1]).toMatch(/^RULE +SECTION +SEVERITY +COUNT$/);
    expect(r.stdout).toMatch(/\nmsg-size-exact +virtio-msg §4\.1, §6\.17 +error +\d+\n/);
    expect(r.stdout).toMatch(/\nmsg-size-exact \(error\):\n {2}record \d+: driver→device GET_CONFIG request: msg_size 0x0034 \(52\) but 16 bytes received \(byte 6\)/);
    const { json } = check([path]);
    expect(lines.at(-2)).toBe(`${json.errors} errors, ${json.warnings} warnings, ${json.infos} infos`);
    expect(json.errors).toBeGreaterThan(0);
    for (const f of json.findings) expect(Object.keys(f)).toEqual(['rule', 'section', 'severity', 'seq', 'dev', 'message']);
    // The sample's two recorded findings are not counted: the rules are run again.
    expect(json.recorded).toBe(2);
  });

  it('checks a pcapng or JSONL export, and a capture without finding records, exactly as the folder', () => {
    const folder = join(dir, 'sim-qemu-amp-pci');
    const want = check([folder]).json;
    for (const [format, file, filter] of [['pcapng', 'x.pcapng', []], ['jsonl', 'x.jsonl', []], ['jsonl', 'old.jsonl', ['--filter', '!finding']]] as const) {
      const e = run(['export', folder, '--format', format, '--out', join(dir, file), ...filter]);
      expect(e.code, e.stderr).toBe(0);
      const got = check([join(dir, file)]).json;
      expect({ ...got, capture: undefined, recorded: undefined }, file).toEqual({ ...want, capture: undefined, recorded: undefined });
    }
    const old = loadCapture(join(dir, 'old.jsonl'));
    if (!old.ok) throw new Error(old.error);
    let findings = 0;
    forEachRecord(old.value.blocks(), (v) => void (v.kind === 'finding' && findings++));
    expect(findings).toBe(0);
  });

  it('usage errors exit 2 with what was expected and what was seen', () => {
    const cap = join(dir, 'sim-versal');
    expect(run(['check', cap, '--peer', 'qmeu'])).toMatchObject({ code: 2, stderr: 'amp-workbench: --peer expects one of qemu, openamp-st, linux-rfc or none, saw "qmeu"\n' });
    expect(run(['check'])).toMatchObject({ code: 2, stderr: 'amp-workbench: check needs a CAPTURE: a capture folder, or a pcapng or JSONL file this workbench exported\n' });
    expect(run(['check', cap, cap])).toMatchObject({ code: 2, stderr: `amp-workbench: check takes one CAPTURE, saw 2: ${cap} ${cap}\n` });
    expect(run(['check', join(dir, 'missing')]).code).toBe(1);
  });
});
