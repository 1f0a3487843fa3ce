/**
 * The shm-file link: both sides map one file (e.g. /dev/shm/amp0) holding the board's regions,
 * and ring each other over a UNIX socket next to it (FILE.sock), one byte per ring; without the
 * socket both sides poll. The board side (main/host/sim/shmBoard.ts, or any program following
 * the README's "shm-file link" section) creates the file and listens on the socket; the
 * workbench maps the file and connects.
 *
 * File layout (all fields little-endian; the first page is the header):
 *
 *   0x00  8 B   magic "AMP-SHM\0"
 *   0x08  u32   version (1)
 *   0x0c  u32   header size (0x1000: regions start at or after it)
 *   0x10  u32   region count N (≤ 63)
 *   0x14  u32   reserved, 0
 *   0x18  u64   file size
 *   0x20  32 B  board profile id, UTF-8, NUL-padded (informational)
 *   0x40 + 0x40·i, one entry per region:
 *         32 B  region name (the profile's regions[].name), UTF-8, NUL-padded
 *         u64   offset of the region in the file (8-byte aligned)
 *         u64   size of the region
 *         16 B  reserved, 0
 *
 * The board side places the profile's regions in profile order, each at the next 4 KiB
 * boundary after the header page; a reader takes the offsets from the table, so another peer
 * may place them differently. A region holds what the board's memory of that name holds: the
 * bus area at bus.offset of bus.region, the data memory at offset 0 of dataMemory.region.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';

import type { BoardProfile } from '../../../src/api/boardProfile';
import type { DoorbellIn, DoorbellOut, Link } from '../../../src/bus/link';
import { SubWindow, type MemoryWindow } from '../../../src/bus/window';
import { hexNum, toHex } from '../../../src/util/hex';
import { loadNative, type NativeAddon, type NativeMapping } from '../../native/index';
import { fileErrorText } from '../failure';
import { systemErrorText } from '../systemError';
import { NativeWindow, watchMappings } from './nativeWindow';
import { errorText } from '../../../src/util/errorText';
import type { Result } from '../../../src/util/result';

export const SHM_MAGIC = Uint8Array.from('AMP-SHM\0', (c) => c.charCodeAt(0));
export const SHM_VERSION = 1;
export const SHM_HEADER_SIZE = 0x1000;
const TABLE_OFFSET = 0x40;
const ENTRY_SIZE = 0x40;
const NAME_BYTES = 32;
export const SHM_MAX_REGIONS = (SHM_HEADER_SIZE - TABLE_OFFSET) / ENTRY_SIZE;
/** Regions start on page boundaries, so each can also be mapped on its own. */
const REGION_ALIGN = 0x1000;
/** What one ring sends over the doorbell socket (a receiver counts any byte as a ring). */
export const DOORBELL_BYTE = 0x01;

export interface ShmRegion {
  name: string;
  offset: number;
  size: number;
}

export interface ShmLayout {
  profileId: string;
  fileSize: number;
  regions: ShmRegion[];
}

/** The doorbell socket of a shm file: the same path with ".sock" appended. */
export function doorbellSocketPath(filePath: string): string {
  return `${filePath}.sock`;
}

const alignUp = (n: number, to: number) => Math.ceil(n / to) * to;

function encodeName(text: string, what: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length >= NAME_BYTES) throw new Error(`${what} "${text}" is ${bytes.length} bytes in UTF-8; the shm-file header holds at most ${NAME_BYTES - 1}`);
  return bytes;
}

function decodeName(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}

/** Where the board side places the profile's regions. */
export function shmFileLayout(profile: BoardProfile): ShmLayout {
  if (profile.regions.length > SHM_MAX_REGIONS) throw new Error(`board ${profile.id} has ${profile.regions.length} regions; a shm file holds at most ${SHM_MAX_REGIONS}`);
  let offset = SHM_HEADER_SIZE;
  const regions = profile.regions.map((r) => {
    const placed = { name: r.name, offset: alignUp(offset, REGION_ALIGN), size: r.size };
    offset = placed.offset + r.size;
    return placed;
  });
  return { profileId: profile.id, fileSize: alignUp(offset, REGION_ALIGN), regions };
}

/** The smallest file any layout of the profile fits: the header page plus every region. */
function minimumFileSize(profile: BoardProfile): number {
  return SHM_HEADER_SIZE + profile.regions.reduce((sum, r) => sum + r.size, 0);
}

export function encodeShmHeader(layout: ShmLayout): Uint8Array {
  const out = new Uint8Array(SHM_HEADER_SIZE);
  const view = new DataView(out.buffer);
  out.set(SHM_MAGIC, 0);
  view.setUint32(0x08, SHM_VERSION, true);
  view.setUint32(0x0c, SHM_HEADER_SIZE, true);
  view.setUint32(0x10, layout.regions.length, true);
  view.setBigUint64(0x18, BigInt(layout.fileSize), true);
  out.set(encodeName(layout.profileId, 'board id'), 0x20);
  layout.regions.forEach((r, i) => {
    const at = TABLE_OFFSET + i * ENTRY_SIZE;
    out.set(encodeName(r.name, 'region name'), at);
    view.setBigUint64(at + NAME_BYTES, BigInt(r.offset), true);
    view.setBigUint64(at + NAME_BYTES + 8, BigInt(r.size), true);
  });
  return out;
}

/** Reads a header; `where` names the file in errors. */
export function decodeShmHeader(bytes: Uint8Array, where: string): Result<ShmLayout> {
  const fail = (offset: number, text: string) => ({ ok: false as const, error: `${where}: ${text} (header offset ${hexNum(offset, 2)})` });
  if (bytes.length < SHM_HEADER_SIZE) return fail(0, `header needs ${SHM_HEADER_SIZE} bytes, saw ${bytes.length}`);
  const magic = bytes.subarray(0, SHM_MAGIC.length);
  if (toHex(magic) !== toHex(SHM_MAGIC)) {
    return fail(
      0,
      `wrong magic: expected ${toHex(SHM_MAGIC)} ("AMP-SHM\\0"), saw ${toHex(magic)}; the file was not laid out by an amp-workbench board side ` +
        '(amp-workbench sim --shm) or a peer following the README\'s shm-file layout',
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(0x08, true);
  if (version !== SHM_VERSION) return fail(0x08, `version ${version}, this build reads version ${SHM_VERSION}`);
  const headerSize = view.getUint32(0x0c, true);
  if (headerSize !== SHM_HEADER_SIZE) return fail(0x0c, `header size ${hexNum(headerSize)}, expected ${hexNum(SHM_HEADER_SIZE)}`);
  const count = view.getUint32(0x10, true);
  if (count > SHM_MAX_REGIONS) return fail(0x10, `${count} regions, at most ${SHM_MAX_REGIONS} fit the header`);
  const fileSize = Number(view.getBigUint64(0x18, true));
  const regions: ShmRegion[] = [];
  for (let i = 0; i < count; i++) {
    const at = TABLE_OFFSET + i * ENTRY_SIZE;
    const offset = Number(view.getBigUint64(at + NAME_BYTES, true));
    const size = Number(view.getBigUint64(at + NAME_BYTES + 8, true));
    const name = decodeName(bytes.subarray(at, at + NAME_BYTES));
    if (offset < SHM_HEADER_SIZE || offset % 8 !== 0 || offset + size > fileSize) {
      return fail(at + NAME_BYTES, `region "${name}" at ${hexNum(offset)} of ${size} bytes must start 8-byte aligned after the header and end within the ${fileSize}-byte file`);
    }
    regions.push({ name, offset, size });
  }
  return { ok: true, value: { profileId: decodeName(bytes.subarray(0x20, 0x40)), fileSize, regions } };
}

/**
 * Creates the shm file for a board side: zero-filled regions and the header, written under a
 * temporary name and renamed into place, so a reader sees a whole header or no file at all.
 */
export function createShmFile(profile: BoardProfile, filePath: string): ShmLayout {
  const layout = shmFileLayout(profile);
  const header = encodeShmHeader(layout);
  // A fresh, unguessable name opened exclusively: /dev/shm is writable by everyone, and 'w' would
  // follow a symlink planted at a predictable name.
  const tmp = `${filePath}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  let fd = -1;
  try {
    fd = openSync(tmp, 'wx', 0o660);
    ftruncateSync(fd, layout.fileSize);
    writeSync(fd, header, 0, SHM_HEADER_SIZE, 0);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, filePath);
  } catch (e) {
    // Whatever failed, the half-made file goes: nothing else would ever remove it.
    if (fd >= 0) closeSync(fd);
    rmSync(tmp, { force: true });
    throw new Error(`cannot create the shm file ${filePath} (${layout.fileSize} bytes for board ${profile.id}): ${fileErrorText(e, filePath, 'write')}`);
  }
  return layout;
}

export function requireNative(what: string): NativeAddon {
  const native = loadNative();
  if (!native.ok) throw new Error(`${what} needs the native addon: ${native.error}`);
  return native.value;
}

export interface ShmFileMapping {
  layout: ShmLayout;
  mapping: NativeMapping;
  busWindow: MemoryWindow;
  /** Where busWindow starts in the mapping. */
  busBase: number;
  dataWindow: MemoryWindow;
  /** Resolves with why, once an access found the file shrunk under the mapping (the peer truncated it). */
  lost: Promise<string>;
}

/**
 * Checks the file against the profile (exists, big enough, header, a large enough region for
 * each of the profile's) and maps it (read-only for a monitor, which must never write it). Every refusal says what was expected, what was seen and where.
 */
export function mapShmFile(profile: BoardProfile, filePath: string, addon: NativeAddon, opts: { readOnly?: boolean } = {}): ShmFileMapping {
  let fileSize: number;
  try {
    const st = statSync(filePath);
    if (!st.isFile()) throw new Error(`shm file ${filePath} is not a regular file`);
    fileSize = st.size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    throw new Error(`shm file ${filePath} does not exist: start the board side first (amp-workbench sim --board ${profile.id} --shm ${filePath}) or check the path`);
  }
  const needed = minimumFileSize(profile);
  if (fileSize < needed) {
    throw new Error(
      `shm file ${filePath} is ${fileSize} bytes, too small for board ${profile.id}: it needs at least ${needed} bytes ` +
        `(a ${SHM_HEADER_SIZE}-byte header page and regions ${profile.regions.map((r) => `"${r.name}" of ${r.size}`).join(', ')})`,
    );
  }
  const header = new Uint8Array(SHM_HEADER_SIZE);
  const fd = openSync(filePath, 'r');
  try {
    readSync(fd, header, 0, SHM_HEADER_SIZE, 0);
  } finally {
    closeSync(fd);
  }
  const decoded = decodeShmHeader(header, `shm file ${filePath}`);
  if (!decoded.ok) throw new Error(decoded.error);
  const layout = decoded.value;
  if (layout.fileSize > fileSize) throw new Error(`shm file ${filePath}: the header says ${layout.fileSize} bytes (offset 0x18), the file has ${fileSize}`);
  const placed = new Map<string, ShmRegion>();
  for (const r of profile.regions) {
    const entry = layout.regions.find((e) => e.name === r.name);
    if (!entry) {
      throw new Error(
        `shm file ${filePath} (laid out for board "${layout.profileId}") has no region "${r.name}" that board ${profile.id} needs; ` +
          `its regions are ${layout.regions.map((e) => `"${e.name}"`).join(', ') || 'none'}`,
      );
    }
    if (entry.size < r.size) throw new Error(`shm file ${filePath}: region "${r.name}" is ${entry.size} bytes, board ${profile.id} needs ${r.size}`);
    placed.set(r.name, entry);
  }
  const mapping = addon.map(filePath, 0, layout.fileSize, opts.readOnly ? { readOnly: true } : {});
  const { onGone, lost } = watchMappings();
  const regionWindow = (name: string, size: number) => new NativeWindow(mapping, placed.get(name)!.offset, size, onGone);
  const busRegion = profile.regions.find((r) => r.name === profile.bus.region)!;
  return {
    layout,
    mapping,
    busWindow: new SubWindow(regionWindow(busRegion.name, busRegion.size), profile.bus.offset, profile.bus.size),
    busBase: placed.get(busRegion.name)!.offset + profile.bus.offset,
    dataWindow: regionWindow(profile.dataMemory.region, profile.dataMemory.size),
    lost,
  };
}

const RING = Uint8Array.of(DOORBELL_BYTE);

/**
 * Both doorbells over one UNIX stream socket: ring() writes one byte, every byte received rings
 * the listeners (coalesced per read). The socket can be replaced (a board side takes the newest
 * connection). While no socket is attached, `detachedPollMs` (board side) rings the listeners
 * on a timer so a polling peer is still served; without it (workbench side) ring() fails.
 */
export class SocketDoorbells {
  readonly doorbellOut: DoorbellOut;
  readonly doorbellIn: DoorbellIn;
  private socket: Socket | null = null;
  private readonly listeners = new Set<() => void>();
  private readonly detachListeners = new Set<() => void>();
  private readonly poller: NodeJS.Timeout | null;
  private readonly notify = () => {
    for (const l of this.listeners) l();
  };

  constructor(
    private readonly label: string,
    detachedPollMs: number | null,
  ) {
    this.poller = detachedPollMs === null ? null : setInterval(() => this.socket === null && this.notify(), detachedPollMs);
    this.doorbellIn = {
      mode: 'interrupt',
      subscribe: (listener) => {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
      },
    };
    this.doorbellOut = {
      ring: () => {
        const s = this.socket;
        // A socket the peer closed refuses writes (EPIPE, or a destroyed stream) before its
        // 'close' arrives: that is the peer going away, said in words, not a write error.
        if (s && !s.destroyed && s.writable) {
          return new Promise<void>((resolve, reject) =>
            s.write(RING, (e) => {
              if (!e) return resolve();
              this.detach(s);
              reject(new Error(this.goneText));
            }),
          );
        }
        if (s) this.detach(s);
        if (this.poller) return Promise.resolve();
        return Promise.reject(new Error(this.goneText));
      },
    };
  }

  private get goneText(): string {
    return `the peer closed the doorbell socket ${this.label}`;
  }

  /** The socket is gone: stop using it and tell the detach listeners, once per socket. */
  private detach(socket: Socket): void {
    if (this.socket !== socket) return;
    this.socket = null;
    socket.destroy();
    for (const l of this.detachListeners) l();
  }

  attach(socket: Socket): void {
    this.socket?.destroy();
    this.socket = socket;
    socket.on('data', () => this.notify());
    // 'close' follows 'error' (a peer that reset the connection): both mean the peer went away.
    socket.on('error', () => this.detach(socket));
    socket.on('close', () => this.detach(socket));
    // Rings made while detached went nowhere: one ring tells the new peer to look at the queue.
    if (this.poller) socket.write(RING);
  }

  /** Called when the attached socket closes: the peer went away (or close() ran). */
  onDetach(listener: () => void): void {
    this.detachListeners.add(listener);
  }

  close(): void {
    if (this.poller) clearInterval(this.poller);
    this.listeners.clear();
    this.socket?.destroy();
    this.socket = null;
  }
}

/** Both doorbells of a link that can only poll: rings go nowhere, the endpoint drains on a timer. */
const POLLING: { doorbellOut: DoorbellOut; doorbellIn: DoorbellIn } = {
  doorbellOut: { ring: () => Promise.resolve() },
  doorbellIn: { mode: 'poll', subscribe: () => () => undefined },
};

export type ShmDoorbells = 'auto' | 'socket' | 'poll';

export interface ShmFileLinkOptions {
  /** 'auto' (default): the socket if the board side listens, else polling. */
  doorbells?: ShmDoorbells;
  /** Default: doorbellSocketPath(filePath). */
  socketPath?: string;
}

function connectUnix(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ path });
    s.once('connect', () => {
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (e: NodeJS.ErrnoException) => reject(Object.assign(new Error(`${path}: ${systemErrorText(e)}`), { code: e.code })));
  });
}

/**
 * The workbench's side of a shm-file link (driver role), as a Link for attachSession.
 * `notices` says when it fell back to polling.
 */
export async function openShmFileLink(profile: BoardProfile, filePath: string, opts: ShmFileLinkOptions = {}): Promise<Link & { notices: readonly string[]; lost: Promise<string> }> {
  const shm = mapShmFile(profile, filePath, requireNative('the shm-file link'));
  const socketPath = opts.socketPath ?? doorbellSocketPath(filePath);
  const mode = opts.doorbells ?? 'auto';
  let doorbells: { doorbellOut: DoorbellOut; doorbellIn: DoorbellIn; close?: () => void } = POLLING;
  let how = 'doorbells: polling';
  let lost = shm.lost;
  if (mode !== 'poll') {
    try {
      const socket = await connectUnix(socketPath);
      const bells = new SocketDoorbells(socketPath, null);
      // The board side holds its socket for as long as it runs: its closing means the board went away.
      const closed = new Promise<string>((resolve) => bells.onDetach(() => resolve(`the board side closed the doorbell socket ${socketPath} (its process ended or restarted)`)));
      lost = Promise.race([lost, closed]);
      bells.attach(socket);
      doorbells = bells;
      how = `doorbells: socket ${socketPath}`;
    } catch (e) {
      const why = errorText(e);
      if (mode === 'socket') {
        shm.mapping.unmap();
        throw new Error(`shm file ${filePath}: cannot connect to the doorbell socket ${why}; is the board side running with socket doorbells? Or poll: doorbells "poll"`);
      }
      how = `doorbells: polling, no doorbell socket (${why})`;
    }
  }
  const notices = doorbells === POLLING ? [`shm file ${filePath}: ${how}; the workbench polls the queue every few milliseconds`] : [];
  return {
    description: `${profile.id} over shm-file ${filePath} (${how})`,
    notices,
    busWindow: shm.busWindow,
    dataWindow: shm.dataWindow,
    dataPeerBase: profile.dataMemory.peerBase,
    doorbellOut: doorbells.doorbellOut,
    doorbellIn: doorbells.doorbellIn,
    lost,
    close() {
      doorbells.close?.();
      shm.mapping.unmap();
      return Promise.resolve();
    },
  };
}
