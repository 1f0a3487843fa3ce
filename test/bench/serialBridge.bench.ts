/**
 * Serial bridge throughput and latency over a socat pty pair (no baud limit: this measures the
 * protocol, the agent and the host stack, not a UART): sequential 32-bit loads (one round trip
 * each), 4 KiB reads (one frame each), 64-byte writes, and a queued burst of loads.
 * Run with the others: npm run bench.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { summarize } from '../../main/host/exercise';
import { openSerialBridge } from '../../main/host/links/serialBridge';
import { buildAgent, missingTools, ptyPair, startAgent, tempDir } from '../host/bridgeRig';
import { timed } from './timing';

const BASE = 0x10040000n;
const SIZE = 0x10000;

export async function run(): Promise<Record<string, number | string>> {
  if (missingTools) return { skipped: missingTools };
  const dir = tempDir('bridge-bench-');
  const mem = join(dir.path, 'mem.bin');
  writeFileSync(mem, new Uint8Array(SIZE));
  const pair = await ptyPair(dir.path, 'bench');
  const agent = await startAgent(buildAgent(dir.path), pair.a, ['--mem', mem, '--window', `${BASE}:${SIZE}`]);
  const b = await openSerialBridge(pair.b, { baudRate: 115200 });
  try {
    await timed(200, (i) => b.client.load(BASE + BigInt((i * 4) % SIZE), 32)); // warm-up
    const loads = await timed(3000, (i) => b.client.load(BASE + BigInt((i * 4) % SIZE), 32));
    const reads = await timed(500, (i) => b.client.read(BASE + BigInt((i * 4096) % SIZE), 4096));
    const payload = new Uint8Array(64).fill(0x5a);
    const writes = await timed(2000, (i) => b.client.write(BASE + BigInt((i * 64) % SIZE), payload));
    // Queued: the client keeps one request in flight, so this shows the cost without the await gap.
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 3000 }, (_, i) => b.client.load(BASE + BigInt((i * 4) % SIZE), 32)));
    const queuedPerSecond = Math.round((3000 / (performance.now() - t0)) * 1000);
    const rtt = summarize(loads.us);
    const r4k = summarize(reads.us);
    return {
      line: 'socat pty pair, C agent serving a file',
      load32PerSecond: loads.perSecond,
      load32RttP50Us: Math.round(rtt.p50),
      load32RttP99Us: Math.round(rtt.p99),
      queuedLoad32PerSecond: queuedPerSecond,
      read4kPerSecond: reads.perSecond,
      read4kMBps: Math.round(((reads.perSecond * 4096) / 1e6) * 10) / 10,
      read4kRttP50Us: Math.round(r4k.p50),
      write64PerSecond: writes.perSecond,
      retransmits: b.client.stats.retransmits,
    };
  } finally {
    await b.close();
    await agent.stop();
    await pair.stop();
    dir.remove();
  }
}
