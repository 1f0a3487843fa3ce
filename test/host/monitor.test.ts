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
  // accounting (every message recorded or counted in a DROPPED marker, none torn). R0 numbers
  // EVENT_USED 0x12.
  { format: 'openamp-static-v1 (r0)', board: ['--board', 'sim-stm32mp157'], overlapping: true, eventUsed: /^device-to-driver 0012/ },
];

/**
 * A device→driver EVENT_USED (type 0x00, msg_id 0x42 from R1 on): the device may publish one after
 * the driver's last drain (it updates the used ring first, and the driver may finish on that),
 * so the monitor sees it and the driver's capture cannot.
 */
const EVENT_USED = /^device-to-driver 0042/;

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
const DIRS = ['driver-to-device', 'device-to-driver'];

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

/**
 * Whether `part` is `whole` with some elements left out, in order; elements of `part` after the
 * last of `whole` must match `after` (events the driver never drained, see below).
 */
function subsequenceOf(part: string[], whole: string[], after?: RegExp): boolean {
  let i = 0;
  for (const m of whole) if (i < part.length && part[i] === m) i++;
  return part.slice(i).every((m) => after?.test(m) ?? false);
}

/** Whether the capture says the host held the monitor up long enough for an uncounted lap of `dir`'s ring. */
const saidLate = (rs: TraceRecord[], dir: string) => markers(rs, 'note').some((t) => t.startsWith(`the monitor could not look at the ${ARROWS[dir]} ring`));

/**
 * Whether the capture accounts exactly for a run of `whole` (the messages the bus carried in
 * `dir`): read in capture order, each message is the next one the bus carried and each DROPPED
 * marker skips exactly as many as it counts. The run starts at the beginning of `whole` when
 * `fromStart`, and then must reach its end (messages after it must match `after`); otherwise it
 * may start and end anywhere. A monitor the host held up is allowed to lose messages, never to
 * lose them unsaid.
 */
function accounted(rs: TraceRecord[], dir: string, whole: string[], opts: { fromStart: boolean; after?: RegExp }): boolean {
  const steps: ({ message: string } | { skip: number })[] = [];
  for (const r of rs) {
    if (r.kind === 'message' && r.dir === dir) steps.push({ message: `${r.dir} ${Buffer.from(r.data).toString('hex')}` });
    const text = r.kind === 'marker' && MARKER_KINDS[r.msgId] === 'dropped' ? new TextDecoder().decode(r.data) : '';
    if (text.includes(ARROWS[dir]!)) steps.push({ skip: Number(/^(\d+) /.exec(text)![1]) });
  }
  const firstMessage = steps.findIndex((s) => 'message' in s);
  if (firstMessage < 0) return !opts.fromStart || whole.length === 0;
  const skippedFirst = steps.slice(0, firstMessage).reduce((n, s) => n + ('skip' in s ? s.skip : 0), 0);
  const first = (steps[firstMessage] as { message: string }).message;
  const starts = opts.fromStart ? [skippedFirst] : whole.flatMap((m, i) => (m === first ? [i] : []));
  return starts.some((start) => {
    let at = start - skippedFirst;
    if (at < 0) return false;
    for (const s of steps) {
      if ('skip' in s) at += s.skip;
      else if (at < whole.length ? whole[at] === s.message : opts.after?.test(s.message)) at++;
      else return false;
      if (at > whole.length && !opts.after) return false;
    }
    return !opts.fromStart || at >= whole.length;
  });
}

async function exercise(args: string[], file: string, out: string): Promise<void> {
  const run = start(['exercise', ...args, '--link', `shm-file:${file}`, '--out', out, '--count', '15']);
  expect(await finish(run), run.stderr).toBe(0);
  expect(run.stdout).toMatch(/\n0 problems, 0 findings\n$/);
}

describe.skipIf(!native.ok)(native.ok ? 'monitor over shm-file, three processes' : `monitor (skipped: ${native.error})`, () => {
  describe.each(BOARDS)('$format', ({ board: args, overlapping, eventUsed = EVENT_USED }) => {
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
      const lost = (d: string) => markers(seen, 'dropped').filter((t) => t.includes(ARROWS[d]!)).reduce((sum, t) => sum + Number(/^(\d+) /.exec(t)![1]), 0);
      expect(mon.stdout).toContain(`lost (DROPPED) ${lost('driver-to-device')} / ${lost('device-to-driver')}`);
      // A monitor may be outrun (the overlapping slots always can be; on a host that runs it
      // late, any ring): then the capture says exactly which messages it lost, where, or when
      // it could not look (a lap of the ring in that time cannot be counted).
      const outrun = markers(seen, 'dropped').length > 0 || DIRS.some((d) => saidLate(seen, d));
      if (overlapping || outrun) {
        if (!overlapping) console.log(`${args.join(' ')}: the monitor was outrun on this host; held to its accounting`);
        for (const d of DIRS) {
          const whole = along(expected, d);
          const after = d === 'device-to-driver' ? { after: eventUsed } : {};
          if (saidLate(seen, d)) expect(subsequenceOf(along(got, d), whole, after.after), d).toBe(true);
          else expect(accounted(seen, d, whole, { fromStart: true, ...after }), d).toBe(true);
        }
        return;
      }
      expect(along(got, 'driver-to-device')).toEqual(along(expected, 'driver-to-device'));
      // EVENT_USED after the driver's last drain: see EVENT_USED.
      const up = along(got, 'device-to-driver');
      const drained = along(expected, 'device-to-driver');
      expect(up.slice(0, drained.length)).toEqual(drained);
      expect(up.slice(drained.length).filter((m) => !eventUsed.test(m))).toEqual([]);
      expect(lanes(seen)).toEqual(lanes(drv));
      expect(markers(seen, 'note').filter((t) => t.startsWith('joined mid-session'))).toEqual([]);
      // Pairing: every response the driver paired is paired by the monitor too.
      const paired = (rs: TraceRecord[]) => rs.filter((r) => r.kind === 'message' && r.pairSeq !== null).length;
      expect(paired(seen)).toBe(paired(drv));
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
      for (const d of DIRS) {
        // A contiguous run of the bus, but for what the capture says it lost (DROPPED, exactly
        // counted) or could not see (the host paused the monitor long enough to be lapped).
        const fits = saidLate(rs, d) ? subsequenceOf(along(got, d), along(all, d)) : accounted(rs, d, along(all, d), { fromStart: false });
        expect(fits, `${d}: ${along(got, d).slice(0, 3).join(' | ')} … in ${along(all, d).length}`).toBe(true);
      }
    }
  });

  it('a monitor the host holds up says when it could not look, and what it recorded is still the bus in order', { timeout: 60_000 }, async () => {
    const args = ['--board', 'sim-qemu-amp-pci'];
    const file = await board(args);
    const watched = fresh('mon');
    const mon = await monitor(args, file, watched);
    const driven = fresh('drv');
    const driver = start(['capture', ...args, '--link', `shm-file:${file}`, '--out', driven, '--exercise', '--duration', '3s']);
    // The host does not run the monitor for 40 ms at a time (every thread of it, as a busy
    // machine may): each pause is said, and nothing torn or out of order is recorded.
    let pauses = 0;
    const pausing = (async () => {
      while (driver.child.exitCode === null && pauses < 20) {
        await new Promise((r) => setTimeout(r, 60));
        mon.child.kill('SIGSTOP');
        await new Promise((r) => setTimeout(r, 40));
        mon.child.kill('SIGCONT');
        pauses++;
      }
    })();
    await pausing;
    driver.child.kill('SIGINT');
    await finish(driver);
    mon.child.kill('SIGINT');
    expect(await finish(mon), mon.stderr).toBe(130);
    const seen = records(watched);
    const all = messages(records(driven));
    const notes = markers(seen, 'note').filter((t) => /^the monitor could not look at the (driver→device|device→driver) ring /.test(t));
    expect(pauses).toBe(20);
    expect(notes.length).toBeGreaterThan(0);
    // Every pause of 40 ms falls in a window a note names (at most one note a second per ring,
    // the pauses between said together).
    for (const t of notes) expect(t).toMatch(/ between [\d.]+ ms and [\d.]+ ms(, the longest from [\d.]+ ms to [\d.]+ ms)? \(the host did not run it\)/);
    for (const d of DIRS) {
      expect(along(messages(seen), d).length).toBeGreaterThan(20);
      // The driver was stopped mid-exercise: its device may publish an EVENT_USED after its last drain.
      expect(subsequenceOf(along(messages(seen), d), along(all, d), EVENT_USED), d).toBe(true);
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
