/**
 * The ivshmem link against a server speaking QEMU's ivshmem-server protocol
 * (test/host/fakeIvshmemServer.py; Debian packages no ivshmem-server): two peers, the workbench
 * as driver and a simulated board's device side, share the server's memory and ring each other
 * through its eventfds; peers joining and leaving; servers that are wrong or silent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';

import { parseBoardProfile, type BoardProfile } from '../../src/api/boardProfile';
import { startSimBoard, type SimBoard } from '../../src/sim/board';
import { exerciseDevices } from '../../main/host/exercise';
import { openIvshmemLink, type IvshmemLink } from '../../main/host/links/ivshmem';
import { nodeRuntime } from '../../main/host/runtime';
import { attachSession, type Session } from '../../main/host/session';
import { loadNative } from '../../main/native/index';
import { IVSHMEM_PROFILE } from './ivshmemProfile';


function profile(edit: (p: typeof IVSHMEM_PROFILE) => void = () => undefined): BoardProfile {
  const copy = structuredClone(IVSHMEM_PROFILE);
  edit(copy);
  const r = parseBoardProfile(copy);
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

const native = loadNative();
let dir = '';
const servers: ChildProcess[] = [];
const links: IvshmemLink[] = [];
let session: Session | null = null;
let board: SimBoard | null = null;

async function startServer(...args: string[]): Promise<string> {
  dir ||= mkdtempSync(join(tmpdir(), 'ivshmem-'));
  const socket = join(dir, `sock${servers.length}`);
  const server = spawn('python3', [join(__dirname, 'fakeIvshmemServer.py'), '--socket', socket, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  servers.push(server);
  const lines = createInterface({ input: server.stdout! });
  await new Promise<void>((resolve, reject) => {
    lines.once('line', () => resolve());
    server.once('exit', (code) => reject(new Error(`fake ivshmem-server exited with ${code}`)));
  });
  return socket;
}

async function join_(p: BoardProfile, socket: string, opts = {}): Promise<IvshmemLink> {
  const link = await openIvshmemLink(p, socket, opts);
  links.push(link);
  return link;
}

/** A simulated device side on one peer of the server, and a driver session on another (set as `session` and `board`). */
async function driverAndBoard(socket: string, driverOpts = {}): Promise<{ deviceLink: IvshmemLink; driverLink: IvshmemLink; s: Session }> {
  const p = profile();
  const deviceLink = await join_(p, socket);
  const driverLink = await join_(p, socket, driverOpts);
  const started = startSimBoard({ profile: p, ...deviceLink, runtime: nodeRuntime });
  const s = await attachSession(p, driverLink);
  session = s;
  const sim = await started;
  if (!sim.ok) throw new Error(sim.error);
  board = sim.value;
  return { deviceLink, driverLink, s };
}

const until = async (cond: () => boolean): Promise<void> => {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
};

afterEach(async () => {
  await session?.close();
  session = null;
  board?.close();
  board = null;
  for (const l of links.splice(0)) await l.close();
  for (const s of servers.splice(0)) s.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

describe.skipIf(!native.ok)('ivshmem link', () => {
  it('joins as a peer: ids in order, the same shared memory, and rings through the eventfds', async () => {
    const socket = await startServer();
    const a = await join_(profile(), socket);
    const b = await join_(profile(), socket);
    expect([a.ownId, b.ownId]).toEqual([0, 1]);
    expect(b.peers()).toEqual([0]);
    await until(() => a.peers().length === 1);
    expect(a.peers()).toEqual([1]);

    await a.busWindow.write(0x100, Uint8Array.of(9, 8, 7));
    expect(await b.busWindow.read(0x100, 3)).toEqual(Uint8Array.of(9, 8, 7));
    await b.dataWindow.store(0, 32, 0x12345678);
    expect(await a.dataWindow.load(0, 32)).toBe(0x12345678);

    const rang = new Promise<void>((resolve) => b.doorbellIn.subscribe(resolve));
    await a.doorbellOut.ring();
    await rang;
  });

  it('sees a peer leave and stops ringing it, with a notice', async () => {
    const socket = await startServer();
    const a = await join_(profile(), socket, { updateIntervalMs: 5 });
    const b = await join_(profile(), socket);
    await until(() => a.peers().length === 1);
    await b.close();
    await until(() => a.peers().length === 0);
    await a.doorbellOut.ring();
    expect(a.notices).toEqual([`rang with no other peer (vector 0) connected to ${socket}; the ring was dropped`]);
  });

  it('loses the session, naming the peer, when the board peer leaves the server; requests then fail with it', async () => {
    const socket = await startServer();
    const { deviceLink, driverLink, s } = await driverAndBoard(socket, { updateIntervalMs: 5 });
    expect((await s.probe()).ok).toBe(true);
    const told: string[] = [];
    s.onLost((reason) => told.push(reason));
    // The board's process goes: the server tells the driver's peer that peer 0 left.
    board?.close();
    board = null;
    await deviceLink.close();
    const why = `ivshmem peer 0, the board this session rang, left the server at ${socket} (its process ended or it disconnected)`;
    expect(await driverLink.lost).toBe(why);
    // Told once the session has drained the bus and failed every request.
    await until(() => told.length > 0);
    expect(told).toEqual([why]);
    expect(await s.probe()).toEqual({ ok: false, error: `GET_DEVICES failed: ${why}` });
  });

  it('loses the session when the shared memory shrinks under it (the file behind it truncated)', async () => {
    dir ||= mkdtempSync(join(tmpdir(), 'ivshmem-'));
    const shm = join(dir, 'shm');
    const socket = await startServer('--shm', shm);
    const { driverLink, s } = await driverAndBoard(socket);
    expect((await s.probe()).ok).toBe(true);
    truncateSync(shm, 0x1000);
    const failed = await s.probe();
    const why = await driverLink.lost;
    // The addon names the memory by the fd the server passed (it has no path).
    expect(why).toMatch(new RegExp(`^the shared file fd \\d+ shrank to 4096 bytes under the session \\(expected at least ${4 << 20}\\): the board side truncated it$`));
    expect(failed).toEqual({ ok: false, error: `GET_DEVICES failed: ${why}` });
    expect(s.endedBecause).toBe(why);
  });

  it('runs a driver session against a simulated device side on another peer', async () => {
    const socket = await startServer();
    const { s } = await driverAndBoard(socket);
    const probed = await s.probe();
    expect(probed.ok).toBe(true);
    if (!probed.ok) return;
    expect(probed.value.map((d) => [d.devNum, d.deviceId, d.phase])).toEqual([
      [0, 4, 'ready'],
      [1, 34, 'ready'],
    ]);
    const report = await exerciseDevices(s, { count: 20 });
    for (const d of report.devices) expect([d.devNum, d.failed, d.errors]).toEqual([d.devNum, 0, []]);
    // The driver's virtqueues really are in the shared memory: at window offsets from peerBase.
    expect(probed.value[0]!.queues[0]!.descAddr).toBeGreaterThanOrEqual(0x10000n);
  });

  it('refuses a server of another protocol version', async () => {
    const socket = await startServer('--version', '2');
    await expect(join_(profile(), socket)).rejects.toThrow(`the ivshmem-server at ${socket} speaks protocol version 2, expected 0`);
  });

  it('gives up on a server that never answers the handshake', async () => {
    const socket = await startServer('--silent');
    await expect(join_(profile(), socket, { handshakeTimeoutMs: 100 })).rejects.toThrow(`the ivshmem-server at ${socket} sent no protocol version within 100 ms: is it an ivshmem-server?`);
  });

  it('says when there is no server, and when its memory is too small for the profile', async () => {
    const missing = join(mkdtempSync(join(tmpdir(), 'ivshmem-none-')), 'sock');
    // The native connect's "connect PATH: No such file or directory (errno 2)" in words.
    await expect(join_(profile(), missing)).rejects.toThrow(
      new Error(`cannot connect to an ivshmem-server at ${missing}: no such file or folder (${missing}) (ENOENT); start one with: ivshmem-server -F -S ${missing} -l 4M -n 1`),
    );
    const socket = await startServer('--size', String(0x20000));
    await expect(join_(profile(), socket)).rejects.toThrow('region "data" [0x10000, 0x110000) does not fit the server\'s 0x20000 bytes of shared memory: start the server with a larger -l');
  });
});
