/**
 * serve-device over shared memory: the device side in one process, `exercise` as the driver in
 * another, over a shm file and over a (fake) ivshmem-server. Both record the same messages: per
 * direction the two captures hold the same bytes in the same order.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';

import { loadCapture } from '../../main/host/trace/load';
import { toRecords } from '../../src/trace/block';
import { describeRecord } from '../../src/trace/describe';
import { startServeDevice } from './loopbackRig';

const BIN = resolve(__dirname, '../../main/host/cli/amp-workbench.cjs');
const SHM = readFileSync('/proc/mounts', 'utf8').includes(' /dev/shm ') ? '/dev/shm' : tmpdir();
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

function cli(args: string[]): Promise<{ code: number | null; text: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let text = '';
  child.stdout.on('data', (d: Buffer) => (text += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (text += d.toString('utf8')));
  return new Promise((done) => child.on('exit', (code) => done({ code, text })));
}

/** The capture's messages per direction, as hex, in order. */
function messages(dir: string): Record<string, string[]> {
  const c = loadCapture(dir);
  if (!c.ok) throw new Error(c.error);
  const out: Record<string, string[]> = { 'driver-to-device': [], 'device-to-driver': [] };
  for (const r of toRecords(c.value.blocks())) if (r.kind === 'message' && r.dir) out[r.dir]!.push(Buffer.from(r.data).toString('hex'));
  return out;
}

/**
 * One serve-device, then `drivers` exercise runs one after the other as separate processes: each
 * is served (0 problems), and the device's capture holds every driver's messages, in order.
 * `driverLeaving`: what serve-device says when the driver's leaving ends it (ivshmem); else it
 * serves on until SIGTERM.
 */
async function serveAndExercise(boardArgs: string[], link: string, driverLeaving?: RegExp, drivers = 1): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'amp-serve-device-'));
  const serve = startServeDevice([...boardArgs, '--link', link, '--out', join(dir, 'device')]);
  children.push(serve.child);
  await serve.ready;
  const captures: string[] = [];
  for (let i = 0; i < drivers; i++) {
    captures.push(join(dir, `driver${i}`));
    const driver = await cli(['exercise', ...boardArgs, '--link', link, '--out', captures[i]!, '--count', '3']);
    expect(driver.code, driver.text).toBe(0);
    expect(driver.text).toMatch(/^0 problems/m);
  }
  if (!driverLeaving) serve.child.kill('SIGTERM');
  const done = await serve.exited;
  expect(done.code, done.stderr).toBe(driverLeaving ? 1 : 0);
  if (driverLeaving) expect(done.stderr).toMatch(driverLeaving);
  // The last driver stopped: the devices are reset for the next one (status 0, no queues). An
  // ivshmem peer's leaving may end serve-device before its SHUTDOWN is seen.
  if (!driverLeaving) expect(done.stdout).toMatch(/^0 +\d+ +0 +0x0{16} *$/m);
  expectSessions(join(dir, 'device'), captures.map(messages), driverLeaving !== undefined);
}

/**
 * The device's capture is the drivers' captures one after the other, per direction; each session
 * starts with an attach marker and ends with the note that the device waits for the next driver.
 */
function expectSessions(deviceDir: string, drivers: Record<string, string[]>[], lastMayLeave: boolean): void {
  const device = messages(deviceDir);
  expect(device['driver-to-device']!.length).toBeGreaterThan(20 * drivers.length);
  expect(device['driver-to-device']).toEqual(drivers.flatMap((d) => d['driver-to-device']!));
  // The device may publish an event (a console's EVENT_USED, type 0x00, msg_id 0x42) after a
  // driver's last drain before its SHUTDOWN: the device's capture has it, the driver's cannot.
  const up = device['device-to-driver']!;
  let at = 0;
  for (const [i, d] of drivers.entries()) {
    const drained = d['device-to-driver']!;
    expect(up.slice(at, at + drained.length), `driver ${i}`).toEqual(drained);
    at += drained.length;
    const next = drivers[i + 1]?.['device-to-driver']![0];
    while (at < up.length && up[at] !== next && up[at]!.startsWith('0042')) at++;
  }
  expect(up.slice(at)).toEqual([]);
  // A driver that stops (its head SHUTDOWN) ends its session: no ERROR on the device side, whose
  // Expert view would otherwise blame the board for a normal exit.
  expect(markers(deviceDir).filter((m) => m.startsWith('ERROR'))).toEqual([]);
  const outline = sessionOutline(deviceDir);
  expect(lastMayLeave ? outline.replace(/S?$/, 'S') : outline).toBe('AMS'.repeat(drivers.length));
}

/** The device capture in brief: A a driver attached, M its messages, S the note that it stopped and the device waits for the next. */
function sessionOutline(dir: string): string {
  const c = loadCapture(dir);
  if (!c.ok) throw new Error(c.error);
  let outline = '';
  for (const r of toRecords(c.value.blocks())) {
    const summary = r.kind === 'marker' ? describeRecord(r).summary : '';
    const letter =
      r.kind === 'message' ? 'M'
      : summary.startsWith('ATTACH') ? 'A'
      : summary.startsWith('NOTE') && summary.includes('waiting for the next driver') ? 'S'
      : '';
    if (letter && !outline.endsWith(letter)) outline += letter;
  }
  return outline;
}

/** The capture's markers as describeRecord names them. */
function markers(dir: string): string[] {
  const c = loadCapture(dir);
  if (!c.ok) throw new Error(c.error);
  return toRecords(c.value.blocks())
    .filter((r) => r.kind === 'marker')
    .map((r) => describeRecord(r).summary);
}

describe('serve-device over shared memory', () => {
  it('is the device side of a shm file: the driver brings up and exercises its devices, both captures agree', async () => {
    const file = join(mkdtempSync(join(SHM, 'amp-serve-')), 'board');
    await serveAndExercise(['--board', 'sim-versal'], `shm-file:${file}`);
  }, 60_000);

  // A bring-up engineer reruns the driver (reboot, rmmod/modprobe): like firmware, the device
  // side re-arms after each driver's SHUTDOWN and serves the next.
  for (const board of ['sim-versal', 'sim-qemu-amp-pci', 'sim-stm32mp157']) {
    it(`serves driver after driver on ${board}: three exercise runs, one device capture with each session`, async () => {
      const file = join(mkdtempSync(join(SHM, 'amp-serve-')), 'board');
      await serveAndExercise(['--board', board], `shm-file:${file}`, undefined, 3);
    }, 90_000);
  }

  it('serves the driver after one killed mid-session (no SHUTDOWN), continuing at the device head’s indices', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'amp-serve-killed-'));
    const link = `shm-file:${join(mkdtempSync(join(SHM, 'amp-serve-')), 'board')}`;
    const serve = startServeDevice(['--board', 'sim-versal', '--link', link, '--out', join(dir, 'device')]);
    children.push(serve.child);
    await serve.ready;
    const killed = spawn(process.execPath, [BIN, 'exercise', '--board', 'sim-versal', '--link', link, '--out', join(dir, 'killed'), '--count', '100000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(killed);
    // Killed once it brought its devices up, i.e. while it exercises them.
    await new Promise<void>((done) => {
      for (const input of [killed.stdout, killed.stderr]) createInterface({ input }).on('line', (l) => l.startsWith('dev 1 ') && done());
    });
    killed.kill('SIGKILL');
    await new Promise((done) => killed.on('exit', done));
    // Its head stays RUN: the device cannot tell it is gone. The next driver meets the device's
    // head still RUN and starts at its indices (docs/amp-bus.md §13 q4), a finding, not a problem.
    const next = await cli(['exercise', '--board', 'sim-versal', '--link', link, '--out', join(dir, 'next'), '--count', '3']);
    expect(next.code, next.text).toBe(0);
    expect(next.text).toMatch(/^0 problems, 1 finding/m);
    expect(next.text).toMatch(/already RUN .* from an earlier session/);
    // That driver's orderly SHUTDOWN re-arms the device: the one after starts afresh.
    const fresh = await cli(['exercise', '--board', 'sim-versal', '--link', link, '--out', join(dir, 'fresh'), '--count', '3']);
    expect(fresh.code, fresh.text).toBe(0);
    expect(fresh.text).toMatch(/^0 problems, 0 findings/m);
    serve.child.kill('SIGTERM');
    expect((await serve.exited).code).toBe(0);
    const outline = sessionOutline(join(dir, 'device'));
    expect(outline).toBe('AMSAMS');
  }, 90_000);

  it('is the device-side peer of an ivshmem-server', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'amp-serve-ivshmem-'));
    const socket = join(dir, 'sock');
    const server = spawn('python3', [join(__dirname, 'fakeIvshmemServer.py'), '--socket', socket], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(server);
    await new Promise<void>((done) => createInterface({ input: server.stdout }).once('line', () => done()));
    const profile = join(dir, 'ivshmem.json');
    writeFileSync(
      profile,
      JSON.stringify({
        schema: 'amp-board-profile/0',
        id: 'ivshmem-peer',
        description: 'two peers of an ivshmem-server: queues at the start of the shared memory, virtqueues in it',
        hostRole: 'driver',
        access: { kind: 'ivshmem-server' },
        regions: [
          { name: 'queues', source: { shm: '0x0' }, size: '0x2000' },
          { name: 'data', source: { shm: '0x10000' }, size: '0x100000', peerAddress: '0x10000' },
        ],
        bus: { format: 'vmamp-shmem-v1', region: 'queues', offset: '0x0', size: '0x2000', messageFormat: 'virtio-msg-r1', revision: 'r4', maxMessageSize: 64, handshake: 'vmamp-v1' },
        doorbellOut: { kind: 'ivshmem', value: 0 },
        doorbellIn: { kind: 'eventfd', vector: 0 },
        dataMemory: { region: 'data', addressMode: 'window-offset', peerBase: '0x10000', size: '0x100000' },
        sim: { devices: [{ devNum: 0, kind: 'rng', seed: 5 }, { devNum: 1, kind: 'console' }] },
      }),
    );
    await serveAndExercise(['--profile', profile], `ivshmem:${socket}`, /^serve-device: stopped: ivshmem peer 1, the board this session rang, left the server at /m);
  }, 60_000);
});
