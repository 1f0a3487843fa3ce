/**
 * The device role on the Linux loopback bus: serve-device against the kernel stand-in
 * (test/host/loopbackKernel.ts), each its own process. The stand-in times each transfer as the
 * kernel's virtio_msg_lb_transfer sees it, from writing the request to the answer's arrival:
 * GET_DEVICE_STATUS transactions back to back (transactions/s, p50/p99), then rng requests
 * (EVENT_AVAIL, its completion and the EVENT_USED). The kernel allows 1 s; the aim is ≤ 100 µs p99.
 * The stand-in's own reads go through Node's thread pool, so these are upper bounds.
 */
import { startServeDevice, startStandIn } from '../host/loopbackRig';

const TRANSACTIONS = 20_000;

export async function run(): Promise<Record<string, number | string>> {
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
    };
  } finally {
    serve.child.kill('SIGTERM');
    await serve.exited;
    standIn.kill();
  }
}
