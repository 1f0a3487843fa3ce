/**
 * The passive monitor (issue 15) on shm-file with the native watcher thread, three processes:
 * a board side (shmSink.cjs echo) answering every EVENT_AVAIL with an EVENT_USED, our driver
 * here sending EVENT_AVAIL at a paced rate and draining the answers, and `amp-workbench
 * monitor` watching both rings read-only. A rate is messages per second of both directions
 * together (half each way). For each: messages sent per direction, recorded by the monitor,
 * counted lost (DROPPED), the monitor's CPU time per second of wall time (from /proc/PID/stat)
 * and the host's load average around the run (the build host is shared). The highest rate
 * recorded in full in both directions without a DROPPED marker is the result; a rate where
 * recorded + dropped falls short of sent is a silent loss (the producer lapped the ring between
 * two looks) and is reported as such. RATES=10000,50000 (environment) measures only those.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

import { findBuiltinProfile } from '../../src/boards/builtin';
import { BusEndpoint } from '../../src/bus/endpoint';
import { attachQueue } from '../../src/bus/formats/index';
import { encode } from '../../src/protocol/index';
import { openShmFileLink } from '../../main/host/links/shmFile';
import { nodeRuntime } from '../../main/host/runtime';
import { loadNative } from '../../main/native/index';

const BIN = resolve(__dirname, '../../main/host/cli/amp-workbench.cjs');
const profile = findBuiltinProfile('sim-qemu-amp-pci')!;
const RATES = process.env.RATES ? process.env.RATES.split(',').map(Number) : [10_000, 50_000, 100_000, 200_000, 400_000];
const SECONDS = 2;
/** At most this many messages per turn of either side's event loop. */
const BURST = 8;
/** Clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

function startChild(args: string[], ready: 'stdout' | 'stderr', pattern: RegExp): Promise<{ child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((ok, fail) => {
    createInterface({ input: child[ready]! }).on('line', (l) => pattern.test(l) && ok({ child, stderr: () => err }));
    child.once('exit', (code) => fail(new Error(`${args.join(' ')} exited with ${code} before it was ready`)));
  });
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of stat; after "pid (comm) " they are at 11 and 12.
  return Number(fields[11]) + Number(fields[12]);
}

const loadAverage = (): number => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

interface AtRate {
  sent: [number, number];
  recorded: [number, number];
  dropped: [number, number];
  cpuPercent: number;
  achieved: number;
  load: number;
  tap: string;
}

async function atRate(dir: string, rate: number): Promise<AtRate> {
  const file = join(dir, `amp-${rate}`);
  const sink = await startChild([resolve(__dirname, 'shmSink.cjs'), file, 'socket', 'echo', String(BURST)], 'stdout', /ready/);
  const { child: monitor, stderr } = await startChild([BIN, 'monitor', '--board', profile.id, '--link', `shm-file:${file}`, '--out', join(dir, `mon-${rate}`), '--json'], 'stderr', /^monitoring /);
  let stdout = '';
  monitor.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const link = await openShmFileLink(profile, file, { doorbells: 'socket' });
  const load0 = loadAverage();
  try {
    const a = await attachQueue('vmamp-shmem-v1', 'driver', link.busWindow, { areaSize: profile.bus.size }, { runtime: nodeRuntime, pollMs: 1, layoutTimeoutMs: 5000, peerTimeoutMs: 5000 });
    if (!a.ok) throw new Error(a.error.reason);
    const ep = new BusEndpoint({ queue: a.value, doorbellOut: link.doorbellOut, doorbellIn: link.doorbellIn, revision: 'r4', runtime: nodeRuntime, doorbellPerMessage: false, fullRetryDelayMs: 0, fullRetries: 1_000_000 });
    let answered = 0;
    ep.onEvent('any', () => void answered++);
    const kick = encode('r4', { name: 'EVENT_AVAIL', kind: 'event', devNum: 1, fields: { vq_index: 0, next_offset: 0 } });
    const batch = Array.from({ length: BURST }, () => kick);
    const perDirection = rate / 2;
    const total = perDirection * SECONDS;
    const cpu0 = cpuTicks(monitor.pid!);
    const t0 = process.hrtime.bigint();
    let sent = 0;
    while (sent < total) {
      const due = Math.min(total, Math.ceil((Number(process.hrtime.bigint() - t0) / 1e9) * perDirection));
      if (sent < due) {
        const r = await ep.sendBatch(batch.slice(0, Math.min(BURST, due - sent)));
        if (!r.ok) throw new Error(r.error.message);
        sent += r.sent;
      }
      // Paced finely (a few messages per turn of the event loop): a sender that catches up
      // after a pause in bursts of a whole ring would publish at a rate it was not asked for.
      await new Promise((r) => setImmediate(r));
    }
    // Every answer published and drained.
    while ((await link.dataWindow.load(4, 32)) < total || answered < total) await new Promise((r) => setImmediate(r));
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = (cpuTicks(monitor.pid!) - cpu0) / USER_HZ;
    const load = Math.max(load0, loadAverage());
    ep.close();
    await new Promise((r) => setTimeout(r, 200));
    const exited = new Promise((r) => monitor.once('exit', r));
    monitor.kill('SIGINT');
    await exited;
    const summary = JSON.parse(stdout) as { tap: string; messages: { driverToDevice: number; deviceToDriver: number }; dropped: { driverToDevice: number; deviceToDriver: number } };
    return {
      sent: [sent, answered],
      recorded: [summary.messages.driverToDevice, summary.messages.deviceToDriver],
      dropped: [summary.dropped.driverToDevice, summary.dropped.deviceToDriver],
      cpuPercent: Math.round((cpu / seconds) * 1000) / 10,
      achieved: Math.round((sent + answered) / seconds),
      load,
      tap: summary.tap ?? stderr(),
    };
  } finally {
    await link.close();
    if (monitor.exitCode === null) monitor.kill('SIGTERM');
    const gone = new Promise((r) => sink.child.once('exit', r));
    sink.child.kill('SIGTERM');
    await gone;
  }
}

export async function run(): Promise<Record<string, number | string>> {
  const native = loadNative();
  if (!native.ok) return { skipped: native.error };
  const dir = mkdtempSync('/dev/shm/amp-bench-monitor-');
  const out: Record<string, number | string> = {};
  let best = 0;
  try {
    for (const rate of RATES) {
      const r = await atRate(dir, rate);
      const k = `at${rate / 1000}k`;
      out['tap'] = r.tap;
      out[`${k}Achieved`] = r.achieved;
      out[`${k}Recorded`] = `${r.recorded[0]}/${r.sent[0]} + ${r.recorded[1]}/${r.sent[1]}`;
      out[`${k}Dropped`] = r.dropped[0] + r.dropped[1];
      out[`${k}SilentlyMissed`] = r.sent[0] + r.sent[1] - r.recorded[0] - r.recorded[1] - r.dropped[0] - r.dropped[1];
      out[`${k}CpuPercent`] = r.cpuPercent;
      out[`${k}LoadAverage`] = r.load;
      if (r.recorded[0] === r.sent[0] && r.recorded[1] === r.sent[1] && r.dropped[0] + r.dropped[1] === 0) best = Math.max(best, r.achieved);
    }
    out['followedWithoutDropPerSecond'] = best;
    out['cpuPercentAt10k'] = out['at10kCpuPercent']!;
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
