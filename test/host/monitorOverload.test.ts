/**
 * The monitor deliberately outrun, three processes over shm-file with the native watcher
 * thread: a simulated board (sim --shm), our driver under continuous load (capture --exercise)
 * and `amp-workbench monitor`, which the test stops (SIGSTOP) for known times while the driver
 * and the device go on. Checked against the driver's own capture, per direction: what the
 * monitor recorded is the driver's messages in order with some left out, and every message it
 * left out is counted in a DROPPED marker — except whole laps of the ring, which wrapping
 * indices cannot show: those are allowed only inside a window the capture itself names ("could
 * not look at the … ring between … and …"), and only as a multiple of N.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

import { afterAll, describe, expect, it } from 'vitest';

import { toRecords } from '../../src/trace/block';
import { MARKER_KINDS, type TraceRecord } from '../../src/trace/record';
import { loadCapture } from '../../main/host/trace/load';
import { loadNative } from '../../main/native/index';

const native = loadNative();
const BIN = resolve(__dirname, '../../main/host/cli/amp-workbench.cjs');
const dir = mkdtempSync(join(readFileSync('/proc/mounts', 'utf8').includes(' /dev/shm ') ? '/dev/shm' : tmpdir(), 'amp-overload-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function start(args: string[]): { child: ChildProcess; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.resume();
  return { child, stderr: () => err, exited: new Promise((r) => child.once('exit', (code) => r(code))) };
}

const line = (child: ChildProcess, stream: 'stdout' | 'stderr', pattern: RegExp) =>
  new Promise<void>((ok, fail) => {
    createInterface({ input: child[stream]! }).on('line', (l) => pattern.test(l) && ok());
    child.once('exit', (code) => fail(new Error(`exited with ${code} first`)));
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function records(path: string): TraceRecord[] {
  const o = loadCapture(path);
  if (!o.ok) throw new Error(o.error);
  return toRecords(o.value.blocks());
}
const along = (rs: TraceRecord[], dir_: string) => rs.filter((r) => r.kind === 'message' && r.dir === dir_).map((r) => Buffer.from(r.data).toString('hex'));
const markers = (rs: TraceRecord[], kind: string) => rs.filter((r) => r.kind === 'marker' && MARKER_KINDS[r.msgId] === kind).map((r) => new TextDecoder().decode(r.data));
const ARROWS: Record<string, string> = { 'driver-to-device': 'driver→device', 'device-to-driver': 'device→driver' };

/** How many of `whole` are left out to give `part` (in order), or -1 when `part` is not a subsequence. */
function leftOut(part: string[], whole: string[]): number {
  let i = 0;
  for (const m of whole) if (i < part.length && part[i] === m) i++;
  return i === part.length ? whole.length - part.length : -1;
}

describe.skipIf(!native.ok)(native.ok ? 'monitor outrun on purpose (SIGSTOP), three processes' : `monitor overload (skipped: ${native.error})`, () => {
  it('counts every message it missed in DROPPED markers, and names the windows where whole laps could hide', { timeout: 90_000 }, async () => {
    const args = ['--board', 'sim-qemu-amp-pci'];
    const file = join(dir, 'amp');
    const sim = start(['sim', ...args, '--shm', file]);
    await line(sim.child, 'stdout', /./);
    const monOut = join(dir, 'mon');
    const mon = start(['monitor', ...args, '--link', `shm-file:${file}`, '--out', monOut]);
    await line(mon.child, 'stderr', /^monitoring .* read-only; trace: /);
    expect(mon.stderr()).toMatch(/notice: rings followed by the native watcher thread/);
    const drvOut = join(dir, 'drv');
    const driver = start(['capture', ...args, '--link', `shm-file:${file}`, '--out', drvOut, '--exercise', '--duration', '6s']);
    await sleep(1500);
    // Stalls from shorter than a lap of the 63-slot ring at this load to many laps.
    for (const ms of [1, 20, 300]) {
      mon.child.kill('SIGSTOP');
      await sleep(ms);
      mon.child.kill('SIGCONT');
      await sleep(400);
    }
    expect(await driver.exited, driver.stderr()).toBe(0);
    await sleep(300);
    mon.child.kill('SIGINT');
    expect(await mon.exited, mon.stderr()).toBe(130);
    sim.child.kill('SIGTERM');

    const drv = records(drvOut);
    const seen = records(monOut);
    const notes = markers(seen, 'note');
    let missedTotal = 0;
    for (const d of ['driver-to-device', 'device-to-driver']) {
      const want = along(drv, d);
      const got = along(seen, d);
      expect(want.length).toBeGreaterThan(1000);
      const missed = leftOut(got, want);
      expect(missed, `${d}: the monitor's messages are the driver's, in order, some left out`).toBeGreaterThanOrEqual(0);
      const dropped = markers(seen, 'dropped')
        .filter((t) => t.includes(ARROWS[d]!))
        .reduce((sum, t) => sum + Number(/^(\d+) /.exec(t)![1]), 0);
      const stalls = notes.filter((t) => t.startsWith(`the monitor could not look at the ${ARROWS[d]} ring`));
      // The 300 ms stop is said, with the ring's N.
      expect(stalls.length, notes.join('\n')).toBeGreaterThan(0);
      const n = Number(/\(N = (\d+)\)/.exec(stalls[0]!)![1]);
      const uncounted = missed - dropped;
      expect(uncounted, `${d}: missed ${missed}, DROPPED ${dropped}`).toBeGreaterThanOrEqual(0);
      expect(uncounted % n, `${d}: missed ${missed}, DROPPED ${dropped}, N = ${n}`).toBe(0);
      missedTotal += missed;
    }
    // The stops did outrun it.
    expect(missedTotal).toBeGreaterThan(0);
  });
});
