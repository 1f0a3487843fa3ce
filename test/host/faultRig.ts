/**
 * Runs the real CLI against a misbehaving board (`amp-workbench sim --fault …`) in its own
 * process over a shm file, and reads back what both sides say: the CLI's exit status and text,
 * the board's log of every message it published, and the capture when the command wrote one.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { expect } from 'vitest';

import qemuRaw from '../../src/boards/profiles/sim-qemu-amp-pci.json';
import versalRaw from '../../src/boards/profiles/sim-versal.json';
import { toRecords } from '../../src/trace/block';
import { MARKER_KINDS, problemCodes, type TraceRecord } from '../../src/trace/record';
import { parseHex } from '../../src/util/hex';
import { loadCapture } from '../../main/host/trace/load';

const BIN = resolve(__dirname, '../../main/host/cli/amp-workbench.cjs');
const SIM = resolve(__dirname, '../../main/host/sim/shm-entry.cjs');
export const dir = mkdtempSync(join(readFileSync('/proc/mounts', 'utf8').includes(' /dev/shm ') ? '/dev/shm' : tmpdir(), 'amp-faults-'));

/**
 * Test profiles: the simulated boards with a 500 ms response timeout, so a fault costs little
 * time while a board slowed down by a loaded machine still answers in time.
 */
export const RESPONSE_MS = 500;
function fastProfile(raw: typeof versalRaw | typeof qemuRaw, id: string): string {
  const file = join(dir, `${id}.json`);
  writeFileSync(file, JSON.stringify({ ...raw, id, bus: { ...raw.bus, timeouts: { layoutMs: 3000, peerMs: 3000, responseMs: RESPONSE_MS } } }));
  return file;
}
export const BOARDS = {
  /** R3, like QEMU's model. */
  versal: fastProfile(versalRaw, 'sim-versal-fast'),
  /** R4. */
  qemu: fastProfile(qemuRaw, 'sim-qemu-fast'),
};
/** Both boards' queues: vmamp-shmem-v1 with QEMU's layout, 64-byte slots. */
export const SLOT = 64;

export interface Published {
  seq: number;
  direction: 'driver-to-device' | 'device-to-driver';
  bytes: Uint8Array;
  /** Published when the workbench's queue head had already left RUN: no capture can hold it. */
  afterDriverLeft: boolean;
}

export interface FaultRun {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** What the user reads: stdout and stderr. */
  text: string;
  /** The board's log (sim stderr). */
  simLog: string;
  published: Published[];
  /** The capture's records, when the command was `capture`. */
  records: TraceRecord[] | null;
}

/** A line of the board's --published log. */
type LogLine = { seq: number; direction: Published['direction']; bytes: string; afterDriverLeft?: boolean };

let counter = 0;

/**
 * Starts the board with `fault` (null: a board that behaves), runs `amp-workbench ARGS --profile … --link shm-file:…` (with
 * `--out DIR` for capture), stops the board and collects everything. A run that must stop
 * (timeout) is killed after `timeoutMs`.
 */
export async function runWithFault(board: keyof typeof BOARDS, fault: string | null, args: string[], timeoutMs = 30_000): Promise<FaultRun> {
  const n = counter++;
  const shm = join(dir, `amp${n}`);
  const publishedPath = join(dir, `published${n}.jsonl`);
  const profile = BOARDS[board];
  const sim = spawn(process.execPath, [SIM, '--profile', profile, '--shm', shm, ...(fault === null ? [] : ['--fault', fault]), '--published', publishedPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let simLog = '';
  sim.stderr!.on('data', (d: Buffer) => (simLog += d.toString()));
  const exited = new Promise<void>((r) => sim.once('exit', () => r()));
  await new Promise<void>((ok, fail) => {
    let out = '';
    sim.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) ok();
    });
    sim.once('exit', (code) => fail(new Error(`board exited with ${code} before it was ready: ${simLog}`)));
  });
  const captureDir = args[0] === 'capture' ? join(dir, `capture${n}`) : null;
  const cli = spawnSync(process.execPath, [BIN, ...args, '--profile', profile, '--link', `shm-file:${shm}`, ...(captureDir ? ['--out', captureDir] : [])], {
    encoding: 'utf8',
    timeout: timeoutMs,
    // capture treats SIGTERM as "stop recording", which a stalled bring-up does not reach.
    killSignal: 'SIGKILL',
  });
  if (sim.exitCode === null && sim.signalCode === null) sim.kill('SIGTERM');
  await exited;
  const lines = existsSync(publishedPath) ? readFileSync(publishedPath, 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as LogLine) : [];
  const published = lines.map((j) => ({ seq: j.seq, direction: j.direction, bytes: parseHex(j.bytes) ?? new Uint8Array(0), afterDriverLeft: j.afterDriverLeft === true }));
  let records: TraceRecord[] | null = null;
  if (captureDir) {
    const c = loadCapture(captureDir);
    if (!c.ok) throw new Error(`${c.error}\n${cli.stdout}${cli.stderr}`);
    records = toRecords(c.value.blocks());
  }
  return { code: cli.status, signal: cli.signal, stdout: cli.stdout, stderr: cli.stderr, text: cli.stdout + cli.stderr, simLog, published, records };
}

/** What the capture records for a slot the board published: trimmed to msg_size, the whole slot when msg_size is unusable (src/bus/endpoint.ts). */
export function recordedBytes(sent: Uint8Array): Uint8Array {
  const slot = new Uint8Array(SLOT);
  slot.set(sent);
  const msgSize = sent.length >= 8 ? sent[6]! | (sent[7]! << 8) : 0;
  return msgSize >= 8 && msgSize <= SLOT ? slot.subarray(0, msgSize) : slot;
}

/** Every message the board published before the workbench left is in the capture, byte for byte and in order. */
export function expectCaptureHoldsPublished(run: FaultRun): void {
  const captured = run.records!.filter((r) => r.kind === 'message' && r.dir === 'device-to-driver').map((r) => Buffer.from(r.data).toString('hex'));
  const sent = run.published.filter((p) => p.direction === 'device-to-driver' && !p.afterDriverLeft);
  expect(sent.length).toBeGreaterThan(0);
  let at = 0;
  const missing: string[] = [];
  for (const p of sent) {
    const want = Buffer.from(recordedBytes(p.bytes)).toString('hex');
    const found = captured.indexOf(want, at);
    if (found < 0) missing.push(`#${p.seq} ${want}`);
    else at = found + 1;
  }
  expect(missing, `published by the board, missing from the capture (${captured.length} device-to-driver records)`).toEqual([]);
}

export function markers(run: FaultRun): { kind: string; text: string }[] {
  return run.records!.filter((r) => r.kind === 'marker').map((r) => ({ kind: MARKER_KINDS[r.msgId] ?? '?', text: new TextDecoder().decode(r.data) }));
}

/** The session ended badly: an ERROR marker saying why, then DETACH. */
export function expectErrorThenDetach(run: FaultRun, why?: RegExp): void {
  const m = markers(run);
  expect(m.slice(-2).map((x) => x.kind)).toEqual(['error', 'detach']);
  if (why) expect(m.at(-2)!.text).toMatch(why);
}

export function withProblem(run: FaultRun, code: string): TraceRecord[] {
  return run.records!.filter((r) => (problemCodes(r.problems) as string[]).includes(code));
}

/** Nothing of Node or of our internals reaches the user, and the last line counts problems and findings. */
export function expectCleanText(run: FaultRun): void {
  expect(run.signal, run.text).toBe(null);
  for (const internal of ['EPIPE', 'Cannot call write', 'Invalid atomic access', 'session.connect', 'TypeError', 'RangeError']) expect(run.text).not.toContain(internal);
  expect(run.text).not.toMatch(/^\s+at .*\(.*:\d+:\d+\)$/m);
  const lastLine = (s: string) => s.trimEnd().split('\n').at(-1) ?? '';
  expect(`${lastLine(run.stdout)}\n${lastLine(run.stderr)}`, `the last line counts problems and findings; ${run.text}`).toMatch(/\b\d+ problems?\b.*\b\d+ findings?\b/);
}

/**
 * The run stopped on the fault and said why: exit 1, every pattern of `says` in the text (the
 * first is the reason the ERROR marker must give), none of `not`, the ERROR marker then DETACH,
 * every published message in the capture, clean text.
 */
export function expectStoppedOn(run: FaultRun, says: RegExp[], not: RegExp[] = []): void {
  expect(run.code, `exit status; ${run.text}`).toBe(1);
  for (const re of says) expect(run.text).toMatch(re);
  for (const re of not) expect(run.text).not.toMatch(re);
  expectErrorThenDetach(run, says[0]);
  expectCaptureHoldsPublished(run);
  expectCleanText(run);
}

/** The run survived the fault: exit 0, no ERROR marker, every published message in the capture, clean text. */
export function expectSurvived(run: FaultRun): void {
  expect(run.code, `exit status; ${run.text}`).toBe(0);
  expect(markers(run).map((m) => m.kind)).not.toContain('error');
  expectCaptureHoldsPublished(run);
  expectCleanText(run);
}
