/**
 * The monitor as a passive ivshmem peer (test/host/fakeIvshmemServer.py): a simulated device
 * and our driver as two peers ring each other through the server's eventfds; the monitor joins
 * third, reads the shared memory and rings nobody. Its capture holds the driver's messages per
 * direction; the driver's bring-up and workloads pass as without it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';

import { parseBoardProfile } from '../../src/api/boardProfile';
import { startSimBoard } from '../../src/sim/board';
import { toRecords } from '../../src/trace/block';
import type { TraceRecord } from '../../src/trace/record';
import { exerciseDevices } from '../../main/host/exercise';
import { openIvshmemLink } from '../../main/host/links/ivshmem';
import { openMonitorSession } from '../../main/host/monitorSession';
import { nodeRuntime } from '../../main/host/runtime';
import { attachSession } from '../../main/host/session';
import { loadCapture } from '../../main/host/trace/load';
import { loadNative } from '../../main/native/index';
import { IVSHMEM_PROFILE } from './ivshmemProfile';


const dir = mkdtempSync(join(tmpdir(), 'ivshmem-watch-'));
const servers: ChildProcess[] = [];
afterAll(() => {
  for (const s of servers) s.kill();
  rmSync(dir, { recursive: true, force: true });
});

const messages = (path: string, dir_: string): string[] => {
  const o = loadCapture(path);
  if (!o.ok) throw new Error(o.error);
  return toRecords(o.value.blocks())
    .filter((r: TraceRecord) => r.kind === 'message' && r.dir === dir_)
    .map((r) => Buffer.from(r.data).toString('hex'));
};

describe.skipIf(!loadNative().ok)('monitor as a passive ivshmem peer', () => {
  it("records the driver's messages while both ring only each other", { timeout: 60_000 }, async () => {
    const socket = join(dir, 'sock');
    const server = spawn('python3', [join(__dirname, 'fakeIvshmemServer.py'), '--socket', socket], { stdio: ['ignore', 'pipe', 'inherit'] });
    servers.push(server);
    await new Promise<void>((ok) => createInterface({ input: server.stdout! }).once('line', () => ok()));
    const parsed = parseBoardProfile(IVSHMEM_PROFILE);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
    const profile = parsed.value;
    const deviceLink = await openIvshmemLink(profile, socket);
    const driverLink = await openIvshmemLink(profile, socket);
    const started = startSimBoard({ profile, ...deviceLink, runtime: nodeRuntime });
    const monitor = await openMonitorSession(profile, { link: { kind: 'ivshmem', socket }, capture: { dir: join(dir, 'mon') } });
    expect(monitor.link.description).toMatch(/\(passive peer 2: read-only, rings nobody\)$/);
    // The shared memory is mapped PROT_READ (the server's fd is read-write), followed by the native thread.
    const source = monitor.link.tapSource;
    if (source.kind !== 'mapped') throw new Error(`expected a mapped tap source, saw ${source.kind}`);
    expect(() => source.mapping.write(0, new Uint8Array(1))).toThrow(/mapping is read-only/);
    expect(monitor.notices.at(-1)).toMatch(/^rings followed by the native watcher thread/);
    const session = await attachSession(profile, driverLink, { capture: { dir: join(dir, 'drv') } });
    const sim = await started;
    if (!sim.ok) throw new Error(sim.error);
    try {
      const probed = await session.probe();
      expect(probed.ok).toBe(true);
      const report = await exerciseDevices(session, { count: 5 });
      for (const d of report.devices) expect(d.errors).toEqual([]);
    } finally {
      await session.close();
      await new Promise((r) => setTimeout(r, 100));
      await monitor.close();
      sim.value.close();
      await deviceLink.close();
    }
    for (const d of ['driver-to-device', 'device-to-driver']) {
      const want = messages(join(dir, 'drv'), d);
      expect(want.length).toBeGreaterThan(20);
      expect(messages(join(dir, 'mon'), d)).toEqual(want);
    }
  });
});
