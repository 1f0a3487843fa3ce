/**
 * A board side that truncates the shared file in the middle of a run, as a peer restarting or
 * misbehaving would (the board is `sim --shm` in its own process; the test truncates its file):
 * the link reports itself lost with the reason, and the real CLI does not die of SIGBUS. It says
 * the file shrank, exits 1, and the capture is closed with everything it had recorded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { findBuiltinProfile } from '../../src/boards/builtin';
import { MappingGoneError } from '../../main/host/links/nativeWindow';
import { openShmFileLink } from '../../main/host/links/shmFile';
import { openJournal } from '../../main/host/trace/journal';
import { loadNative } from '../../main/native/index';

const native = loadNative();
const BIN = resolve(__dirname, '../../main/host/cli/amp-workbench.cjs');
const dir = mkdtempSync(join(readFileSync('/proc/mounts', 'utf8').includes(' /dev/shm ') ? '/dev/shm' : tmpdir(), 'amp-shrink-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  }
});

function cli(args: string[]): { child: ChildProcess; stdout: () => string; stderr: () => string; exit: Promise<[number | null, NodeJS.Signals | null]> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<[number | null, NodeJS.Signals | null]>((r) => child.once('exit', (code, signal) => r([code, signal])));
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** Waits (bounded by the test timeout) until `done` holds. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setTimeout(r, 5));
}

const segmentBytes = (capture: string) => (existsSync(join(capture, 'seg-000001.ampc')) ? statSync(join(capture, 'seg-000001.ampc')).size : 0);

describe.skipIf(!native.ok)(native.ok ? 'a shared file truncated mid-run' : `a shared file truncated mid-run (skipped: ${native.error})`, () => {
  it('the shm-file link: an access past the new end is a MappingGoneError, and the link is lost with its text', async () => {
    const file = join(dir, 'amp-link');
    const board = cli(['sim', '--board', 'sim-qemu-amp-pci', '--shm', file]);
    await until(() => board.stdout().includes('ready'));
    const fullSize = statSync(file).size;
    const link = await openShmFileLink(findBuiltinProfile('sim-qemu-amp-pci')!, file, { doorbells: 'socket' });
    try {
      truncateSync(file, 4096);
      const shrank = `the shared file ${file} shrank to 4096 bytes under the session (expected at least ${fullSize}): the board side truncated it`;
      const access = link.busWindow.load(0, 32);
      await expect(access).rejects.toBeInstanceOf(MappingGoneError);
      await expect(access).rejects.toThrow(shrank);
      expect(await link.lost).toBe(shrank);
      // The data memory is in the same file: it is gone too, with the same words.
      await expect(link.dataWindow.read(0, 16)).rejects.toThrow(shrank);
    } finally {
      await link.close();
    }
  });

  it('capture --exercise over shm-file says the file shrank, exits 1 and closes the capture with every record', async () => {
    const file = join(dir, 'amp0');
    const capture = join(dir, 'cap');
    const board = cli(['sim', '--board', 'sim-qemu-amp-pci', '--shm', file]);
    await until(() => board.stdout().includes('ready'));
    const fullSize = statSync(file).size;
    const run = cli(['capture', '--board', 'sim-qemu-amp-pci', '--link', `shm-file:${file}`, '--out', capture, '--duration', '60s', '--exercise']);
    // Mid-run: the exercise is under way once the journal has flushed to disk.
    await until(() => segmentBytes(capture) > 64 * 1024);
    const flushedBefore = openJournal(capture);
    truncateSync(file, 4096);
    const [code, signal] = await run.exit;
    expect([code, signal], run.stderr()).toEqual([1, null]);
    expect(run.stderr()).toContain(`the shared file ${file} shrank to 4096 bytes under the session (expected at least ${fullSize}): the board side truncated it`);
    expect(run.stderr()).not.toMatch(/SIGBUS|Bus error|at .*\.ts:\d+/);

    // Closed by the writer, every chunk intact, and it goes on past what was on disk at the truncation.
    const opened = openJournal(capture);
    if (!opened.ok || !flushedBefore.ok) throw new Error(opened.ok ? 'the capture was unreadable mid-run' : opened.error);
    const manifest = JSON.parse(readFileSync(join(capture, 'capture.json'), 'utf8')) as { journal: { closed?: { records: number } } };
    expect(opened.value.notes).toEqual(opened.value.meta.notes);
    expect(manifest.journal.closed?.records).toBe(opened.value.count);
    expect(opened.value.count).toBeGreaterThan(flushedBefore.value.count);
    // The capture itself says why the session ended.
    expect(readFileSync(join(capture, 'seg-000001.ampc')).includes(`shrank to 4096 bytes under the session`)).toBe(true);
  });
});
