/**
 * Doorbell round trip between two ivshmem peers of one (fake) ivshmem-server: peer A rings B
 * through B's eventfd, B's listener rings A back. Each hop is an eventfd write, a read on the
 * addon's watch thread and a thread-safe call into the event loop. Needs python3 and the addon.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { parseBoardProfile } from '../../src/api/boardProfile';
import { openIvshmemLink } from '../../main/host/links/ivshmem';

const ROUND_TRIPS = 2000;

export async function run(): Promise<Record<string, number | string>> {
  const parsed = parseBoardProfile({
    schema: 'amp-board-profile/0',
    id: 'ivshmem-bench',
    description: 'bench',
    hostRole: 'driver',
    access: { kind: 'ivshmem-server' },
    regions: [{ name: 'shm', source: { shm: 0 }, size: '0x4000' }],
    bus: { format: 'vmamp-shmem-v1', region: 'shm', offset: '0x2000', size: '0x2000', revision: 'r4', maxMessageSize: 64, handshake: 'vmamp-v1' },
    doorbellOut: { kind: 'ivshmem', value: 0 },
    doorbellIn: { kind: 'eventfd', vector: 0 },
    // The data memory below the bus area, which the profile check requires of a shared region.
    dataMemory: { region: 'shm', addressMode: 'window-offset', peerBase: 0, size: '0x2000' },
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
  const dir = mkdtempSync(join(tmpdir(), 'ivshmem-bench-'));
  const socket = join(dir, 'sock');
  const server = spawn('python3', [join(__dirname, '..', 'host', 'fakeIvshmemServer.py'), '--socket', socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve) => createInterface({ input: server.stdout! }).once('line', () => resolve()));
    const a = await openIvshmemLink(parsed.value, socket);
    const b = await openIvshmemLink(parsed.value, socket);
    while (a.peers().length === 0) await new Promise((r) => setTimeout(r, 5));
    b.doorbellIn.subscribe(() => void b.doorbellOut.ring());
    const samples: number[] = [];
    let back: (() => void) | undefined;
    a.doorbellIn.subscribe(() => back?.());
    for (let i = 0; i < ROUND_TRIPS; i++) {
      const t0 = process.hrtime.bigint();
      await new Promise<void>((resolve) => {
        back = resolve;
        void a.doorbellOut.ring();
      });
      samples.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    await a.close();
    await b.close();
    samples.sort((x, y) => x - y);
    const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
    return {
      'ivshmem doorbell round trip p50 (us)': Math.round(at(0.5)),
      'ivshmem doorbell round trip p99 (us)': Math.round(at(0.99)),
      'ivshmem doorbell round trips/s': Math.round(1e6 / (samples.reduce((s, x) => s + x, 0) / samples.length)),
    };
  } finally {
    server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
