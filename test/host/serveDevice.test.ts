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

/** `driverLeaving`: what serve-device says when the driver's leaving ends it (ivshmem); else it serves on until SIGTERM. */
async function serveAndExercise(boardArgs: string[], link: string, driverLeaving?: RegExp): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'amp-serve-device-'));
  const serve = startServeDevice([...boardArgs, '--link', link, '--out', join(dir, 'device')]);
  children.push(serve.child);
  await serve.ready;
  const driver = await cli(['exercise', ...boardArgs, '--link', link, '--out', join(dir, 'driver'), '--count', '3']);
  expect(driver.code, driver.text).toBe(0);
  if (!driverLeaving) serve.child.kill('SIGTERM');
  const done = await serve.exited;
  expect(done.code, done.stderr).toBe(driverLeaving ? 1 : 0);
  if (driverLeaving) expect(done.stderr).toMatch(driverLeaving);
  expect(done.stdout).toMatch(/^0 +4 +ACKNOWLEDGE\|DRIVER\|DRIVER_OK\|FEATURES_OK/m);
  const device = messages(join(dir, 'device'));
  const drv = messages(join(dir, 'driver'));
  expect(device['driver-to-device']!.length).toBeGreaterThan(20);
  expect(device['driver-to-device']).toEqual(drv['driver-to-device']);
  // The device may publish an event (a console's EVENT_USED, type 0x00, msg_id 0x42) after the
  // driver's last drain before its SHUTDOWN: the device's capture has it, the driver's cannot.
  const up = device['device-to-driver']!;
  const drained = drv['device-to-driver']!;
  expect(up.slice(0, drained.length)).toEqual(drained);
  expect(up.slice(drained.length).filter((m) => !m.startsWith('0042'))).toEqual([]);
  // A driver that stops (its head SHUTDOWN) ends its session: no ERROR on the device side, whose
  // Expert view would otherwise blame the board for a normal exit.
  expect(markers(join(dir, 'device')).filter((m) => m.startsWith('ERROR'))).toEqual([]);
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
