/**
 * Starts the loopback bus stand-in (loopbackKernel.ts) and `serve-device` on it, each as its own
 * process, and collects the stand-in's JSON lines; for test/host/loopback.test.ts and
 * test/bench/loopback.bench.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const RUN_TS = resolve(__dirname, '../../main/host/cli/run-ts.cjs');
const KERNEL = resolve(__dirname, 'loopbackKernel.ts');
const BIN = resolve(__dirname, '../../main/host/cli/amp-workbench.cjs');
const SHM = readFileSync('/proc/mounts', 'utf8').includes(' /dev/shm ') ? '/dev/shm' : tmpdir();

export type KernelEvent = { event: string; devId?: number; kind?: string; failures?: string[]; checks?: number; violations?: string[] } & Record<string, unknown>;

export interface StandIn {
  dir: string;
  /** --link for serve-device. */
  link: string;
  events: KernelEvent[];
  /** Resolves with the first event (from the start) `pick` accepts; rejects after `ms`. */
  waitFor(pick: (e: KernelEvent) => boolean, ms?: number): Promise<KernelEvent>;
  kill(): void;
}

function lines(child: ChildProcess, onLine: (line: string) => void): void {
  let rest = '';
  child.stdout!.on('data', (d: Buffer) => {
    rest += d.toString('utf8');
    for (let i = rest.indexOf('\n'); i >= 0; i = rest.indexOf('\n')) {
      onLine(rest.slice(0, i));
      rest = rest.slice(i + 1);
    }
  });
}

export async function startStandIn(mode: 'bringup' | 'faults' | 'bench', extra: Record<string, unknown> = {}): Promise<StandIn> {
  const dir = mkdtempSync(join(tmpdir(), 'amp-lb-'));
  const pool = join(mkdtempSync(join(SHM, 'amp-lb-pool-')), 'vmsglb');
  const child = spawn(process.execPath, [RUN_TS, KERNEL, JSON.stringify({ dir, pool, mode, ...extra })], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const events: KernelEvent[] = [];
  const listeners: (() => void)[] = [];
  lines(child, (line) => {
    events.push(JSON.parse(line) as KernelEvent);
    for (const l of listeners.slice()) l();
  });
  const waitFor = (pick: (e: KernelEvent) => boolean, ms = 20_000): Promise<KernelEvent> =>
    new Promise((done, fail) => {
      const check = () => {
        const e = events.find(pick);
        if (!e) return false;
        listeners.splice(listeners.indexOf(check), 1);
        clearTimeout(t);
        done(e);
        return true;
      };
      const t = setTimeout(() => {
        listeners.splice(listeners.indexOf(check), 1);
        fail(new Error(`stand-in: no such event within ${ms} ms; saw ${JSON.stringify(events)}\n${stderr}`));
      }, ms);
      listeners.push(check);
      check();
    });
  await waitFor((e) => e.event === 'ready');
  return {
    dir,
    link: `linux-loopback:${join(dir, 'ctl.sock')},msg-in=${join(dir, 'to-device')},msg-out=${join(dir, 'to-kernel')},pool=${pool},dt=${join(dir, 'dt')}`,
    events,
    waitFor,
    kill: () => void child.kill('SIGKILL'),
  };
}

export interface Served {
  child: ChildProcess;
  /** Resolves once serve-device printed its "ready" line (its devices are added). */
  ready: Promise<void>;
  /** Resolves with the exit code and everything printed, once serve-device exited. */
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

export function startServeDevice(args: string[]): Served {
  const child = spawn(process.execPath, [BIN, 'serve-device', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  let isReady: () => void = () => undefined;
  const ready = new Promise<void>((done) => (isReady = done));
  child.stdout!.on('data', () => {
    if (/^ready /m.test(stdout)) isReady();
  });
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => child.on('exit', (code) => done({ code, stdout, stderr })));
  return { child, ready, exited };
}
