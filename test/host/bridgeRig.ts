/**
 * Real processes for serial bridge tests and benchmarks: the C agent built into a temp dir,
 * socat pty pairs, and a fault-injecting relay between two pairs. Every process started here is
 * stopped by its own handle (stop()), never by name.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { autoDetect } from '@serialport/bindings-cpp';
import { SerialPortStream } from '@serialport/stream';

import { SeededPrng } from '../../src/devices/rng';

const AGENT_DIR = resolve(__dirname, '../../main/bridge-agent');

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
/** Why the pty tests cannot run here, or null. */
export const missingTools: string | null = !has('socat') ? 'socat is not installed (apt-get install socat)' : !has('cc') || !has('make') ? 'no C compiler or make' : null;

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Builds the agent with the repository's Makefile into `dir`; returns the binary's path. */
export function buildAgent(dir: string): string {
  const r = spawnSync('make', ['-s', '-C', AGENT_DIR, `BUILD=${dir}`, `${dir}/bridge-agent`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building the bridge agent failed:\n${r.stdout}${r.stderr}`);
  return join(dir, 'bridge-agent');
}

export interface Proc {
  readonly child: ChildProcess;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** Stops it (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
}

/** Starts a process and resolves once its stderr contains `ready` (rejects if it exits first). */
function start(cmd: string, args: string[], ready: RegExp): Promise<Proc> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const proc: Proc = {
    child,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  return new Promise((resolveReady, reject) => {
    child.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      if (ready.test(err)) resolveReady(proc);
    });
    child.once('exit', (code) => reject(new Error(`${cmd} exited (${code}) before it was ready:\n${err}`)));
  });
}

/** A socat pty pair: bytes written to `a` come out of `b` and back. */
export async function ptyPair(dir: string, name: string): Promise<Proc & { a: string; b: string }> {
  const a = join(dir, `${name}-a`);
  const b = join(dir, `${name}-b`);
  const p = await start('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], /starting data transfer loop/);
  return Object.assign(p, { a, b });
}

/** The agent serving `args` (--mem, --window, --notify…) on tty `tty`. */
export function startAgent(binary: string, tty: string, args: string[]): Promise<Proc> {
  return start(binary, ['--tty', tty, '--verbose', ...args], /serving \d+ window/);
}

/** A seeded source of numbers in [0, 1), so a failing run replays. */
export function seeded(seed: number): () => number {
  const prng = new SeededPrng(seed);
  return () => prng.nextUnit();
}

export interface Relay {
  readonly stats: { frames: number; dropped: number; flipped: number };
  close(): Promise<void>;
}

/**
 * Copies frames between two ttys, dropping a frame with probability `drop` and flipping one bit
 * of a frame with probability `flip` (in both directions), from one seeded generator. With
 * `bytesPerSecond`, each direction forwards no faster than that (a UART's pace: baud / 10).
 */
export async function relay(pathA: string, pathB: string, faults: { drop: number; flip: number; seed: number; bytesPerSecond?: number }): Promise<Relay> {
  const rand = seeded(faults.seed);
  const stats = { frames: 0, dropped: 0, flipped: 0 };
  const open = (path: string) =>
    new Promise<SerialPortStream>((res, rej) => {
      const p = new SerialPortStream({ binding: autoDetect(), path, baudRate: 115200, autoOpen: false });
      p.open((e) => (e ? rej(e) : res(p)));
    });
  const [a, b] = await Promise.all([open(pathA), open(pathB)]);
  const pipe = (from: SerialPortStream, to: SerialPortStream) => {
    let pending: number[] = [];
    // When the line is free again (performance.now() ms), at the relay's pace.
    let freeAt = 0;
    const forward = (frame: Uint8Array) => {
      if (!faults.bytesPerSecond) return void to.write(frame);
      const now = performance.now();
      freeAt = Math.max(now, freeAt) + (frame.length * 1000) / faults.bytesPerSecond;
      setTimeout(() => to.write(frame), freeAt - now);
    };
    from.on('data', (chunk: Buffer) => {
      for (const byte of chunk) {
        pending.push(byte);
        if (byte !== 0) continue;
        const frame = Uint8Array.from(pending);
        pending = [];
        stats.frames++;
        if (rand() < faults.drop) {
          stats.dropped++;
          continue;
        }
        if (rand() < faults.flip) {
          const bit = Math.floor(rand() * (frame.length - 1) * 8);
          frame[bit >> 3]! ^= 1 << (bit & 7);
          stats.flipped++;
        }
        forward(frame);
      }
    });
    from.on('error', () => undefined);
  };
  pipe(a, b);
  pipe(b, a);
  const close = (p: SerialPortStream) => new Promise<void>((r) => (p.isOpen ? p.close(() => r()) : r()));
  return { stats, close: async () => void (await Promise.all([close(a), close(b)])) };
}
