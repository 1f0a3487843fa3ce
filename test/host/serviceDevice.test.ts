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

/** A driver in another process; `stop()` ends it as Ctrl-C does (its queue head SHUTDOWN). */
function exercise(args: string[]): { text: () => string; stop: () => Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, 'exercise', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout.on('data', (d: Buffer) => (text += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (text += d.toString('utf8')));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return {
    text: () => text,
    stop: () => {
      child.kill('SIGINT');
      return exited;
    },
  };
}

async function until(what: string, done: () => boolean | Promise<boolean>): Promise<void> {
  for (const t0 = Date.now(); !(await done()); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() - t0 > 20_000) throw new Error(`timed out waiting for ${what}`);
  }
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
    // A driver that keeps exercising: the device side is looked at while it runs.
    const driver = exercise(['--board', 'sim-versal', '--link', `shm-file:${file}`, '--count', '1000000']);
    const deviceState = async () => {
      const s = await service!.call('session.state', {});
      if (!s.ok) throw new Error(JSON.stringify(s));
      return s;
    };
    await until(`both devices ready and two rng requests served (driver: ${driver.text()})`, async () => {
      const d = (await deviceState()).result.devices;
      return d.length === 2 && d.every((x) => x.phase === 'ready') && d[0]!.queues[0]!.usedEvents >= 2;
    });
    // The views hear the bring-up as it happens.
    expect(changes).toContain('1:negotiating');
    expect(changes).toContain('0:ready');
    const state = await deviceState();
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
    // The driver stops (SHUTDOWN): the devices are reset for the next driver, and the views hear it.
    await driver.stop();
    await until('the devices reset after the driver stopped', async () => (await deviceState()).result.devices.every((d) => d.phase === 'probing' && d.queues.length === 0));
    expect(changes.filter((c) => c.startsWith('0:')).at(-1)).toBe('0:probing');
    const done = await service.call('session.disconnect', {});
    expect(done.ok).toBe(true);
  }, 60_000);

  it('says which links serve devices', async () => {
    service = new WorkbenchService({ capturesDir: mkdtempSync(join(tmpdir(), 'amp-service-device-')) });
    const r = await service.call('session.connect', { board: 'sim-versal', link: 'sim', role: 'device' });
    expect(r.ok ? '' : r.error.message).toBe('the device side is served on linux-loopback, shm-file or ivshmem, not on sim');
  });
});
