/**
 * The service's device-side session: session.connect with role 'device' serves the profile's
 * devices on a shm file, a driver in another process (`exercise`) brings them up, and
 * session.state / queue.inspect show the device side as the driver set it up.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { WorkbenchService } from '../../main/host/service/workbench';

const BIN = resolve(__dirname, '../../main/host/cli/amp-workbench.cjs');
const SHM = readFileSync('/proc/mounts', 'utf8').includes(' /dev/shm ') ? '/dev/shm' : tmpdir();
let service: WorkbenchService | null = null;
afterEach(async () => {
  await service?.close();
  service = null;
});

function exercise(args: string[]): Promise<{ code: number | null; text: string }> {
  const child = spawn(process.execPath, [BIN, 'exercise', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout.on('data', (d: Buffer) => (text += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (text += d.toString('utf8')));
  return new Promise((done) => child.on('exit', (code) => done({ code, text })));
}

describe('the service as the device side', () => {
  it('serves on a shm file and shows the devices and queues as the driver set them up', async () => {
    const root = mkdtempSync(join(tmpdir(), 'amp-service-device-'));
    service = new WorkbenchService({ capturesDir: join(root, 'captures') });
    const file = join(mkdtempSync(join(SHM, 'amp-service-device-')), 'board');
    const changes: string[] = [];
    service.onEvent((e) => {
      if (e.event === 'session.device') changes.push(`${e.data.device.devNum}:${e.data.device.phase}`);
    });
    const connected = await service.call('session.connect', { board: 'sim-versal', link: `shm-file:${file}`, role: 'device' });
    expect(connected.ok, JSON.stringify(connected)).toBe(true);
    const driver = await exercise(['--board', 'sim-versal', '--link', `shm-file:${file}`, '--count', '2']);
    expect(driver.code, driver.text).toBe(0);
    // The views hear the bring-up as it happens: each device ends ready.
    expect(changes.filter((c) => c.startsWith('0:')).at(-1)).toBe('0:ready');
    expect(changes).toContain('1:negotiating');
    const state = await service.call('session.state', {});
    if (!state.ok) throw new Error(JSON.stringify(state));
    expect((state.result as { role?: string }).role).toBe('device');
    expect(state.result.devices.map((d) => [d.devNum, d.deviceType, d.phase, d.statusNames.join('|')])).toEqual([
      [0, 'rng', 'ready', 'ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK'],
      [1, 'console', 'ready', 'ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK'],
    ]);
    const rng = state.result.devices[0]!;
    expect(rng.queues.map((q) => [q.index, q.name, q.size])).toEqual([[0, 'requestq', 128]]);
    expect(rng.queues[0]!.usedEvents).toBeGreaterThanOrEqual(2);
    const ring = await service.call('queue.inspect', { devNum: 0, queue: 0 });
    if (!ring.ok) throw new Error(JSON.stringify(ring));
    expect(ring.result.ring.used?.idx).toBe(rng.queues[0]!.usedEvents);
    const reset = await service.call('device.reset', { devNum: 0 });
    expect(reset.ok ? '' : reset.error.message).toBe('the workbench is the device side here: the driver at the other end resets and drives the devices');
    const rows = await service.call('trace.rows', { from: 0, count: 1000 });
    if (!rows.ok) throw new Error(JSON.stringify(rows));
    expect(rows.result.total).toBeGreaterThan(30);
    const done = await service.call('session.disconnect', {});
    expect(done.ok).toBe(true);
  }, 60_000);

  it('says which links serve devices', async () => {
    service = new WorkbenchService({ capturesDir: mkdtempSync(join(tmpdir(), 'amp-service-device-')) });
    const r = await service.call('session.connect', { board: 'sim-versal', link: 'sim', role: 'device' });
    expect(r.ok ? '' : r.error.message).toBe('the device side is served on linux-loopback, shm-file or ivshmem, not on sim');
  });
});
