/**
 * The qtest link against the fake QEMU (test/host/fakeQtest.ts, same process, real UNIX socket):
 * sequential readl round trips, a pipelined burst of readl, 4 KiB b64read ranges, and
 * GET_DEVICE_STATUS request→response latency through the link (driver session, QEMU's model
 * behind BAR1, device queue polled every 1 ms as MSI-X is not delivered over qtest). Not PING:
 * QEMU's model passes bus messages other than GET_DEVICES to its device handlers (QEMU field
 * notes), where msg_id 0x03 is GET_DEVICE_FEATURES.
 * Run with the others: npm run bench.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parseBoardProfile } from '../../src/api/boardProfile';
import raw from '../../src/boards/profiles/qemu-qtest-amp-pci.json';
import { encode } from '../../src/protocol/index';
import { summarize } from '../../main/host/exercise';
import { openQtestLink } from '../../main/host/links/qtest';
import { attachSession } from '../../main/host/session';
import { listenFakeQtest } from '../host/fakeQtest';
import { timed } from './timing';

export async function run(): Promise<Record<string, number | string>> {
  const parsed = parseBoardProfile(raw);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
  const profile = parsed.value;
  const dir = mkdtempSync(join(tmpdir(), 'qtest-bench-'));
  const path = join(dir, 'qtest.sock');
  const qemu = await listenFakeQtest(path, { profile });
  const link = await openQtestLink(profile, { socket: path });
  try {
    const bar1 = link.bars.find((b) => b.index === 1)!.base;
    await timed(500, (i) => link.client.readMem(bar1 + BigInt((i * 4) % 0x4000), 32)); // warm-up
    const loads = await timed(5000, (i) => link.client.readMem(bar1 + BigInt((i * 4) % 0x4000), 32));
    const burstN = 5000;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: burstN }, (_, i) => link.client.readMem(bar1 + BigInt((i * 4) % 0x4000), 32)));
    const burstPerSecond = Math.round((burstN / (performance.now() - t0)) * 1000);
    const reads = await timed(1000, (i) => link.dataWindow.read((i * 4096) % 0x100000, 4096));

    const session = await attachSession(profile, link);
    try {
      const status = encode('r3', { name: 'GET_DEVICE_STATUS', kind: 'request', devNum: 0 });
      for (let i = 0; i < 20; i++) await session.endpoint.request(status, { timeoutMs: 1000 }); // warm-up
      const requests = await timed(300, async () => {
        const r = await session.endpoint.request(status, { timeoutMs: 1000 });
        if (!r.ok) throw new Error(r.error.message);
      });
      const lat = summarize(requests.us);
      const ld = summarize(loads.us);
      return {
        readlRoundTripsPerSecond: loads.perSecond,
        readlRoundTripP50Us: Math.round(ld.p50),
        readlPipelinedPerSecond: burstPerSecond,
        b64read4KiBPerSecond: reads.perSecond,
        requestResponseP50Us: Math.round(lat.p50),
        requestResponseP99Us: Math.round(lat.p99),
        requestsPerSecond: requests.perSecond,
      };
    } finally {
      await session.close();
    }
  } finally {
    await link.close();
    qemu.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
