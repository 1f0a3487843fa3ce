/**
 * The labgrid example as a lab runs it: Debian's labgrid (python3-labgrid) and its pytest plugin
 * (`/usr/bin/python3 -m pytest --lg-env ENV labgrid/test_bringup.py`) drive AMP Workbench's
 * labgrid driver (labgrid/amp_workbench.py) against simulated boards: the workbench's own
 * (AmpSimulatedBoard) for probe, exercise and capture, and a peer in another process over a
 * shared file (AmpShmFile), behaving and misbehaving. pytest's JUnit report is read back.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../..');
const SIM = join(ROOT, 'main/host/sim/shm-entry.cjs');
const PYTHON = '/usr/bin/python3';
const hasLabgrid = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import labgrid.pytestplugin, pytest'], { encoding: 'utf8' }).status === 0;

interface PytestCase {
  name: string;
  failure: string | null;
}
interface PytestRun {
  code: number | null;
  output: string;
  suiteProperties: Record<string, string>;
  cases: PytestCase[];
}

const READ_REPORT = `
import json, sys, xml.etree.ElementTree as ET
suite = ET.parse(sys.argv[1]).getroot().find('testsuite')
props = suite.find('properties')
print(json.dumps({'suiteProperties': {} if props is None else {p.get('name'): p.get('value') for p in props.findall('property')},
  'cases': [{'name': c.get('name'), 'failure': None if c.find('failure') is None else (c.find('failure').text or '')} for c in suite.findall('testcase')]}))
`;

let dir = '';
let runs = 0;

/** labgrid's pytest plugin on the example, as the README says to run it. */
function pytest(env: string, extra: string[], vars: Record<string, string> = {}): PytestRun {
  const report = join(dir, `report${runs++}.xml`);
  const r = spawnSync(PYTHON, ['-m', 'pytest', '-p', 'no:cacheprovider', '--lg-env', join(ROOT, 'labgrid', env), join(ROOT, 'labgrid/test_bringup.py'), `--junitxml=${report}`, '--basetemp', join(dir, `tmp${runs}`), ...extra], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 240_000,
    // The driver runs the workbench with the `node` on PATH: this one.
    env: { ...process.env, ...vars, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`, PYTHONDONTWRITEBYTECODE: '1' },
  });
  const read = spawnSync(PYTHON, ['-c', READ_REPORT, report], { encoding: 'utf8' });
  if (read.status !== 0) throw new Error(`no pytest report: ${read.stderr}\n${r.stdout}${r.stderr}`);
  return { code: r.status, output: r.stdout + r.stderr, ...(JSON.parse(read.stdout) as Omit<PytestRun, 'code' | 'output'>) };
}

/** A simulated board in its own process serving the bus in a shared file, for one session. */
async function withPeer<T>(fault: string | null, body: (shm: string) => T): Promise<T> {
  const shm = join(dir, `peer${runs}`);
  const sim = spawn(process.execPath, [SIM, '--board', 'sim-versal', '--shm', shm, ...(fault ? ['--fault', fault] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((r) => sim.once('exit', () => r()));
  await new Promise<void>((ok, fail) => {
    sim.stdout!.once('data', () => ok());
    sim.once('exit', (code) => fail(new Error(`the simulated board exited with ${code} before it was ready`)));
  });
  try {
    return body(shm);
  } finally {
    if (sim.exitCode === null && sim.signalCode === null) sim.kill('SIGTERM');
    await exited;
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'amp-labgrid-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!hasLabgrid)('the labgrid driver (skipped: /usr/bin/python3 has no labgrid; apt-get install python3-labgrid)', () => {
  it('probe, exercise and capture of a simulated board pass under labgrid\'s pytest plugin, with latency recorded', () => {
    const r = pytest('env-sim.yaml', []);
    expect(r.code, r.output).toBe(0);
    expect(r.cases).toEqual([
      { name: 'test_probe', failure: null },
      { name: 'test_exercise', failure: null },
      { name: 'test_capture', failure: null },
    ]);
    expect(r.suiteProperties.ENV_CONFIG).toBe(join(ROOT, 'labgrid/env-sim.yaml'));
    expect(r.suiteProperties.devices).toBe('2');
    expect(Number(r.suiteProperties.dev0_latency_p99_us)).toBeGreaterThan(0);
  }, 240_000);

  it('bound to a shared file, the driver probes a board in another process', async () => {
    const r = await withPeer(null, (shm) => pytest('env-shm.yaml', ['-k', 'test_probe'], { LG_AMP_SHM: shm }));
    expect(r.code, r.output).toBe(0);
    expect(r.cases).toEqual([{ name: 'test_probe', failure: null }]);
  }, 240_000);

  it('a board that cuts its answers short fails the probe test with the workbench\'s own words', async () => {
    const r = await withPeer('size-short', (shm) => pytest('env-shm.yaml', ['-k', 'test_probe'], { LG_AMP_SHM: shm }));
    expect(r.code).toBe(1);
    expect(r.cases).toHaveLength(1);
    expect(r.cases[0]!.failure).toMatch(/GET_DEVICE_FEATURES: malformed GET_DEVICE_FEATURES response .*msg_size 20, its layout needs 24 bytes/);
  }, 240_000);
});
