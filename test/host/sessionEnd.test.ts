/**
 * How a session ends, as a user running the CLI sees it, against a simulated board whose
 * device side runs in its own process over a shm file (test/host/countingShmBoard.ts): the
 * board dies mid-run (one message, an ERROR marker, no Node error text, failed rounds apart
 * from rounds not run), the user presses Ctrl-C (the command stops, the capture is closed and
 * opens cleanly), probe --json fails in JSON, every command ends with its count line, and the
 * capture holds every message the board side published.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

import { afterAll, afterEach, describe, expect, it } from 'vitest';

import versalRaw from '../../src/boards/profiles/sim-versal.json';
import { findBuiltinProfile } from '../../src/boards/builtin';
import { VMAMP_STATUS } from '../../src/bus/formats/vmamp';
import { toRecords } from '../../src/trace/block';
import { MARKER_KINDS, type TraceRecord } from '../../src/trace/record';
import { loadCapture } from '../../main/host/trace/load';
import { loadNative } from '../../main/native/index';
import { writeDeviceHeadStatus } from './shmPeer';

const native = loadNative();
const BIN = resolve(__dirname, '../../main/host/cli/amp-workbench.cjs');
const BOARD = resolve(__dirname, 'countingShmBoard.ts');
const versal = findBuiltinProfile('sim-versal')!;
const dir = mkdtempSync(join(readFileSync('/proc/mounts', 'utf8').includes(' /dev/shm ') ? '/dev/shm' : tmpdir(), 'amp-end-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const fresh = (name: string) => join(dir, `${name}${counter++}`);

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Run {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  /** Resolves once stderr (progress, stages) or stdout holds `text`. */
  saw(text: string): Promise<void>;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(command: string, args: string[]): Run {
  const child = spawn(process.execPath, command === 'board' ? ['--require', 'tsx/cjs', BOARD, ...args] : [BIN, command, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AMP_WORKBENCH_CAPTURES: join(dir, 'captures') },
  });
  children.push(child);
  const waiting: { text: string; resolve: () => void }[] = [];
  const run: Run = {
    child,
    stdout: '',
    stderr: '',
    saw: (text) =>
      new Promise((res) => {
        if (run.stdout.includes(text) || run.stderr.includes(text)) res();
        else waiting.push({ text, resolve: res });
      }),
    done: new Promise((res) => child.once('exit', (code, signal) => res({ code, signal }))),
  };
  const check = () => {
    for (const w of waiting.splice(0)) {
      if (run.stdout.includes(w.text) || run.stderr.includes(w.text)) w.resolve();
      else waiting.push(w);
    }
  };
  child.stdout!.on('data', (d: Buffer) => ((run.stdout += d.toString()), check()));
  child.stderr!.on('data', (d: Buffer) => ((run.stderr += d.toString()), check()));
  return run;
}

/** The counting board on a fresh shm file (`extra`: its STATUS@K), once a workbench can attach. */
async function startBoard(board: string, ...extra: string[]): Promise<{ run: Run; file: string }> {
  const file = fresh('amp');
  const run = start('board', [board, file, ...extra]);
  await new Promise<void>((res, rej) => {
    createInterface({ input: run.child.stdout! }).once('line', () => res());
    run.child.once('exit', (code) => rej(new Error(`board exited with ${code}: ${run.stderr}`)));
  });
  return { run, file };
}

function records(path: string): TraceRecord[] {
  const o = loadCapture(path);
  if (!o.ok) throw new Error(o.error);
  return toRecords(o.value.blocks());
}

const markerOf = (r: TraceRecord) => ({ kind: MARKER_KINDS[r.msgId], text: new TextDecoder().decode(r.data) });
const markers = (recs: TraceRecord[]) => recs.filter((r) => r.kind === 'marker').map(markerOf);

/** Node's own error texts that must never reach a user. */
const NODE_INTERNALS = /EPIPE|ECONNRESET|Cannot call write|stream was destroyed|Error: |at .*\.ts:\d+/;

const lastLine = (text: string) => text.trimEnd().split('\n').at(-1);

describe.skipIf(!native.ok)(native.ok ? 'how a session ends' : `how a session ends (skipped: ${native.error})`, () => {
  /** Runs `command` against a fresh board, does `end` to the board once both devices are up, and waits for the command to end. */
  async function endMidRun(command: string, args: string[], end: (board: Run, file: string) => void): Promise<{ run: Run; code: number | null; file: string }> {
    const { run: board, file } = await startBoard('sim-versal');
    const run = start(command, ['--board', 'sim-versal', '--link', `shm-file:${file}`, ...args]);
    await run.saw('dev 1 virtio-console: DRIVER_OK');
    end(board, file);
    const { code } = await run.done;
    expect(run.stdout + run.stderr).not.toMatch(NODE_INTERNALS);
    return { run, code, file };
  }

  async function killBoardMidRun(command: string, args: string[]): Promise<{ run: Run; code: number | null; reason: string }> {
    const { run, code, file } = await endMidRun(command, args, (board) => board.child.kill('SIGKILL'));
    return { run, code, reason: `the board side closed the doorbell socket ${file}.sock (its process ended or restarted)` };
  }

  it('a board whose queue head drops to INIT mid-exercise: the run ends once with that reason, not once per round', async () => {
    const { run: ex, code } = await endMidRun('exercise', ['--count', '1000000'], (_board, file) => writeDeviceHeadStatus(file, versal, VMAMP_STATUS.INIT));
    expect(code, ex.stderr).toBe(1);
    const stopped = /^  rounds stopped: (the board stopped its side of the bus \(.*INIT.*\)); \d+ round\(s\) not run$/m.exec(ex.stdout);
    expect(stopped, ex.stdout).not.toBeNull();
    expect(ex.stdout.split('the board stopped its side of the bus').length - 1, ex.stdout).toBe(1);
    expect(lastLine(ex.stdout)).toBe('1 problem, 0 findings');
  }, 60_000);

  it('a board that dies mid-exercise ends the run once with the reason; failed rounds apart from rounds not run', async () => {
    const { run: ex, code, reason } = await killBoardMidRun('exercise', ['--count', '1000000']);
    expect(code, ex.stderr).toBe(1);
    expect(ex.stdout.split(reason).length - 1, ex.stdout).toBe(1);
    // rng ran until the board died: its rounds that succeeded, at most the one in flight failed, the rest not run.
    const rng = /^0\s+rng\s+rng read 32 bytes\s+(\d+)\s+(\d+)\s+(\d+)\s/m.exec(ex.stdout);
    expect(rng, ex.stdout).not.toBeNull();
    const [ok, failed, notRun] = rng!.slice(1).map(Number) as [number, number, number];
    expect(failed).toBeLessThanOrEqual(1);
    expect(ok + failed + notRun).toBe(1_000_000);
    expect(notRun).toBeGreaterThan(0);
    expect(ex.stdout).toMatch(/^1\s+console\s+console echo\s+0\s+0\s+1000000\s+-\s+-\s+-$/m);
    expect(ex.stdout).toContain(`  rounds stopped: ${reason}; ${notRun + 1_000_000} round(s) not run\n`);
    expect(lastLine(ex.stdout)).toBe('1 problem, 0 findings');
    // The run's own trace (no --out): the session lost with the reason, then DETACH.
    const trace = /^trace: (.*)$/m.exec(ex.stderr)![1]!;
    expect(markers(records(trace)).slice(-2)).toEqual([
      { kind: 'error', text: `session lost: ${reason}` },
      { kind: 'detach', text: expect.stringContaining('closed') },
    ]);
  }, 60_000);

  it('a board that dies mid-capture: one message, the capture ends with ERROR saying why, then DETACH', async () => {
    const out = fresh('cap');
    const { run: cap, code, reason } = await killBoardMidRun('capture', ['--exercise', '--duration', '120s', '--out', out]);
    expect(code, cap.stderr).toBe(1);
    expect(cap.stderr.split(reason).length - 1, cap.stderr).toBe(1);
    expect(cap.stderr).toContain(`capture stopped: ${reason}\n`);
    expect(lastLine(cap.stdout)).toBe('1 problem, 0 findings');
    const m = markers(records(out));
    expect(m.slice(-2)).toEqual([
      { kind: 'error', text: `session lost: ${reason}` },
      { kind: 'detach', text: expect.stringContaining('closed') },
    ]);
  }, 60_000);

  it('Ctrl-C stops a capture at once: exit 130, the capture closed and readable, a note saying why', async () => {
    const { file } = await startBoard('sim-versal');
    const out = fresh('cap');
    const cap = start('capture', ['--board', 'sim-versal', '--link', `shm-file:${file}`, '--exercise', '--duration', '600s', '--out', out]);
    await cap.saw('dev 1 virtio-console: DRIVER_OK');
    cap.child.kill('SIGINT');
    const { code } = await cap.done;
    expect(code, cap.stderr).toBe(130);
    expect(cap.stdout + cap.stderr).not.toMatch(NODE_INTERNALS);
    expect(lastLine(cap.stdout)).toBe('0 problems, 0 findings');
    const recs = records(out);
    expect(recs.length).toBeGreaterThan(50);
    expect(markers(recs).slice(-2)).toEqual([
      { kind: 'note', text: 'session ended: interrupted (Ctrl-C)' },
      { kind: 'detach', text: expect.stringContaining('closed') },
    ]);
  }, 60_000);

  it('Ctrl-C stops a bring-up that waits on a silent board (responses allowed 10 minutes), capture closed', async () => {
    // The board stops answering once attached; with a 10-minute response timeout only the interrupt can end the run.
    const profileFile = fresh('profile') + '.json';
    writeFileSync(profileFile, JSON.stringify({ ...versalRaw, bus: { ...versalRaw.bus, timeouts: { ...versalRaw.bus.timeouts, responseMs: 600_000 } } }));
    const { run: board, file } = await startBoard('sim-versal');
    const out = fresh('cap');
    const cap = start('capture', ['--profile', profileFile, '--link', `shm-file:${file}`, '--out', out]);
    await cap.saw('run: own queue head RUN');
    board.child.kill('SIGSTOP');
    // The GET_DEVICES request is outstanding now (its record is in the capture once it is closed).
    await new Promise((r) => setTimeout(r, 300));
    cap.child.kill('SIGINT');
    const { code } = await cap.done;
    board.child.kill('SIGKILL');
    expect(code, cap.stderr).toBe(130);
    // Whichever request the board left unanswered when it stopped, it failed with the interrupt at once.
    expect(cap.stderr).toMatch(/^bring-up of sim-versal failed: .*: interrupted \(Ctrl-C\)$/m);
    expect(cap.stdout + cap.stderr).not.toMatch(NODE_INTERNALS);
    const recs = records(out);
    expect(markers(recs).slice(-2)).toEqual([
      { kind: 'note', text: 'session ended: interrupted (Ctrl-C)' },
      { kind: 'detach', text: expect.stringContaining('closed') },
    ]);
  }, 60_000);

  it.each(['SHUTDOWN', 'INIT'])('a board that publishes its last messages and then writes %s into its head: the capture holds every one, then why it ended', async (status) => {
    // Well into the exercise, with requests and events in flight both ways.
    const { run: board, file } = await startBoard('sim-versal', `${status}@400`);
    const out = fresh('cap');
    const cap = start('capture', ['--board', 'sim-versal', '--link', `shm-file:${file},poll`, '--exercise', '--duration', '120s', '--out', out]);
    await board.saw('stopped: published ');
    const { code } = await cap.done;
    expect(code, cap.stderr).toBe(1);
    expect(cap.stdout + cap.stderr).not.toMatch(NODE_INTERNALS);
    const published = Number(/stopped: published (\d+)/.exec(board.stdout)![1]);
    expect(published).toBeGreaterThanOrEqual(400);
    const recs = records(out);
    const fromBoard = recs.filter((r) => r.kind === 'message' && r.dir === 'device-to-driver');
    expect(fromBoard.length).toBe(published);
    // The reason comes after the last message: the queue's fault, the session's end, the detach.
    const stopped = recs.findIndex((r) => r.kind === 'marker' && markerOf(r).text.startsWith('queue peer-state'));
    expect(stopped).toBeGreaterThan(recs.indexOf(fromBoard.at(-1)!));
    expect(markers(recs.slice(stopped))).toEqual([
      { kind: 'error', text: expect.stringMatching(status === 'INIT' ? /^queue peer-state at bus byte \d+: .*dropped from RUN to INIT/ : /^queue peer-state at bus byte \d+: .*SHUTDOWN/) },
      { kind: 'error', text: expect.stringMatching(/^session lost: the board stopped its side of the bus/) },
      { kind: 'detach', text: expect.stringContaining('closed') },
    ]);
  }, 60_000);

  it('probe --json prints JSON when it fails, exit 1, and the count line on stderr; its trace says why', async () => {
    const file = fresh('absent');
    const probe = start('probe', ['--board', 'sim-versal', '--link', `shm-file:${file}`, '--json']);
    const { code } = await probe.done;
    expect(code).toBe(1);
    const j = JSON.parse(probe.stdout) as Record<string, unknown>;
    const error = `shm file ${file} does not exist: start the board side first (amp-workbench sim --board sim-versal --shm ${file}) or check the path`;
    expect(j).toEqual({ ok: false, board: 'sim-versal', error, problems: [], findings: [], devices: [], trace: expect.stringContaining(join(dir, 'captures')) });
    expect(probe.stderr).toContain(`trace: ${j['trace'] as string}\n`);
    expect(lastLine(probe.stderr)).toBe('1 problem, 0 findings');
    expect(markers(records(j['trace'] as string))).toEqual([{ kind: 'error', text: error }]);
  }, 60_000);

  it('probe ends with the count line; the capture holds every message the board side published', async () => {
    const { run: board, file } = await startBoard('sim-versal');
    const probe = start('probe', ['--board', 'sim-versal', '--link', `shm-file:${file}`]);
    expect((await probe.done).code, probe.stderr).toBe(0);
    expect(probe.stderr).toContain('dev 0 virtio-rng: DRIVER_OK\ndev 1 virtio-console: DRIVER_OK\n');
    expect(lastLine(probe.stdout)).toBe('0 problems, 0 findings');
    board.child.kill('SIGTERM');
    await board.done;
    // The probe recorded every message of its bring-up into its own trace (no --out).
    const trace = /^trace: (.*)$/m.exec(probe.stderr)![1]!;
    expect(records(trace).filter((r) => r.kind === 'message').length).toBeGreaterThan(10);

    const again = await startBoard('sim-versal');
    const out = fresh('cap');
    // Polling: the last EVENT_USED of a round is often still in the queue when the run ends.
    const cap = start('capture', ['--board', 'sim-versal', '--link', `shm-file:${again.file},poll`, '--exercise', '--duration', '1s', '--out', out]);
    expect((await cap.done).code, cap.stderr).toBe(0);
    const published = again.run.saw('published ');
    again.run.child.kill('SIGTERM');
    await published;
    await again.run.done;
    const count = Number(/published (\d+)/.exec(again.run.stdout)![1]);
    const fromBoard = records(out).filter((r) => r.kind === 'message' && r.dir === 'device-to-driver');
    expect(count).toBeGreaterThan(100);
    expect(fromBoard.length).toBe(count);
  }, 60_000);
});
