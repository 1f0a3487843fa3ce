/**
 * The shm-file link with the simulated board's device side in a separate process
 * (main/host/sim/shm-entry.cjs), driven by the workbench's driver exactly as hardware would
 * be: for every queue format, with socket doorbells and with polling; and every way the file
 * or the peer can be wrong, each a clear error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';

import { parseBoardProfile, type BoardProfile } from '../../src/api/boardProfile';
import { findBuiltinProfile } from '../../src/boards/builtin';
import qemuRaw from '../../src/boards/profiles/sim-qemu-amp-pci.json';
import { toHex } from '../../src/util/hex';
import { exerciseDevices } from '../../main/host/exercise';
import {
  createShmFile,
  decodeShmHeader,
  encodeShmHeader,
  openShmFileLink,
  shmFileLayout,
  type ShmDoorbells,
} from '../../main/host/links/shmFile';
import { attachSession, type Session } from '../../main/host/session';
import { WorkbenchService } from '../../main/host/service/workbench';
import { VMAMP_STATUS } from '../../src/bus/formats/vmamp';
import { writeDeviceHeadStatus } from './shmPeer';
import type { WorkbenchEvent } from '../../src/api/workbench';
import { loadNative } from '../../main/native/index';

const native = loadNative();
const ENTRY = resolve(__dirname, '../../main/host/sim/shm-entry.cjs');
const dir = mkdtempSync(join(readFileSync('/proc/mounts', 'utf8').includes(' /dev/shm ') ? '/dev/shm' : tmpdir(), 'amp-shm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The QEMU board with spsc-v1 rings instead of the self-describing layout (no handshake). */
const spscRaw = {
  ...qemuRaw,
  id: 'sim-qemu-amp-pci-spsc',
  description: 'sim-qemu-amp-pci with spsc-v1 rings at the default geometry',
  bus: { ...qemuRaw.bus, format: 'spsc-v1', handshake: 'none' },
};
const spscFile = join(dir, 'spsc-profile.json');
writeFileSync(spscFile, JSON.stringify(spscRaw));

function parsed(raw: unknown): BoardProfile {
  const r = parseBoardProfile(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

const builtin = (id: string) => findBuiltinProfile(id)!;

/** Every queue format, with the arguments that make shm-entry.cjs play that board. */
const BOARDS = [
  { format: 'vmamp-shmem-v1', profile: builtin('sim-qemu-amp-pci'), args: ['--board', 'sim-qemu-amp-pci'] },
  { format: 'vmamp-shmem-v1', profile: builtin('sim-versal'), args: ['--board', 'sim-versal'] },
  { format: 'openamp-static-v1', profile: builtin('sim-stm32mp157'), args: ['--board', 'sim-stm32mp157'] },
  { format: 'spsc-v1', profile: parsed(spscRaw), args: ['--profile', spscFile] },
];

interface BoardProcess {
  child: ChildProcess;
  stderr: string;
}

const boards: BoardProcess[] = [];
let session: Session | null = null;
let fileCounter = 0;
const freshPath = () => join(dir, `amp${fileCounter++}`);

afterEach(async () => {
  await session?.close();
  session = null;
  for (const b of boards.splice(0)) {
    if (b.child.exitCode !== null || b.child.signalCode !== null) continue;
    const exited = new Promise((r) => b.child.once('exit', r));
    b.child.kill('SIGTERM');
    await exited;
  }
});

/** Spawns the board; resolves when it printed "ready", rejects with its stderr if it exits first. */
function startBoard(args: string[]): Promise<BoardProcess> {
  const child = spawn(process.execPath, [ENTRY, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const board: BoardProcess = { child, stderr: '' };
  boards.push(board);
  child.stderr!.on('data', (d: Buffer) => (board.stderr += d.toString()));
  return new Promise((ok, fail) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) ok(board);
    });
    child.once('exit', (code) => fail(new Error(`board exited with ${code} before it was ready: ${board.stderr}`)));
  });
}

async function probeAndExercise(profile: BoardProfile, path: string, doorbells: ShmDoorbells, count: number): Promise<{ description: string; notices: readonly string[] }> {
  const link = await openShmFileLink(profile, path, { doorbells });
  session = await attachSession(profile, link);
  const probed = await session.probe();
  expect(probed.ok, probed.ok ? '' : `${probed.error}; board said: ${boards.map((b) => b.stderr).join('')}`).toBe(true);
  if (!probed.ok) return link;
  expect(probed.value.length).toBe(profile.sim!.devices.length);
  for (const d of probed.value) expect(d.phase, `${d.error}; board said: ${boards.map((b) => b.stderr).join('')}`).toBe('ready');
  const report = await exerciseDevices(session, { count });
  expect(report.devices.length).toBe(profile.sim!.devices.length);
  for (const d of report.devices) expect([d.devNum, d.ok, d.errors]).toEqual([d.devNum, count, []]);
  return link;
}

describe.skipIf(!native.ok)(native.ok ? 'shm-file link' : `shm-file link (skipped: ${native.error})`, () => {
  describe.each(BOARDS)('$profile.id ($format), board in a separate process', ({ profile, args }) => {
    it('probes every device to DRIVER_OK and runs the workloads over socket doorbells', async () => {
      const path = freshPath();
      await startBoard([...args, '--shm', path]);
      const { description, notices } = await probeAndExercise(profile, path, 'socket', 20);
      expect(description).toContain(`doorbells: socket ${path}.sock`);
      expect(notices).toEqual([]);
    });
  });

  it('falls back to polling when the board has no doorbell socket', async () => {
    const path = freshPath();
    await startBoard(['--board', 'sim-qemu-amp-pci', '--shm', path, '--doorbells', 'poll']);
    const { description, notices } = await probeAndExercise(builtin('sim-qemu-amp-pci'), path, 'auto', 10);
    expect(description).toMatch(/doorbells: polling, no doorbell socket \(.*\.sock: no such file or folder \(ENOENT\)\)/);
    expect(notices).toEqual([`shm file ${path}: doorbells: polling, no doorbell socket (${path}.sock: no such file or folder (ENOENT)); the workbench polls the queue every few milliseconds`]);
  });

  it('serves a workbench that polls while the board listens on its socket', async () => {
    const path = freshPath();
    await startBoard(['--board', 'sim-stm32mp157', '--shm', path]);
    const { description } = await probeAndExercise(builtin('sim-stm32mp157'), path, 'poll', 10);
    expect(description).toContain('doorbells: polling');
  });

  describe('bad input, each a clear error', () => {
    const qemu = builtin('sim-qemu-amp-pci');

    it('a missing file', async () => {
      const path = join(dir, 'nobody');
      await expect(openShmFileLink(qemu, path)).rejects.toThrow(
        `shm file ${path} does not exist: start the board side first (amp-workbench sim --board sim-qemu-amp-pci --shm ${path}) or check the path`,
      );
    });

    it('a file too small for the profile, giving both sizes', async () => {
      const path = freshPath();
      writeFileSync(path, new Uint8Array(0x3000));
      await expect(openShmFileLink(qemu, path)).rejects.toThrow(
        `shm file ${path} is 12288 bytes, too small for board sim-qemu-amp-pci: it needs at least 1069056 bytes (a 4096-byte header page and regions "bar1" of 16384, "ram" of 1048576)`,
      );
    });

    it('a wrong magic', async () => {
      const path = freshPath();
      const bytes = new Uint8Array(shmFileLayout(qemu).fileSize);
      bytes.set(new TextEncoder().encode('NOT-AMP!'));
      writeFileSync(path, bytes);
      await expect(openShmFileLink(qemu, path)).rejects.toThrow(
        /wrong magic: expected 41 4d 50 2d 53 48 4d 00 \("AMP-SHM\\0"\), saw 4e 4f 54 2d 41 4d 50 21; .* \(header offset 0x00\)/,
      );
    });

    it('a file laid out for another board', async () => {
      const path = freshPath();
      createShmFile(builtin('sim-versal'), path);
      await expect(openShmFileLink(builtin('sim-stm32mp157'), path)).rejects.toThrow(
        `shm file ${path} (laid out for board "sim-versal") has no region "msgbus" that board sim-stm32mp157 needs; its regions are "hostq", "hostdata"`,
      );
    });

    it('no doorbell socket when socket doorbells are required', async () => {
      const path = freshPath();
      createShmFile(qemu, path);
      await expect(openShmFileLink(qemu, path, { doorbells: 'socket' })).rejects.toThrow(/cannot connect to the doorbell socket .*\.sock: no such file or folder \(ENOENT\); is the board side running/);
    });

    it('a peer that never answers the handshake: the session says which stage timed out', async () => {
      const impatient = { ...qemu, bus: { ...qemu.bus, timeouts: { layoutMs: 200, peerMs: 200, responseMs: 200 } } };
      const path = freshPath();
      createShmFile(impatient, path);
      const link = await openShmFileLink(impatient, path);
      await expect(attachSession(impatient, link)).rejects.toThrow(
        new RegExp(`bus set-up on sim-qemu-amp-pci over shm-file ${path} .* failed \\(timeout at bus offset 0x0: .*after 200 ms.*the device has not published its layout\\)`),
      );
    });
  });

  describe('file header', () => {
    it('encodes the layout byte for byte as documented', () => {
      const layout = shmFileLayout(builtin('sim-stm32mp157'));
      expect(layout).toEqual({
        profileId: 'sim-stm32mp157',
        fileSize: 0x7000,
        regions: [
          { name: 'msgbus', offset: 0x1000, size: 0x1000 },
          { name: 'vmsgdev', offset: 0x2000, size: 0x5000 },
        ],
      });
      const h = encodeShmHeader(layout);
      expect(toHex(h.subarray(0, 0x40))).toBe(
        '41 4d 50 2d 53 48 4d 00 01 00 00 00 00 10 00 00 02 00 00 00 00 00 00 00 00 70 00 00 00 00 00 00 ' +
          toHex(new TextEncoder().encode('sim-stm32mp157'.padEnd(32, '\0'))),
      );
      expect(toHex(h.subarray(0x40, 0x80))).toBe(
        toHex(new TextEncoder().encode('msgbus'.padEnd(32, '\0'))) + ' 00 10 00 00 00 00 00 00 00 10 00 00 00 00 00 00' + ' 00'.repeat(16),
      );
      expect(h.subarray(0xc0).every((b) => b === 0)).toBe(true);
      expect(decodeShmHeader(h, 'x')).toEqual({ ok: true, value: layout });
    });

    it('decodes any bytes to a layout or an error that names its offset, never a throw', () => {
      const valid = encodeShmHeader(shmFileLayout(builtin('sim-versal')));
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.nat(0x7f), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
          const h = valid.slice();
          for (const [at, v] of edits) h[at] = v;
          const r = decodeShmHeader(h, 'f');
          if (r.ok) for (const reg of r.value.regions) expect(reg.offset + reg.size).toBeLessThanOrEqual(r.value.fileSize);
          else expect(r.error).toMatch(/^f: .* \(header offset 0x[0-9a-f]{2}\)$/s);
        }),
      );
    });
  });

  it('a board that restarts mid-session ends the workbench session with the reason, and keeps the trace', async () => {
    const path = freshPath();
    await startBoard(['--board', 'sim-qemu-amp-pci', '--shm', path]);
    const service = new WorkbenchService({ capturesDir: join(dir, 'captures') });
    const events: WorkbenchEvent[] = [];
    service.onEvent((e) => events.push(e));
    const connected = await service.handle('session.connect', { board: 'sim-qemu-amp-pci', link: `shm-file:${path}` });
    expect(connected.ok && (connected.result as { bringUpError: string | null }).bringUpError).toBe(null);

    // The board's firmware starts over: its queue head is back at INIT (docs/amp-bus.md §4.2).
    writeDeviceHeadStatus(path, builtin('sim-qemu-amp-pci'), VMAMP_STATUS.INIT);

    // The next exchange meets the restarted board: the session ends at once, not request by request.
    await service.handle('device.workload', { devNum: 0, kind: 'rng-read', params: { bytes: 8 } });
    await vi.waitFor(() => expect(events.some((e) => e.event === 'session.closed')).toBe(true));
    const closed = events.find((e) => e.event === 'session.closed')!;
    expect(closed.event === 'session.closed' && closed.data.lost).toBe(true);
    expect(closed.event === 'session.closed' && closed.data.reason).toMatch(/^lost the board: the board stopped its side of the bus \(.*INIT.*\)\. The trace so far is kept; connect again when the board is back$/);
    const state = await service.handle('session.state', {});
    expect(state.ok && (state.result as { connected: boolean }).connected).toBe(false);
    // Everything recorded is still there, ending with why the session was lost and the detach.
    const info = await service.handle('trace.info', {});
    if (!info.ok) throw new Error(info.error.message);
    const count = (info.result as { count: number }).count;
    const tail = await service.handle('trace.rows', { from: 0, count: 5000, filter: 'kind == marker' });
    if (!tail.ok) throw new Error(tail.error.message);
    const markers = (tail.result as { rows: { name: string; summary: string }[] }).rows.map((r) => r.name);
    expect(count).toBeGreaterThan(50);
    expect(markers.slice(-2)).toEqual(['ERROR', 'DETACH']);
    expect((await service.handle('session.disconnect', {})).ok).toBe(false);
    await service.close();
  });

  it('a board process that dies mid-session ends the workbench session at once, saying so', async () => {
    const path = freshPath();
    const board = await startBoard(['--board', 'sim-versal', '--shm', path]);
    const service = new WorkbenchService({ capturesDir: join(dir, 'captures') });
    const events: WorkbenchEvent[] = [];
    service.onEvent((e) => events.push(e));
    const connected = await service.handle('session.connect', { board: 'sim-versal', link: `shm-file:${path}` });
    expect(connected.ok && (connected.result as { bringUpError: string | null }).bringUpError).toBe(null);
    board.child.kill('SIGKILL');
    await vi.waitFor(() => expect(events.some((e) => e.event === 'session.closed')).toBe(true));
    const closed = events.find((e) => e.event === 'session.closed')!;
    expect(closed.event === 'session.closed' && closed.data).toMatchObject({
      lost: true,
      reason: `lost the board: the board side closed the doorbell socket ${path}.sock (its process ended or restarted). The trace so far is kept; connect again when the board is back`,
    });
    const info = await service.handle('trace.info', {});
    expect(info.ok && (info.result as { count: number }).count).toBeGreaterThan(20);
    await service.close();
  });
});
