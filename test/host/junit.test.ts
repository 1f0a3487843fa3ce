/**
 * `--junit FILE` as a CI reads it: the XML parses (Python's ElementTree, the parser pytest's own
 * JUnit tooling uses) into testsuites/testsuite/testcase with properties; each device bring-up,
 * workload and violated conformance rule is a test case; a failing case carries the very lines
 * the terminal printed; exit codes and JSON outputs are what they are without --junit.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { junitXml, xmlText } from '../../main/host/cli/junit';
import { exportRecords } from '../../src/trace/exportWriter';
import { fromRecords } from '../../src/trace/block';
import { JsonlWriter } from '../../src/trace/jsonl';
import { sampleMeta, sampleRecords } from '../unit/trace/sample';
import { runWithFault } from './faultRig';

const BIN = resolve(__dirname, '../../main/host/cli/amp-workbench.cjs');
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

function run(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, text: r.stdout + r.stderr };
}

interface JunitCase {
  classname: string;
  name: string;
  properties: Record<string, string>;
  failure: { message: string; type: string; text: string } | null;
  skipped: string | null;
  systemOut: string | null;
}
interface JunitSuite {
  attrs: Record<string, string>;
  properties: Record<string, string>;
  cases: JunitCase[];
}
interface Junit {
  root: string;
  attrs: Record<string, string>;
  suites: JunitSuite[];
}

/** The file read by ElementTree, as plain data: a file it cannot parse fails the test. */
const READ_JUNIT = `
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
def props(e):
    p = e.find('properties')
    return {} if p is None else {x.get('name'): x.get('value') for x in p.findall('property')}
def case(c):
    f = c.find('failure'); s = c.find('skipped'); o = c.find('system-out')
    return {'classname': c.get('classname'), 'name': c.get('name'), 'properties': props(c),
            'failure': None if f is None else {'message': f.get('message'), 'type': f.get('type'), 'text': f.text or ''},
            'skipped': None if s is None else s.get('message'), 'systemOut': None if o is None else o.text}
print(json.dumps({'root': root.tag, 'attrs': dict(root.attrib),
  'suites': [{'attrs': dict(s.attrib), 'properties': props(s), 'cases': [case(c) for c in s.findall('testcase')]} for s in root.findall('testsuite')]}))
`;

function readJunit(file: string): Junit {
  const r = spawnSync(PYTHON, ['-c', READ_JUNIT, file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ElementTree cannot read ${file}: ${r.stderr}\n${readFileSync(file, 'utf8')}`);
  return JSON.parse(r.stdout) as Junit;
}

/** The counts a CI shows must agree with the cases. */
function expectConsistent(j: Junit): JunitSuite {
  expect(j.root).toBe('testsuites');
  expect(j.suites).toHaveLength(1);
  const s = j.suites[0]!;
  expect(Number(s.attrs.tests)).toBe(s.cases.length);
  expect(Number(s.attrs.failures)).toBe(s.cases.filter((c) => c.failure).length);
  expect(Number(s.attrs.skipped)).toBe(s.cases.filter((c) => c.skipped !== null).length);
  expect(j.attrs.tests).toBe(s.attrs.tests);
  expect(j.attrs.failures).toBe(s.attrs.failures);
  return s;
}

/** `probe --junit` against a board in its own process playing `fault`: what the terminal showed and the suite written. */
async function probeWithFault(fault: string) {
  const file = join(dir, `probe-${fault.replace(/\W/g, '_')}.xml`);
  const r = await runWithFault('versal', fault, ['probe', '--junit', file]);
  return { r, s: expectConsistent(readJunit(file)) };
}

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'amp-junit-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the JUnit writer', () => {
  it('escapes markup and replaces characters XML cannot hold, so any message parses back as written', () => {
    expect(xmlText(`a<b>&"c"'d'`)).toBe('a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;');
    expect(xmlText('bell\u0007 nul\u0000 tab\t nl\n')).toBe('bell\ufffd nul\ufffd tab\t nl\n');
    const message = `dev 1: expected ≥ 24 <bytes> & "quotes" ]]> \u0001 line one\nline two`;
    const file = join(dir, 'escape.xml');
    writeFileSync(
      file,
      junitXml({
        command: 'probe',
        board: 'b<&>',
        timeS: 0.5,
        properties: { link: 'x"y' },
        cases: [
          { name: 'bad <case>', status: 'fail', message, properties: { 'p&': 'v<' }, output: ['finding & more'] },
          { name: 'later', status: 'skip', message: 'not run' },
          { name: 'fine', status: 'pass' },
        ],
      }),
    );
    const j = readJunit(file);
    const s = expectConsistent(j);
    expect(s.attrs.name).toBe('amp-workbench.probe');
    expect(s.properties).toMatchObject({ board: 'b<&>', link: 'x"y' });
    const [bad, later, fine] = s.cases;
    expect(bad).toMatchObject({ classname: 'amp-workbench.probe.b<&>', name: 'bad <case>', properties: { 'p&': 'v<' }, systemOut: 'finding & more' });
    expect(bad!.failure).toEqual({ message: 'dev 1: expected ≥ 24 <bytes> & "quotes" ]]> \ufffd line one', type: 'failure', text: message.replace('\u0001', '\ufffd') });
    expect(later!.skipped).toBe('not run');
    expect(fine).toMatchObject({ failure: null, skipped: null, systemOut: null });
  });
});

describe('--junit on the board commands', () => {
  it('exercise: a passing case per device bring-up, the bus and each workload with its latency; exit and JSON as without --junit', () => {
    const file = join(dir, 'exercise.xml');
    const r = run(['exercise', '--board', 'sim-versal', '--count', '5', '--json', '--junit', file]);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as { ok: boolean; devices: { devNum: number; workload: string; latencyUs: { p50: number; p99: number } }[] };
    expect(Object.keys(json)).toEqual(['ok', 'board', 'devices', 'stopped', 'problems', 'findings', 'trace']);
    const s = expectConsistent(readJunit(file));
    expect(s.attrs.name).toBe('amp-workbench.exercise');
    expect(s.properties.board).toBe('sim-versal');
    expect(s.cases.map((c) => c.name)).toEqual(['dev 0 virtio-rng bring-up', 'dev 1 virtio-console bring-up', 'bus', ...json.devices.map((d) => `dev ${d.devNum} ${d.workload}`)]);
    expect(s.cases.every((c) => c.failure === null && c.skipped === null && c.classname === 'amp-workbench.exercise.sim-versal')).toBe(true);
    for (const d of json.devices) {
      const c = s.cases.find((x) => x.name === `dev ${d.devNum} ${d.workload}`)!;
      expect(c.properties).toMatchObject({ rounds: '5', ok: '5', failed: '0', not_run: '0' });
      expect(Number(c.properties.latency_p50_us)).toBeCloseTo(d.latencyUs.p50, 6);
      expect(Number(c.properties.latency_p99_us)).toBeCloseTo(d.latencyUs.p99, 6);
    }
    expect(s.cases[0]!.properties).toMatchObject({ device_id: '4', phase: 'ready' });
  }, 60_000);

  it('probe of a board that cuts GET_DEVICE_FEATURES short: each device case fails with the line the terminal printed, exit 1', async () => {
    const { r, s } = await probeWithFault('size-short');
    expect(r.code).toBe(1);
    const devices = s.cases.filter((c) => c.name.endsWith(' bring-up'));
    expect(devices.length).toBe(2);
    for (const c of devices) {
      expect(c.failure).not.toBeNull();
      expect(c.failure!.message).toMatch(/^dev \d: GET_DEVICE_FEATURES: malformed GET_DEVICE_FEATURES response .*msg_size 20, its layout needs 24 bytes/);
      // The same words, not a second wording: the terminal's line for the device.
      expect(r.stdout).toContain(`  ${c.failure!.message}\n`);
      expect(c.properties.phase).toBe('failed');
    }
  }, 60_000);

  it('probe of a board advertising a device that never answers: that device fails, the others pass', async () => {
    const { r, s } = await probeWithFault('ghost-devices=3');
    expect(r.code).toBe(1);
    expect(s.cases.map((c) => [c.name, c.failure === null])).toEqual([
      ['dev 0 virtio-rng bring-up', true],
      ['dev 1 virtio-console bring-up', true],
      ['dev 2 virtio-unknown bring-up', false],
      ['bus', true],
    ]);
    const message = s.cases[2]!.failure!.message;
    expect(message).toMatch(/^dev 2: GET_DEVICE_INFO: no response to GET_DEVICE_INFO \(dev_num 2, token 0x[0-9a-f]{4}\) within \d+ ms$/);
    expect(r.stdout).toContain(`  ${message}\n`);
  }, 60_000);

  it('probe whose bring-up fails as a whole: one bring-up case failing with the line on stderr', async () => {
    const { r, s } = await probeWithFault('size-over');
    expect(r.code).toBe(1);
    const bringUp = s.cases.find((c) => c.name === 'bring-up')!;
    expect(bringUp.failure!.message).toMatch(/^probe of sim-versal-fast failed: GET_DEVICES failed: malformed GET_DEVICES response .*exceeds the 64-byte slot/);
    expect(r.stderr).toContain(`${bringUp.failure!.message}\n`);
  }, 60_000);

  it('a deviation the session tolerated is the bus case\'s output, not a failure', async () => {
    const { r, s } = await probeWithFault('next-offset-loop');
    expect(r.code).toBe(0);
    const bus = s.cases.find((c) => c.name === 'bus')!;
    expect(bus.failure).toBeNull();
    expect(bus.systemOut).toMatch(/^bus finding: GET_DEVICES at offset 8 answered next_offset 8/);
    expect(r.stdout).toContain(`  ${bus.systemOut}\n`);
  }, 60_000);

  it('capture: the device cases and a capture case with its record count; exit 0', () => {
    const file = join(dir, 'capture.xml');
    const out = join(dir, 'cap');
    const r = run(['capture', '--board', 'sim-qemu-amp-pci', '--duration', '300ms', '--exercise', '--out', out, '--junit', file]);
    expect(r.code).toBe(0);
    const s = expectConsistent(readJunit(file));
    const capture = s.cases.find((c) => c.name === 'capture')!;
    expect(capture.failure).toBeNull();
    expect(Number(capture.properties.records)).toBeGreaterThan(0);
    expect(r.stdout).toContain(`${capture.properties.records} records`);
    expect(s.properties.trace).toBe(out);
    expect(s.cases.filter((c) => c.name.endsWith(' bring-up')).length).toBeGreaterThan(0);
  }, 60_000);

  it('a JUnit file that cannot be written makes a passing command exit 1, saying why in words', () => {
    const r = run(['probe', '--junit', join(dir, 'no-such-folder', 'x.xml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot write the JUnit results to ${join(dir, 'no-such-folder', 'x.xml')}: `);
    expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+|Error:/);
  }, 60_000);
});

describe('--junit on check', () => {
  let broken = '';
  beforeAll(() => {
    const chunks: Uint8Array[] = [];
    exportRecords(new JsonlWriter((c) => chunks.push(c.slice())), sampleMeta(), fromRecords(sampleRecords()));
    broken = join(dir, 'broken.jsonl');
    writeFileSync(broken, Buffer.concat(chunks));
  });

  it('one case per rule violated: errors fail with the records the text report lists, exit 1 as without --junit', () => {
    const file = join(dir, 'check.xml');
    const r = run(['check', broken, '--junit', file]);
    const plain = run(['check', broken]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(plain.stdout);
    const json = JSON.parse(run(['check', broken, '--json']).stdout) as { errors: number; findings: { rule: string; severity: string; seq: number; message: string }[] };
    const s = expectConsistent(readJunit(file));
    const rules = new Set(json.findings.map((f) => `${f.rule} (${f.severity})`));
    expect(new Set(s.cases.map((c) => c.name))).toEqual(rules);
    expect(s.properties.errors).toBe(String(json.errors));
    for (const c of s.cases) {
      const [rule, severity] = c.name.split(' (');
      const own = json.findings.filter((f) => f.rule === rule && `${f.severity})` === severity);
      expect(c.properties.count).toBe(String(own.length));
      const lines = own.map((f) => `record ${f.seq}: ${f.message}`);
      if (own[0]!.severity === 'error') {
        expect(c.failure!.text).toBe(lines.join('\n'));
        // The first one is also in the text report, word for word.
        expect(r.stdout).toContain(`  ${lines[0]}\n`);
      } else {
        expect(c.failure).toBeNull();
        expect(c.systemOut).toBe(lines.join('\n'));
      }
    }
    expect(s.cases.some((c) => c.failure)).toBe(true);
  }, 60_000);

  it('a clean capture is one passing conformance case', () => {
    const out = join(dir, 'clean');
    expect(run(['capture', '--board', 'sim-versal', '--duration', '200ms', '--out', out]).code).toBe(0);
    const file = join(dir, 'clean.xml');
    expect(run(['check', out, '--junit', file]).code).toBe(0);
    const s = expectConsistent(readJunit(file));
    expect(s.cases).toHaveLength(1);
    expect(s.cases[0]).toMatchObject({ name: 'conformance', failure: null });
    expect(Number(s.cases[0]!.properties.checked)).toBeGreaterThan(0);
  }, 60_000);
});
