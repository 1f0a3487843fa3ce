/**
 * The passive monitor as a third process (docs/amp-bus.md §4): a simulated board on a shm file
 * (sim --shm), our driver (exercise, capture) and `amp-workbench monitor`, each its own
 * process over real shared memory. For every queue format the monitor's capture holds the
 * driver's messages — bytes, directions and order — and the driver sees no difference whether
 * the monitor runs or not (same messages, socket doorbells still its own). A monitor that joins
 * a running bus says so, and one stopped and started again picks up where the bus is.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

import { afterAll, afterEach, describe, expect, it } from 'vitest';

import qemuRaw from '../../src/boards/profiles/sim-qemu-amp-pci.json';
import { toRecords } from '../../src/trace/block';
import { MARKER_KINDS, RECORD_FLAGS, type TraceRecord } from '../../src/trace/record';
import { loadCapture } from '../../main/host/trace/load';
import { loadNative } from '../../main/native/index';

const native = loadNative();
const BIN = resolve(__dirname, '../../main/host/cli/amp-workbench.cjs');
const dir = mkdtempSync(join(readFileSync('/proc/mounts', 'utf8').includes(' /dev/shm ') ? '/dev/shm' : tmpdir(), 'amp-monitor-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const fresh = (name: string) => join(dir, `${name}${counter++}`);

/** The QEMU board with spsc rings instead of the self-describing layout. */
function spscProfile(format: 'spsc-v0' | 'spsc-v1'): string {
  const file = join(dir, `${format}.json`);
  writeFileSync(file, JSON.stringify({ ...qemuRaw, id: `sim-qemu-amp-pci-${format}`, description: `sim-qemu-amp-pci with ${format} rings`, bus: { ...qemuRaw.bus, format, handshake: 'none' } }));
  return file;
}

const BOARDS = [
  { format: 'spsc-v0', board: ['--profile', spscProfile('spsc-v0')] },
  { format: 'spsc-v1', board: ['--profile', spscProfile('spsc-v1')] },
  { format: 'vmamp-shmem-v1 (r4)', board: ['--board', 'sim-qemu-amp-pci'] },
  { format: 'vmamp-shmem-v1 (r3)', board: ['--board', 'sim-versal'] },
  // The firmware's stride quirk overlaps the slots: a slot the device already took may be
  // rewritten before a polling monitor copies it, so there the test holds the monitor to its
  // accounting (every message recorded or counted in a DROPPED marker, none torn).
  { format: 'openamp-static-v1 (r0)', board: ['--board', 'sim-stm32mp157'], overlapping: true },
];

interface Run {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

const running: Run[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGTERM');
    await r.exited;
  }
});

function start(args: string[]): Run {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const run: Run = { child, stdout: '', stderr: '', exited: new Promise((r) => child.once('exit', (code) => r(code))) };
  child.stdout!.on('data', (d: Buffer) => (run.stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (run.stderr += d.toString()));
  running.push(run);
  return run;
}

/** Resolves at the first line on `stream` matching `pattern`; rejects if the process ends first. */
function lineOf(run: Run, stream: 'stdout' | 'stderr', pattern: RegExp): Promise<void> {
  return new Promise((ok, fail) => {
    createInterface({ input: run.child[stream]! }).on('line', (l) => pattern.test(l) && ok());
    void run.exited.then((code) => fail(new Error(`exited with ${code} first: ${run.stderr}`)));
  });
}

async function board(args: string[]): Promise<string> {
  const file = fresh('amp');
  const run = start(['sim', ...args, '--shm', file]);
  await lineOf(run, 'stdout', /./);
  return file;
}

async function monitor(args: string[], file: string, out: string): Promise<Run> {
  const run = start(['monitor', ...args, '--link', `shm-file:${file}`, '--out', out]);
  await lineOf(run, 'stderr', /^monitoring .* read-only; trace: /);
  return run;
}

async function finish(run: Run): Promise<number | null> {
  const code = await run.exited;
  return code;
}

function records(path: string): TraceRecord[] {
  const o = loadCapture(path);
  if (!o.ok) throw new Error(o.error);
  return toRecords(o.value.blocks());
}

/** Each message as "direction hex-bytes", in capture order. */
const messages = (rs: TraceRecord[]) => rs.filter((r) => r.kind === 'message').map((r) => `${r.dir} ${Buffer.from(r.data).toString('hex')}`);
const markers = (rs: TraceRecord[], kind: string) => rs.filter((r) => r.kind === 'marker' && MARKER_KINDS[r.msgId] === kind).map((r) => new TextDecoder().decode(r.data));
const along = (ms: string[], dir: string) => ms.filter((m) => m.startsWith(dir));
const ARROWS: Record<string, string> = { 'driver-to-device': 'driver→device', 'device-to-driver': 'device→driver' };

/** Requests and responses per lane (the bus, or a dev_num), both directions in capture order. */
function lanes(rs: TraceRecord[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of rs) {
    if (r.kind !== 'message' || r.flags & RECORD_FLAGS.event) continue;
    const lane = `${r.flags & RECORD_FLAGS.bus ? 'bus' : 'dev'} ${r.devNum}`;
    (out[lane] ??= []).push(`${r.dir} ${Buffer.from(r.data).toString('hex')}`);
  }
  return out;
}

/** Whether `part` is `whole` with some elements left out, in order. */
function subsequenceOf(part: string[], whole: string[]): boolean {
  let i = 0;
  for (const m of whole) if (i < part.length && part[i] === m) i++;
  return i === part.length;
}

/** Whether `part` occurs in `whole` as one contiguous run. */
function contiguousIn(part: string[], whole: string[]): boolean {
  if (part.length === 0) return true;
  for (let i = whole.indexOf(part[0]!); i >= 0; i = whole.indexOf(part[0]!, i + 1)) {
    if (part.every((m, k) => whole[i + k] === m)) return true;
  }
  return false;
}

async function exercise(args: string[], file: string, out: string): Promise<void> {
  const run = start(['exercise', ...args, '--link', `shm-file:${file}`, '--out', out, '--count', '15']);
  expect(await finish(run), run.stderr).toBe(0);
  expect(run.stdout).toMatch(/\n0 problems, 0 findings\n$/);
}

describe.skipIf(!native.ok)(native.ok ? 'monitor over shm-file, three processes' : `monitor (skipped: ${native.error})`, () => {
  describe.each(BOARDS)('$format', ({ board: args, overlapping }) => {
    it("records the driver's messages byte for byte, both directions, in order; the driver sees no difference", { timeout: 60_000 }, async () => {
      const file = await board(args);
      const watched = fresh('mon');
      const mon = await monitor(args, file, watched);
      const driven = fresh('drv');
      await exercise(args, file, driven);
      await new Promise((r) => setTimeout(r, 300));
      mon.child.kill('SIGINT');
      expect(await finish(mon), mon.stderr).toBe(130);
      // Mapped memory is followed by the addon's thread, not by JavaScript.
      expect(mon.stderr).toMatch(/^notice: rings followed by the native watcher thread at (real-time|ordinary) priority/m);

      const drv = records(driven);
      const seen = records(watched);
      const expected = messages(drv);
      expect(expected.length).toBeGreaterThan(50);
      // The driver saw no difference: every workload passed (exercise exits 0 only then), over
      // its own doorbell socket, with no problem on the bus.
      expect(loadMeta(driven).link).toContain('doorbells: socket');
      expect(markers(drv, 'error')).toEqual([]);
      // Everything, per direction in order; across directions in the order the protocol gives
      // (request, response, next request on each lane). Events of different queues have no
      // order between the directions that either side could see (the driver records a message
      // when it drains it, not when it was published).
      const got = messages(seen);
      if (overlapping) {
        for (const d of ['driver-to-device', 'device-to-driver']) {
          const lost = markers(seen, 'dropped')
            .filter((t) => t.includes(ARROWS[d]!))
            .reduce((sum, t) => sum + Number(/^(\d+) /.exec(t)![1]), 0);
          // A 4-slot ring laps in 4 messages: on a host that does not run the monitor for a
          // while that cannot be counted, but the capture must say it happened.
          const saidLate = markers(seen, 'note').some((t) => t.startsWith(`the monitor could not look at the ${ARROWS[d]} ring`));
          if (!saidLate) expect(along(got, d).length + lost).toBe(along(expected, d).length);
          else expect(along(got, d).length + lost).toBeLessThanOrEqual(along(expected, d).length);
          expect(subsequenceOf(along(got, d), along(expected, d))).toBe(true);
        }
        return;
      }
      expect(along(got, 'driver-to-device')).toEqual(along(expected, 'driver-to-device'));
      // The device may publish an event (a console's EVENT_USED) after the driver stopped
      // draining: the monitor sees it, the driver's capture cannot (type 0x00, msg_id 0x42).
      const up = along(got, 'device-to-driver');
      const drained = along(expected, 'device-to-driver');
      expect(up.slice(0, drained.length)).toEqual(drained);
      expect(up.slice(drained.length).filter((m) => !/^device-to-driver 0042/.test(m))).toEqual([]);
      expect(lanes(seen)).toEqual(lanes(drv));
      expect(markers(seen, 'dropped')).toEqual([]);
      expect(markers(seen, 'note').filter((t) => t.startsWith('joined mid-session'))).toEqual([]);
      // Pairing: every response the driver paired is paired by the monitor too.
      const paired = (rs: TraceRecord[]) => rs.filter((r) => r.kind === 'message' && r.pairSeq !== null).length;
      expect(paired(seen)).toBe(paired(drv));
      expect(mon.stdout).toMatch(/lost \(DROPPED\) 0 \/ 0/);
    });
  });

  it('a monitor started mid-session says so; stopped and started again, each sees a contiguous run of the bus', { timeout: 60_000 }, async () => {
    const args = ['--board', 'sim-qemu-amp-pci'];
    const file = await board(args);
    const driven = fresh('drv');
    const driver = start(['capture', ...args, '--link', `shm-file:${file}`, '--out', driven, '--exercise', '--duration', '8s']);
    await new Promise((r) => setTimeout(r, 1200));
    const first = fresh('mon');
    const a = await monitor(args, file, first);
    await new Promise((r) => setTimeout(r, 500));
    a.child.kill('SIGINT');
    expect(await finish(a), a.stderr).toBe(130);
    const second = fresh('mon');
    const b = await monitor(args, file, second);
    await new Promise((r) => setTimeout(r, 500));
    b.child.kill('SIGINT');
    expect(await finish(b), b.stderr).toBe(130);
    driver.child.kill('SIGINT');
    await finish(driver);

    const all = messages(records(driven));
    for (const capture of [first, second]) {
      const rs = records(capture);
      const joined = markers(rs, 'note').filter((t) => t.startsWith('joined mid-session'));
      expect(joined).toHaveLength(1);
      expect(joined[0], joined[0]).toMatch(/heads: driver RUN, device RUN\)\. Not seen: everything before this point — the queue handshake, GET_DEVICES/);
      const got = messages(rs);
      expect(got.length).toBeGreaterThan(20);
      for (const d of ['driver-to-device', 'device-to-driver']) {
        // Contiguous, unless the capture says the host paused the monitor long enough to be lapped.
        const saidLate = markers(rs, 'note').some((t) => t.startsWith(`the monitor could not look at the ${ARROWS[d]} ring`));
        const fits = saidLate ? subsequenceOf(along(got, d), along(all, d)) : contiguousIn(along(got, d), along(all, d));
        expect(fits, `${d}: ${along(got, d).slice(0, 3).join(' | ')} … in ${along(all, d).length}`).toBe(true);
      }
      expect(markers(rs, 'dropped')).toEqual([]);
    }
  });

  it('an spsc driver that restarts is said once, and the slots its index went back over are not taken for messages', { timeout: 60_000 }, async () => {
    const args = ['--profile', spscProfile('spsc-v1')];
    const file = await board(args);
    const watched = fresh('mon');
    const mon = await monitor(args, file, watched);
    const runs = [fresh('drv'), fresh('drv')];
    // 57 driver→device messages each: the second driver zeroes the producer index at 57 of N = 62.
    for (const out of runs) await exercise(args, file, out);
    await new Promise((r) => setTimeout(r, 300));
    mon.child.kill('SIGINT');
    expect(await finish(mon), mon.stderr).toBe(130);
    const seen = records(watched);
    const sent = runs.flatMap((out) => along(messages(records(out)), 'driver-to-device'));
    expect(along(messages(seen), 'driver-to-device')).toEqual(sent);
    const restarts = markers(seen, 'note').filter((t) => t.includes('side restarted'));
    expect(restarts).toHaveLength(1);
    expect(restarts[0]).toMatch(
      /^monitor: the driver side restarted \(spsc-v1 has no status word\): its driver→device ring stood still from [\d.]+ ms, then its producer index went from (\d+) back to 0; slots \1 to 61 hold no new message \(unchanged or wiped\) and are not taken for \d+ new ones$/,
    );
    expect(markers(seen, 'dropped')).toEqual([]);
  });
});

function loadMeta(path: string): { link: string } {
  const o = loadCapture(path);
  if (!o.ok) throw new Error(o.error);
  return o.value.meta;
}
