/**
 * The passive monitor (issue 15) on shm-file, three processes: a sink board side draining
 * events (shmSink.cjs), our driver here sending EVENT_AVAIL at a paced rate, and
 * `amp-workbench monitor` watching read-only. For each rate: messages sent, recorded by the
 * monitor, counted lost (DROPPED), and the monitor's CPU time per second of wall time (from
 * /proc/PID/stat). The highest rate recorded in full without a DROPPED marker is the result;
 * a rate where recorded + dropped falls short of sent is a silent loss (the producer lapped the
 * ring between two looks) and is reported as such. The JavaScript polling tap is measured here;
 * the native watcher thread plugs into the same session (MonitorSessionOptions.tap).
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
const RATES = [10_000, 50_000, 100_000, 200_000, 400_000];
const SECONDS = 2;
/** Clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

function startChild(args: string[], ready: 'stdout' | 'stderr', pattern: RegExp): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((ok, fail) => {
    createInterface({ input: child[ready]! }).on('line', (l) => pattern.test(l) && ok(child));
    child.once('exit', (code) => fail(new Error(`${args.join(' ')} exited with ${code} before it was ready`)));
  });
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of stat; after "pid (comm) " they are at 11 and 12.
  return Number(fields[11]) + Number(fields[12]);
}

async function atRate(dir: string, rate: number): Promise<{ sent: number; recorded: number; dropped: number; cpuPercent: number; achieved: number }> {
  const file = join(dir, `amp-${rate}`);
  const sink = await startChild([resolve(__dirname, 'shmSink.cjs'), file, 'socket'], 'stdout', /ready/);
  const monitor = await startChild([BIN, 'monitor', '--board', profile.id, '--link', `shm-file:${file}`, '--out', join(dir, `mon-${rate}`), '--json'], 'stderr', /^monitoring /);
  let stdout = '';
  monitor.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const link = await openShmFileLink(profile, file, { doorbells: 'socket' });
  try {
    const a = await attachQueue('vmamp-shmem-v1', 'driver', link.busWindow, { areaSize: profile.bus.size }, { runtime: nodeRuntime, pollMs: 1, layoutTimeoutMs: 5000, peerTimeoutMs: 5000 });
    if (!a.ok) throw new Error(a.error.reason);
    const ep = new BusEndpoint({ queue: a.value, doorbellOut: link.doorbellOut, doorbellIn: link.doorbellIn, revision: 'r4', runtime: nodeRuntime, doorbellPerMessage: false, fullRetryDelayMs: 0, fullRetries: 1_000_000 });
    const kick = encode('r4', { name: 'EVENT_AVAIL', kind: 'event', devNum: 1, fields: { vq_index: 0, next_offset: 0 } });
    const batch = Array.from({ length: a.value.capacity }, () => kick);
    const total = rate * SECONDS;
    const cpu0 = cpuTicks(monitor.pid!);
    const t0 = process.hrtime.bigint();
    let sent = 0;
    while (sent < total) {
      const due = Math.min(total, Math.ceil((Number(process.hrtime.bigint() - t0) / 1e9) * rate));
      while (sent < due) {
        const r = await ep.sendBatch(batch.slice(0, Math.min(batch.length, due - sent)));
        if (!r.ok) throw new Error(r.error.message);
        sent += r.sent;
      }
      // Paced finely (a few messages per turn of the event loop), not in bursts of a full ring.
      await new Promise((r) => setImmediate(r));
    }
    while ((await link.dataWindow.load(0, 32)) < total) await new Promise((r) => setImmediate(r));
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = (cpuTicks(monitor.pid!) - cpu0) / USER_HZ;
    ep.close();
    await new Promise((r) => setTimeout(r, 200));
    const exited = new Promise((r) => monitor.once('exit', r));
    monitor.kill('SIGINT');
    await exited;
    const summary = JSON.parse(stdout) as { messages: { driverToDevice: number }; dropped: { driverToDevice: number } };
    return { sent, recorded: summary.messages.driverToDevice, dropped: summary.dropped.driverToDevice, cpuPercent: Math.round((cpu / seconds) * 1000) / 10, achieved: Math.round(sent / seconds) };
  } finally {
    await link.close();
    if (monitor.exitCode === null) monitor.kill('SIGTERM');
    const gone = new Promise((r) => sink.once('exit', r));
    sink.kill('SIGTERM');
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
      out[`${k}Achieved`] = r.achieved;
      out[`${k}Recorded`] = r.recorded;
      out[`${k}Dropped`] = r.dropped;
      out[`${k}SilentlyMissed`] = r.sent - r.recorded - r.dropped;
      out[`${k}CpuPercent`] = r.cpuPercent;
      if (r.recorded === r.sent && r.dropped === 0) best = Math.max(best, r.achieved);
    }
    out['followedWithoutDropPerSecond'] = best;
    out['cpuPercentAt10k'] = out['at10kCpuPercent']!;
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
