/**
 * The service's monitor role and the devices of an opened capture: a capture opened with
 * capture.open shows the devices its messages left behind (rebuilt from the observed messages,
 * as a monitor does), a monitor session shows what it observed and refuses every action that
 * would touch the board, and the watch is read-only end to end over a real shm file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

import { afterAll, describe, expect, it } from 'vitest';

import { WORKBENCH_METHODS, type WorkbenchMethod, type WorkbenchResult } from '../../src/api/workbench';
import { WorkbenchService } from '../../main/host/service/workbench';
import { loadNative } from '../../main/native/index';
import { ANALYSIS_FILE, readAnalysisFile } from '../../main/host/trace/analysisFile';
import { openCapture } from './cliRun';

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

/** session.state once the opened capture's analysis pass has read its devices (it says so meanwhile). */
async function devicesRead(service: WorkbenchService): Promise<WorkbenchResult<'session.state'>> {
  for (;;) {
    const state = await call(service, 'session.state');
    if (state.notices.length === 0) return state;
    expect(state.notices).toEqual([expect.stringMatching(/^reading the devices from the capture's messages \(\d+ of \d+ records\)$/)]);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('service: devices of an opened capture', () => {
  it('reads them in the background analysis pass, says so meanwhile, saves them with the analysis; queue.inspect says what SET_VQUEUE did', async () => {
    const service = new WorkbenchService({ capturesDir: join(root, 'captures') });
    const connected = await call(service, 'session.connect', { board: 'sim-versal' });
    const { capture } = await call(service, 'session.disconnect');
    // A capture the workbench wrote keeps its devices in its analysis file, saved once the pass is done.
    const file = join(capture!, ANALYSIS_FILE);
    while (!existsSync(file)) await new Promise((r) => setTimeout(r, 5));
    const saved = readAnalysisFile(capture!, openCapture(capture!).fingerprint!());
    expect(saved?.ok && saved.value.devices.map(wire)).toEqual(connected.devices.map(wire));
    const bytes = readFileSync(file);
    // Without it the pass runs: the first session.state answers before it has read the capture.
    rmSync(file);
    const heard: number[] = [];
    service.onEvent((e) => {
      if (e.event === 'session.device') heard.push(e.data.device.devNum);
    });
    // Asked at once: the pass starts after a turn of the event loop.
    const [, first] = await Promise.all([call(service, 'capture.open', { path: capture! }), call(service, 'session.state')]);
    expect(first.devices).toEqual([]);
    expect(first.notices).toEqual([expect.stringMatching(/^reading the devices from the capture's messages \(0 of \d+ records\)$/)]);
    const early = await service.handle('queue.inspect', { devNum: connected.devices[0]!.devNum, queue: 0 });
    expect(early.ok ? null : early.error.code).toBe('busy');
    const state = await devicesRead(service);
    expect(state.devices.map(wire)).toEqual(connected.devices.map(wire));
    // The events follow the pass's end (its promise settles a turn after the state can show the devices).
    await expect.poll(() => heard).toEqual(connected.devices.map((d) => d.devNum));

    const dev = connected.devices.find((d) => d.queues.length > 0)!;
    const q = dev.queues[0]!;
    const inspect = await call(service, 'queue.inspect', { devNum: dev.devNum, queue: q.index });
    expect(inspect).toMatchObject({ devNum: dev.devNum, queue: q.index, name: q.name, ring: { size: q.size, descAddr: q.descAddr, driverAddr: q.driverAddr, deviceAddr: q.deviceAddr, avail: null, used: null, descriptors: [], chains: [] } });
    expect(inspect.ring.problems).toEqual([{ code: 'not-captured', reason: "the rings' memory is not in the capture: the size and addresses are SET_VQUEUE's; indices, descriptors and chains are unknown" }]);
    const none = await service.handle('queue.inspect', { devNum: dev.devNum, queue: 99 });
    expect(none.ok ? null : none.error.message).toBe(`the capture holds no SET_VQUEUE for device ${dev.devNum} queue 99, so its size and rings' addresses are unknown`);

    // With its analysis file, a reopened capture has them at once.
    writeFileSync(file, bytes);
    const again = new WorkbenchService({ capturesDir: join(root, 'captures') });
    await call(again, 'capture.open', { path: capture! });
    const reopened = await call(again, 'session.state');
    expect(reopened.notices).toEqual([]);
    expect(reopened.devices.map(wire)).toEqual(connected.devices.map(wire));
  });


  it('capture.open shows the devices the capture\'s messages brought up, as the driver had them', async () => {
    const service = new WorkbenchService({ capturesDir: join(root, 'captures') });
    const connected = await call(service, 'session.connect', { board: 'sim-versal' });
    expect(connected.devices.length).toBeGreaterThan(0);
    const { capture } = await call(service, 'session.disconnect');
    await call(service, 'capture.open', { path: capture! });
    const state = await devicesRead(service);
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
