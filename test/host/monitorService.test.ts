/**
 * The service's monitor role and the devices of an opened capture: a capture opened with
 * capture.open shows the devices its messages left behind (rebuilt from the observed messages,
 * as a monitor does), a monitor session shows what it observed and refuses every action that
 * would touch the board, and the watch is read-only end to end over a real shm file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

import { afterAll, describe, expect, it } from 'vitest';

import { WORKBENCH_METHODS, type WorkbenchMethod, type WorkbenchResult } from '../../src/api/workbench';
import { WorkbenchService } from '../../main/host/service/workbench';
import { loadNative } from '../../main/native/index';

const BIN = resolve(__dirname, '../../main/host/cli/amp-workbench.cjs');
const root = mkdtempSync(join(readFileSync('/proc/mounts', 'utf8').includes(' /dev/shm ') ? '/dev/shm' : tmpdir(), 'amp-monsvc-'));
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await gone;
    }
  }
  rmSync(root, { recursive: true, force: true });
});

async function call<M extends WorkbenchMethod>(service: WorkbenchService, method: M, params: unknown = {}): Promise<WorkbenchResult<M>> {
  const r = await service.handle(method, params);
  if (!r.ok) throw new Error(`${method}: ${r.error.message}`);
  return WORKBENCH_METHODS[method].result.parse(r.result) as WorkbenchResult<M>;
}

const wire = (d: WorkbenchResult<'session.state'>['devices'][number]) => ({ devNum: d.devNum, deviceId: d.deviceId, status: d.status, queues: d.queues.map((q) => [q.index, q.size, q.descAddr]) });

describe('service: devices of an opened capture', () => {
  it('capture.open shows the devices the capture\'s messages brought up, as the driver had them', async () => {
    const service = new WorkbenchService({ capturesDir: join(root, 'captures') });
    const connected = await call(service, 'session.connect', { board: 'sim-versal' });
    expect(connected.devices.length).toBeGreaterThan(0);
    const { capture } = await call(service, 'session.disconnect');
    await call(service, 'capture.open', { path: capture! });
    const state = await call(service, 'session.state');
    expect(state.connected).toBe(false);
    expect(state.board).toBe('sim-versal');
    expect(state.devices.map(wire)).toEqual(connected.devices.map(wire));
    const refused = await service.handle('device.reset', { devNum: connected.devices[0]!.devNum });
    expect(refused.ok ? null : refused.error.message).toBe(`${capture} is an opened capture: its devices are shown as its messages left them; connect a board to act on one`);
  });
});

describe.skipIf(!loadNative().ok)('service: monitor role', () => {
  it('refuses a simulated board in its own session with what to do instead', async () => {
    const service = new WorkbenchService({ capturesDir: join(root, 'captures') });
    const r = await service.handle('session.connect', { board: 'sim-qemu-amp-pci', role: 'monitor' });
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.error.message).toMatch(/^monitoring sim-qemu-amp-pci failed: a monitor watches memory that a driver and a device already share; .* Run the simulated board as its own process \(amp-workbench sim --board sim-qemu-amp-pci --shm FILE\)/);
  });

  it('watches a driver and a board on a shm file: devices and rings as observed, every action refused', { timeout: 60_000 }, async () => {
    const file = join(root, 'amp0');
    const board = spawn(process.execPath, [BIN, 'sim', '--board', 'sim-qemu-amp-pci', '--shm', file], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(board);
    await new Promise<void>((ok) => createInterface({ input: board.stdout! }).once('line', () => ok()));
    const service = new WorkbenchService({ capturesDir: join(root, 'captures') });
    const started = await call(service, 'session.connect', { board: 'sim-qemu-amp-pci', link: `shm-file:${file}`, role: 'monitor' });
    expect(started.devices).toEqual([]);
    const driver = spawn(process.execPath, [BIN, 'exercise', '--board', 'sim-qemu-amp-pci', '--link', `shm-file:${file}`, '--count', '5'], { stdio: 'ignore' });
    children.push(driver);
    expect(await new Promise((r) => driver.once('exit', r))).toBe(0);
    await new Promise((r) => setTimeout(r, 200));
    const state = await call(service, 'session.state');
    expect(state.link).toContain('read-only');
    // The same tap the CLI chooses (monitorTap): the native thread for a mapped shm file, named for the page.
    expect(state.notices.at(-1)).toMatch(/^rings followed by the native watcher thread/);
    expect(state.devices.map((d) => [d.devNum, d.deviceType])).toEqual([
      [0, 'rng'],
      [1, 'i2c'],
      [2, 'console'],
    ]);
    const ring = await call(service, 'queue.inspect', { devNum: 0, queue: 0 });
    expect(ring.ring.size).toBe(state.devices[0]!.queues[0]!.size);
    expect(ring.ring.used?.idx).toBeGreaterThan(0);
    const reset = await service.handle('device.reset', { devNum: 0 });
    expect(reset.ok ? '' : reset.error.message).toBe('a monitor only watches sim-qemu-amp-pci: it never sends to a device; connect as the driver to reset or exercise one');
    expect((await call(service, 'trace.info')).count).toBeGreaterThan(50);
    const stopped = await call(service, 'session.disconnect');
    expect(stopped.records).toBeGreaterThan(50);
  });
});
