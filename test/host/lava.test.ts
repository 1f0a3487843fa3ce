/**
 * `--lava` in a LAVA test shell, with a stand-in `lava-test-case` (and `lava-test-reference`) on
 * PATH that records each call: the same cases as --junit, named as LAVA takes them, with pass,
 * fail and the workloads' latency as measurements; stdout stays the command's report. The test
 * definition in lava/ runs as LAVA would run it (its params as shell variables, its steps in
 * this checkout) and publishes the capture to an artifact server; the job and the test
 * definition pass the schema validators of LAVA's own lava-common package.
 */
import { spawnSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { exportRecords } from '../../src/trace/exportWriter';
import { fromRecords } from '../../src/trace/block';
import { JsonlWriter } from '../../src/trace/jsonl';
import { sampleMeta, sampleRecords } from '../unit/trace/sample';
import { runWithFault } from './faultRig';

const ROOT = resolve(__dirname, '../..');
const BIN = join(ROOT, 'main/host/cli/amp-workbench.cjs');
const SYSTEM_PYTHON = '/usr/bin/python3';
const hasLavaCommon = existsSync(SYSTEM_PYTHON) && spawnSync(SYSTEM_PYTHON, ['-c', 'import lava_common.schemas'], { encoding: 'utf8' }).status === 0;

const TOKEN = 'token-from-the-jobs-secrets';
let dir = '';
let bin = '';
let log = '';

/** A stand-in for one of LAVA's test helpers: records its arguments, prints a LAVA-like signal, exits with $STAND_IN_EXIT. */
function standIn(name: string): void {
  const file = join(bin, name);
  writeFileSync(
    file,
    `#!${process.execPath}
const { appendFileSync } = require('node:fs');
const args = process.argv.slice(2);
appendFileSync(${JSON.stringify(log)}, JSON.stringify({ tool: ${JSON.stringify(name)}, args }) + '\\n');
process.stdout.write('<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=' + args[0] + ' RESULT=' + args[2] + '>\\n');
process.exitCode = Number(process.env.STAND_IN_EXIT ?? 0);
`,
  );
  chmodSync(file, 0o755);
}

interface Call {
  tool: string;
  args: string[];
}

function calls(): Call[] {
  const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
  rmSync(log, { force: true });
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Call);
}

const shellEnv = (extra: Record<string, string> = {}) => ({ ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`, ...extra });

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000, env: shellEnv(env) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, text: r.stdout + r.stderr };
}

/** A call as `NAME RESULT [MEASUREMENT UNITS]`, checking its form on the way. */
function shape(c: Call): string {
  expect(c.tool).toBe('lava-test-case');
  expect(c.args[0]).toMatch(/^[-_.a-zA-Z0-9]+$/);
  expect(c.args[1]).toBe('--result');
  expect(['pass', 'fail', 'skip']).toContain(c.args[2]);
  if (c.args.length > 3) {
    expect(c.args[3]).toBe('--measurement');
    expect(Number.isFinite(Number(c.args[4]))).toBe(true);
    expect(c.args[5]).toBe('--units');
    expect(c.args).toHaveLength(7);
  }
  return [c.args[0], c.args[2], ...(c.args.length > 3 ? [c.args[6]] : [])].join(' ');
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'amp-lava-'));
  bin = join(dir, 'bin');
  mkdirSync(bin);
  log = join(dir, 'calls.jsonl');
  standIn('lava-test-case');
  standIn('lava-test-reference');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('--lava', () => {
  it('exercise reports each bring-up, the bus and each workload with its median latency in us; stdout stays one JSON document', () => {
    const r = run(['exercise', '--board', 'sim-versal', '--count', '5', '--json', '--lava']);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as { devices: { devNum: number; latencyUs: { p50: number } }[] };
    // The helper's own lines reach the log (stderr), not the report.
    expect(r.stderr).toContain('<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=exercise.bus RESULT=pass>');
    const recorded = calls();
    expect(recorded.map(shape)).toEqual([
      'exercise.dev0.virtio-rng.bring-up pass',
      'exercise.dev1.virtio-console.bring-up pass',
      'exercise.bus pass',
      'exercise.dev0.rng.read.32.bytes pass us',
      'exercise.dev1.console.echo pass us',
    ]);
    expect(Number(recorded[3]!.args[4])).toBeCloseTo(json.devices[0]!.latencyUs.p50, 6);
    expect(Number(recorded[4]!.args[4])).toBeCloseTo(json.devices[1]!.latencyUs.p50, 6);
  }, 60_000);

  it('outside a LAVA test shell --lava is bad usage, said before the board is touched', () => {
    const r = spawnSync(process.execPath, [BIN, 'probe', '--lava'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('amp-workbench: --lava reports through lava-test-case, which is not on PATH (run it in a LAVA test shell)\n');
    expect(r.stdout).toBe('');
  });

  it('probe of a faulty board reports the device that failed as fail, with the same exit status', async () => {
    const old = process.env.PATH;
    // The board runs in its own process, started by the rig with this environment.
    process.env.PATH = `${bin}${delimiter}${old ?? ''}`;
    try {
      expect((await runWithFault('versal', 'ghost-devices=3', ['probe', '--lava'])).code).toBe(1);
    } finally {
      process.env.PATH = old;
    }
    expect(calls().map(shape)).toEqual(['probe.dev0.virtio-rng.bring-up pass', 'probe.dev1.virtio-console.bring-up pass', 'probe.dev2.virtio-unknown.bring-up fail', 'probe.bus pass']);
  }, 60_000);

  it('check reports each violated rule, errors as fail', () => {
    const chunks: Uint8Array[] = [];
    exportRecords(new JsonlWriter((c) => chunks.push(c.slice())), sampleMeta(), fromRecords(sampleRecords()));
    const broken = join(dir, 'broken.jsonl');
    writeFileSync(broken, Buffer.concat(chunks));
    const json = JSON.parse(run(['check', broken, '--json']).stdout) as { findings: { rule: string; severity: string }[] };
    calls();
    expect(run(['check', broken, '--lava']).code).toBe(1);
    const expected = [...new Set(json.findings.map((f) => `check.${f.rule}.${f.severity} ${f.severity === 'error' ? 'fail' : 'pass'}`))];
    expect(calls().map(shape)).toEqual(expected);
  }, 60_000);

  it('a lava-test-case that fails makes a passing command exit 1, saying which case was not reported', () => {
    const r = run(['probe', '--lava'], { STAND_IN_EXIT: '3' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('lava-test-case probe.bus exited with status 3');
    calls();
  }, 60_000);
});

/** The test definition's params and run steps, read with the YAML parser LAVA uses. */
function testDefinition(): { params: Record<string, string>; steps: string[] } {
  const r = spawnSync(SYSTEM_PYTHON, ['-c', 'import json, sys, yaml; d = yaml.safe_load(open(sys.argv[1])); print(json.dumps({"params": d["params"], "steps": d["run"]["steps"]}))', join(ROOT, 'lava/amp-workbench.yaml')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as { params: Record<string, string>; steps: string[] };
}

/** Runs the definition's steps as LAVA's test shell does: params as shell variables, `set -e`, in a checkout. */
async function runDefinition(params: Record<string, string>): Promise<{ code: number | null; output: string; shell: string }> {
  const def = testDefinition();
  const shell = mkdtempSync(join(dir, 'shell-'));
  // LAVA's overlay holds the job's secrets above the test's folder.
  writeFileSync(join(dir, 'secrets'), `ARTIFACTS_TOKEN=${TOKEN}\n`);
  // The checkout LAVA would clone: the repository's lava/ and main/ (node_modules through main's own resolution).
  symlinkSync(join(ROOT, 'lava'), join(shell, 'lava'));
  symlinkSync(join(ROOT, 'main'), join(shell, 'main'));
  const vars = Object.entries({ ...def.params, ...params }).map(([k, v]) => `${k}='${v}'`);
  const script = ['set -e', ...vars, ...def.steps].join('\n');
  const child = spawn('/bin/sh', ['-c', script], { cwd: shell, env: shellEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  return { code, output, shell };
}

describe('the LAVA test definition', () => {
  let server: Server;
  let url = '';
  const uploads: { token: string; bytes: number }[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('latin1');
        uploads.push({ token: /name="token"\r\n\r\n([^\r]*)/.exec(body)?.[1] ?? '', bytes: body.length });
        res.end(`${url}capture.tar.gz`);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/artifacts/amp/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('runs probe, exercise and a capture of the board, reports them through lava-test-case and references the published capture', async () => {
    calls();
    const r = await runDefinition({ BOARD: 'sim-versal', COUNT: '3', DURATION: '300ms', ARTIFACTS_URL: url });
    expect(r.code, r.output).toBe(0);
    const recorded = calls();
    const names = recorded.filter((c) => c.tool === 'lava-test-case').map(shape);
    expect(names).toEqual(expect.arrayContaining(['probe.dev0.virtio-rng.bring-up pass', 'exercise.dev1.console.echo pass us', 'capture.capture pass records']));
    expect(names.every((n) => n.includes(' pass'))).toBe(true);
    expect(recorded.at(-1)).toEqual({ tool: 'lava-test-reference', args: ['capture', '--result', 'pass', '--reference', `${url}capture.tar.gz`] });
    expect(uploads).toHaveLength(1);
    expect(uploads[0]!.bytes).toBeGreaterThan(1000);
    expect(uploads[0]!.token).toBe(TOKEN);
    expect(r.output).not.toContain(TOKEN);
    for (const f of ['probe.xml', 'exercise.xml', 'capture.xml', 'capture.tar.gz']) expect(existsSync(join(r.shell, f)), f).toBe(true);
  }, 120_000);

  it('without an artifact server the capture stays in the shell and its upload is skipped', async () => {
    calls();
    const r = await runDefinition({ BOARD: 'sim-qemu-amp-pci', COUNT: '2', DURATION: '200ms' });
    expect(r.code, r.output).toBe(0);
    expect(calls().at(-1)).toEqual({ tool: 'lava-test-case', args: ['capture-upload', '--result', 'skip'] });
  }, 120_000);

  it.skipIf(!hasLavaCommon)('the job and the test definition pass lava-common\'s validators, and a broken copy of each does not', () => {
    const validate = (args: string[]) => spawnSync(SYSTEM_PYTHON, [join(ROOT, 'lava/validate.py'), ...args], { encoding: 'utf8' });
    const ok = validate([join(ROOT, 'lava/job-example.yaml'), '--', join(ROOT, 'lava/amp-workbench.yaml')]);
    expect(ok.stdout + ok.stderr).toContain('job-example.yaml: valid');
    expect(ok.stdout).toContain('amp-workbench.yaml: valid');
    expect(ok.status).toBe(0);
    // The validators do reject: a definition name with a space, a test definition without its format.
    const job = join(dir, 'bad-job.yaml');
    writeFileSync(job, readFileSync(join(ROOT, 'lava/job-example.yaml'), 'utf8').replace('\n          name: amp-workbench\n', '\n          name: amp workbench\n'));
    const testdef = join(dir, 'bad-testdef.yaml');
    writeFileSync(testdef, readFileSync(join(ROOT, 'lava/amp-workbench.yaml'), 'utf8').replace('format: Lava-Test Test Definition 1.0', 'format: Lava-Test Test Definition 9'));
    const bad = validate([job, '--', testdef]);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/bad-job\.yaml: invalid: .*name/);
    expect(bad.stdout).toMatch(/bad-testdef\.yaml: invalid: .*format/);
  });
});
