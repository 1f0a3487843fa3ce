/**
 * Every session records: a probe without --out leaves an automatic capture that stats reads, a
 * failed attach leaves its error marker, and the automatic captures stay bounded in bytes (ring
 * mode) and in number (the newest kept, only the workbench's own folders deleted).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { findBuiltinProfile } from '../../src/boards/builtin';
import { toRecords } from '../../src/trace/block';
import { MARKER_KINDS } from '../../src/trace/record';
import { nodeRuntime } from '../../main/host/runtime';
import { openSession, SessionError } from '../../main/host/session';
import { journalBytes, openJournal } from '../../main/host/trace/journal';
import { builtin, inThreadBoard } from '../unit/roles/driver/harness';
import { AUTOMATIC_CAPTURES_KEPT, ROLLING_CAPTURE_BYTES, Trace } from '../../main/host/trace/trace';

const BIN = resolve(__dirname, '../../main/host/cli/amp-workbench.cjs');
const root = mkdtempSync(join(tmpdir(), 'amp-session-trace-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `captures${n++}`);
const versal = findBuiltinProfile('sim-versal')!;

function cli(captures: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, AMP_WORKBENCH_CAPTURES: captures } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function markers(dir: string) {
  const o = openJournal(dir);
  if (!o.ok) throw new Error(o.error);
  return toRecords(o.value.blocks())
    .filter((r) => r.kind === 'marker')
    .map((r) => ({ kind: MARKER_KINDS[r.msgId], text: new TextDecoder().decode(r.data) }));
}

describe('every session leaves a trace', () => {
  it('probe without --out records into an automatic capture that stats reads, and says where', () => {
    const captures = fresh();
    const probe = cli(captures, 'probe', '--board', 'sim-versal', '--json');
    expect(probe.code, probe.stderr).toBe(0);
    const trace = (JSON.parse(probe.stdout) as { trace: string }).trace;
    expect(readdirSync(captures).map((f) => join(captures, f))).toEqual([trace]);
    expect(probe.stderr).toContain(`trace: ${trace}\n`);
    const stats = cli(captures, 'stats', trace, '--json');
    expect(stats.code, stats.stderr).toBe(0);
    const s = JSON.parse(stats.stdout) as { board: string; kinds: { message: number; doorbell: number }; notes: string[] };
    expect(s.board).toBe('sim-versal');
    expect(s.kinds.message).toBeGreaterThan(10);
    expect(s.kinds.doorbell).toBeGreaterThan(0);
    expect(s.notes).toContain('amp-workbench probe --board sim-versal');
  }, 30_000);

  it('a failed attach keeps its trace, ending with the error marker; the CLI reads it', async () => {
    const capturesDir = fresh();
    const err = await openSession({ ...versal, hostRole: 'device' }, { capture: { capturesDir } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SessionError);
    const { trace } = err as SessionError;
    expect(trace?.dir.startsWith(capturesDir)).toBe(true);
    expect(markers(trace!.dir).at(-1)).toEqual({ kind: 'error', text: (err as SessionError).message });
    expect((err as SessionError).message).toMatch(/hostRole "device"/);
    const stats = cli(capturesDir, 'stats', trace!.dir, '--json');
    expect(stats.code, stats.stderr).toBe(0);
  });

  it('capture without --out records into a rolling capture in the captures folder', () => {
    const captures = fresh();
    const cap = cli(captures, 'capture', '--board', 'sim-versal', '--duration', '100ms', '--json');
    expect(cap.code, cap.stderr).toBe(0);
    const summary = JSON.parse(cap.stdout) as { capture: string; records: number };
    expect(readdirSync(captures).map((f) => join(captures, f))).toEqual([summary.capture]);
    const manifest = JSON.parse(readFileSync(join(summary.capture, 'capture.json'), 'utf8')) as { journal: { ringBytes: number | null } };
    expect(manifest.journal.ringBytes).toBe(ROLLING_CAPTURE_BYTES);
    expect(markers(summary.capture).at(-1)!.kind).toBe('detach');
  }, 30_000);

  it('exercise --out records into the named folder, not the captures folder', () => {
    const captures = fresh();
    const out = join(root, 'named');
    const ex = cli(captures, 'exercise', '--board', 'sim-versal', '--count', '2', '--out', out);
    expect(ex.code, ex.stderr).toBe(0);
    expect(ex.stderr).toContain(`trace: ${out}\n`);
    expect(existsSync(captures)).toBe(false);
    expect(markers(out).at(-1)!.kind).toBe('detach');
  }, 30_000);
});

describe('doorbells in the trace', () => {
  it('each request is followed by the doorbell that announced it; every doorbell the board rang is there', async () => {
    const open = await inThreadBoard(builtin('sim-qemu-amp-pci'));
    const probed = await open.session.probe();
    expect(probed.ok).toBe(true);
    const { trace } = open.session;
    await open.close();
    const o = openJournal(trace.dir);
    if (!o.ok) throw new Error(o.error);
    const wire = toRecords(o.value.blocks()).filter((r) => r.kind === 'message' || r.kind === 'doorbell');
    const out = wire.filter((r) => r.dir === 'driver-to-device').map((r) => r.kind);
    expect(out.length).toBeGreaterThan(20);
    // One request at a time during bring-up, one doorbell per message, rung right after it is placed.
    expect(out).toEqual(out.map((_, i) => (i % 2 === 0 ? 'message' : 'doorbell')));
    expect(out.filter((k) => k === 'doorbell')).toHaveLength(open.bells.toDevice.rings);
    // The board's doorbells from the moment the endpoint listened (the handshake's came before).
    const rungBack = wire.filter((r) => r.kind === 'doorbell' && r.dir === 'device-to-driver').length;
    expect(rungBack).toBeGreaterThan(0);
    expect(rungBack).toBeLessThanOrEqual(open.bells.toDriver.rings);
  });
});

describe('automatic captures stay bounded', () => {
  it('in bytes: a rolling capture keeps only about its ring', () => {
    const capturesDir = fresh();
    const ringBytes = 1 << 20;
    const started = Trace.start(versal, 'test', { capturesDir, ringBytes }, nodeRuntime);
    if (!started.ok) throw new Error(started.error);
    const trace = started.value;
    const bytes = new Uint8Array(64);
    for (let i = 0; i < 100_000; i++) {
      trace.recorder.doorbell('driver-to-device');
      trace.recorder.message('driver-to-device', bytes);
      if (i % 1000 === 0) trace.recorder.flush();
    }
    const records = trace.close();
    expect(records).toBeGreaterThanOrEqual(200_000);
    // Well past the ring was written; what stays is the ring, give or take the segment being written.
    expect(journalBytes(trace.dir)).toBeLessThanOrEqual(ringBytes + (256 << 10));
    const o = openJournal(trace.dir);
    expect(o.ok && o.value.count).toBeLessThan(records / 2);
  });

  it('in number: the newest are kept, ones still being written and folders the user made are not touched', () => {
    const capturesDir = fresh();
    mkdirSync(join(capturesDir, '0000-mine'), { recursive: true });
    writeFileSync(join(capturesDir, '0000-mine', 'keep.txt'), 'the user made this');
    const start = () => {
      const t = Trace.start(versal, 'test', { capturesDir }, nodeRuntime);
      if (!t.ok) throw new Error(t.error);
      return t.value;
    };
    // The oldest stays open: being written, it is never deleted.
    const open = start();
    const manifest = JSON.parse(readFileSync(join(open.dir, 'capture.json'), 'utf8')) as { journal: { ringBytes: number | null } };
    expect(manifest.journal.ringBytes).toBe(ROLLING_CAPTURE_BYTES);
    const closed = Array.from({ length: AUTOMATIC_CAPTURES_KEPT + 5 }, () => {
      const t = start();
      t.close();
      return t.dir;
    });
    const left = readdirSync(capturesDir).map((f) => join(capturesDir, f));
    expect(left.sort()).toEqual([join(capturesDir, '0000-mine'), open.dir, ...closed.slice(-AUTOMATIC_CAPTURES_KEPT)].sort());
    open.close();
    start().close();
    expect(existsSync(open.dir)).toBe(false);
    expect(existsSync(join(capturesDir, '0000-mine', 'keep.txt'))).toBe(true);
    expect(readdirSync(capturesDir)).toHaveLength(AUTOMATIC_CAPTURES_KEPT + 1);
  });
});
