/**
 * The device role on the Linux loopback bus: serve-device against the kernel stand-in
 * (test/host/loopbackKernel.ts), each its own process. The stand-in times each transfer as the
 * kernel's virtio_msg_lb_transfer sees it, from writing the request to the answer's arrival:
 * GET_DEVICE_STATUS transactions back to back (transactions/s, p50/p99), then rng requests
 * (EVENT_AVAIL, its completion and the EVENT_USED). The kernel allows 1 s; the aim is ≤ 100 µs p99.
 * The floor beside it (fifoFloor.child.ts): the same ping-pong between two bare Node processes
 * reading as the two sides do, so what the device role adds is the difference.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startServeDevice, startStandIn } from '../host/loopbackRig';

const TRANSACTIONS = 20_000;

async function fifoFloor(): Promise<{ p50Us: number; p99Us: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'amp-fifo-floor-'));
  try {
    execFileSync('mkfifo', [join(dir, 'to-echo'), join(dir, 'to-time')]);
    const runTs = join(__dirname, '../../main/host/cli/run-ts.cjs');
    const child = join(__dirname, 'fifoFloor.child.ts');
    const echo = spawn(process.execPath, [runTs, child, 'echo', dir], { stdio: 'ignore' });
    const timer = spawn(process.execPath, [runTs, child, 'time', dir, String(TRANSACTIONS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    timer.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((resolve) => timer.once('exit', resolve));
    echo.kill();
    return JSON.parse(out) as { p50Us: number; p99Us: number };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<Record<string, number | string>> {
  const floor = await fifoFloor();
  const standIn = await startStandIn('bench', { count: TRANSACTIONS });
  const serve = startServeDevice(['--link', standIn.link, '--devices', 'rng']);
  try {
    const r = (await standIn.waitFor((e) => e.event === 'bench', 120_000)) as unknown as Record<string, unknown> & { rng: Record<string, number>; failures: string[] };
    if (r.failures.length > 0) throw new Error(`loopback bench: ${r.failures.join('; ')}`);
    return {
      transactions: TRANSACTIONS,
      transactionsPerSecond: r['perSecond'] as number,
      responseP50Us: r['p50Us'] as number,
      responseP99Us: r['p99Us'] as number,
      responseMaxUs: r['maxUs'] as number,
      rngRequestP50Us: r.rng['p50Us']!,
      rngRequestP99Us: r.rng['p99Us']!,
      bareNodeFifoP50Us: floor.p50Us,
      bareNodeFifoP99Us: floor.p99Us,
    };
  } finally {
    serve.child.kill('SIGTERM');
    await serve.exited;
    standIn.kill();
  }
}
