/**
 * A simulated board's device side over a shm file, in this process: creates the file (layout
 * in main/host/links/shmFile.ts), listens on its doorbell socket and serves the profile's
 * devices through src/sim/board.ts, exactly as the worker-thread simulator does over
 * SharedArrayBuffers. The workbench attaches with openShmFileLink as it would to hardware.
 */
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';

import type { BoardProfile } from '../../../src/api/boardProfile';
import type { AttachStage } from '../../../src/bus/queue';
import { startSimBoard, type SimBoard, type SimBoardOptions } from '../../../src/sim/board';
import { createShmFile, doorbellSocketPath, mapShmFile, requireNative, SocketDoorbells, type ShmFileMapping } from '../links/shmFile';
import { nodeRuntime } from '../runtime';

export interface ShmBoardOptions {
  /** 'socket' (default): listen on the doorbell socket; 'poll': no socket, poll the rings. */
  doorbells?: 'socket' | 'poll';
  /** Default: doorbellSocketPath(filePath). */
  socketPath?: string;
  /** How often the board drains its ring while no workbench is connected to the socket. */
  pollMs?: number;
  log?: (text: string) => void;
  onStage?: (stage: AttachStage, detail: string) => void;
  /** The device side's send path (fault injection, main/host/sim/faults.ts). */
  sendThrough?: SimBoardOptions['sendThrough'];
  onMessage?: SimBoardOptions['onMessage'];
  /** Called once the driver completed the handshake, with the board and its side of the link. */
  onAttached?: (board: SimBoard, side: ShmBoardSide) => void;
}

export interface ShmBoard {
  readonly filePath: string;
  /** null when polling. */
  readonly socketPath: string | null;
  /** Resolves when a driver has completed the bus handshake; rejects if the device side failed. */
  readonly attached: Promise<void>;
  /** Stops the board and removes the file and the socket. */
  close(): Promise<void>;
}

/** Like firmware, the board waits for its driver as long as it runs (the profile's peerMs is the driver's patience). */
export const WAIT_FOR_DRIVER_MS = 365 * 24 * 3600 * 1000;

function removeIfPresent(path: string, isOurs: (p: string) => boolean): void {
  if (existsSync(path) && isOurs(path)) unlinkSync(path);
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new Error(`cannot listen on the doorbell socket ${path}: ${e.code ?? e.message}`)));
    server.listen(path, () => resolve());
  });
}

export interface ShmBoardSide {
  shm: ShmFileMapping;
  doorbells: SocketDoorbells;
  /** null when polling. */
  socketPath: string | null;
  /** Stops serving the socket and removes the file and the socket. */
  close(): void;
}

/**
 * The board's side of a shm-file link without a device model: creates the file, maps it and
 * (with socket doorbells) listens on the socket, taking the newest connection.
 */
export async function openShmBoardSide(profile: BoardProfile, filePath: string, opts: Pick<ShmBoardOptions, 'doorbells' | 'socketPath' | 'pollMs'> = {}): Promise<ShmBoardSide> {
  const addon = requireNative('the board side of a shm file');
  createShmFile(profile, filePath);
  const shm = mapShmFile(profile, filePath, addon);
  const doorbells = new SocketDoorbells(filePath, opts.pollMs ?? 1);
  const socketPath = opts.doorbells === 'poll' ? null : (opts.socketPath ?? doorbellSocketPath(filePath));
  let server: Server | null = null;
  const close = () => {
    doorbells.close();
    server?.close();
    shm.mapping.unmap();
    removeIfPresent(filePath, () => true);
    if (socketPath) removeIfPresent(socketPath, (p) => lstatSync(p).isSocket());
  };
  try {
    if (socketPath) {
      // A socket left behind by a board that did not stop cleanly would make listen() fail.
      removeIfPresent(socketPath, (p) => lstatSync(p).isSocket());
      server = createServer((socket) => doorbells.attach(socket));
      await listen(server, socketPath);
    }
  } catch (e) {
    close();
    throw e;
  }
  return { shm, doorbells, socketPath, close };
}

/**
 * Starts the board; resolves once the file exists, the device side has laid out its queues and
 * (with socket doorbells) the socket listens, so a workbench can attach at any time after.
 */
export async function runSimOnShmFile(profile: BoardProfile, filePath: string, opts: ShmBoardOptions = {}): Promise<ShmBoard> {
  if (profile.access.kind !== 'sim' || !profile.sim) throw new Error(`board ${profile.id} is not a simulated board (access.kind "${profile.access.kind}"); choose one with access.kind "sim"`);
  const side = await openShmBoardSide(profile, filePath, opts);
  let laidOut!: () => void;
  const layoutWritten = new Promise<void>((resolve) => (laidOut = resolve));
  const started = startSimBoard({
    profile: { ...profile, bus: { ...profile.bus, timeouts: { ...profile.bus.timeouts, peerMs: WAIT_FOR_DRIVER_MS } } },
    busWindow: side.shm.busWindow,
    dataWindow: side.shm.dataWindow,
    doorbellOut: side.doorbells.doorbellOut,
    doorbellIn: side.doorbells.doorbellIn,
    runtime: nodeRuntime,
    onStage: (stage, detail) => {
      // The device's first write to the bus area: its layout (vmamp, OA) or its own ring (spsc).
      if (stage === 'layout-written' || stage === 'own-head-init') laidOut();
      opts.onStage?.(stage, detail);
    },
    ...(opts.log ? { log: opts.log } : {}),
    ...(opts.sendThrough ? { sendThrough: opts.sendThrough } : {}),
    ...(opts.onMessage ? { onMessage: opts.onMessage } : {}),
  });
  let board: SimBoard | null = null;
  let closed = false;
  const attached = started.then((r) => {
    if (!r.ok) throw new Error(`simulated board ${profile.id} on ${filePath}: ${r.error}`);
    board = r.value;
    if (closed) board.close();
    else opts.onAttached?.(board, side);
  });
  attached.catch(() => undefined);
  try {
    await Promise.race([layoutWritten, attached]);
  } catch (e) {
    side.close();
    throw e;
  }
  return {
    filePath,
    socketPath: side.socketPath,
    attached,
    close() {
      closed = true;
      board?.close();
      side.close();
      return Promise.resolve();
    },
  };
}
