/** `--link` as a user types it: the CLI reaching boards over shm-file and QEMU's qtest socket. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';

import { loadNative } from '../../main/native/index';

const BIN = resolve(__dirname, '../../main/host/cli/amp-workbench.cjs');
const FAKE_QEMU = resolve(__dirname, 'fakeQtestMain.ts');
const native = loadNative();

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'amp-link-cli-'));
  dirs.push(d);
  return d;
}

/** Runs the CLI to completion, collecting its output. */
function runAsync(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((res) => child.once('exit', (code) => res({ code, stdout, stderr })));
  return { child, done };
}

describe('amp-workbench --link', () => {
  it('a bad link spec is a usage error that lists the kinds', () => {
    const r = spawnSync(process.execPath, [BIN, 'probe', '--link', 'tcp:1.2.3.4'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--link "tcp:1.2.3.4": unknown link kind "tcp"; expected sim | shm-file:FILE[,poll] | serial:PORT[@BAUD]');
  });

  it.skipIf(!native.ok)('probes a simulated board running as its own process over shm-file', async () => {
    const file = join(tempDir(), 'amp0');
    const sim = spawn(process.execPath, [BIN, 'sim', '--board', 'sim-versal', '--shm', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(sim);
    const ready = await new Promise<string>((res) => createInterface({ input: sim.stdout! }).once('line', res));
    expect(ready).toBe(`ready ${file} ${file}.sock`);
    const r = await runAsync(['probe', '--board', 'sim-versal', '--link', `shm-file:${file}`, '--json']).done;
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { devices: { phase: string }[]; notices: string[] };
    expect(out.devices.map((d) => d.phase)).toEqual(['ready', 'ready']);
    expect(out.notices).toEqual([]);
  }, 60_000);

  it('probes QEMU through its qtest socket (a fake QEMU that connects, as with plain -qtest unix:PATH)', async () => {
    const sock = join(tempDir(), 'qtest.sock');
    const probe = runAsync(['probe', '--board', 'qemu-qtest-amp-pci', '--link', `qtest:${sock},listen`, '--json']);
    for (let i = 0; i < 200 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
    const qemu = spawn(process.execPath, [require.resolve('tsx/cli'), FAKE_QEMU, '{}', '-qtest', `unix:${sock}`, '-accel', 'qtest'], { stdio: 'ignore' });
    children.push(qemu);
    const r = await probe.done;
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { devices: { phase: string; deviceType: string }[]; notices: string[] };
    expect(out.devices.every((d) => d.phase === 'ready')).toBe(true);
    expect(out.notices.some((n) => /poll/i.test(n))).toBe(true);
  }, 60_000);
});
