/**
 * The `ivshmem` link: the workbench as one peer of a QEMU ivshmem set-up, speaking the
 * ivshmem-server protocol (docs/amp-bus.md §5.4; QEMU docs/specs/ivshmem-spec.rst and
 * contrib/ivshmem-server/ivshmem-server.c). Over a UNIX stream socket the server sends only
 * little-endian int64 messages, some carrying one fd (SCM_RIGHTS):
 *   1. the protocol version (0);  2. our peer id;  3. -1 with the shared-memory fd;
 *   4. for every other peer, its id once per vector, each with the eventfd that interrupts it;
 *   5. our own id once per vector, each with an eventfd on which we are interrupted.
 * Later: a peer id with an fd = that peer joined (one message per vector), without = it left.
 * Ringing a peer writes 1 to its eventfd; our own interrupts are 8-byte reads of ours.
 * Regions with source `{shm: offset}` are places in the shared memory.
 */
import { fstatSync } from 'node:fs';

import type { BoardProfile } from '../../../src/api/boardProfile';
import { profileWindows } from '../../../src/boards/bus';
import type { DoorbellIn, DoorbellOut, Link } from '../../../src/bus/link';
import type { MemoryWindow } from '../../../src/bus/window';
import { errorText } from '../../../src/util/errorText';
import { hexNum } from '../../../src/util/hex';
import { loadNative, type FdWatch, type NativeAddon, type NativeMapping } from '../../native/index';
import { systemErrorText } from '../systemError';
import { NativeWindow, watchMappings } from './nativeWindow';
import { ownedLink } from './owned';

export const IVSHMEM_PROTOCOL_VERSION = 0n;
export const DEFAULT_IVSHMEM_SOCKET = '/tmp/ivshmem_socket';

export interface IvshmemLinkOptions {
  /** Ring this peer; default: the lowest-numbered other peer at the time of the ring. */
  peerId?: number;
  /** How long the server may take to send what a connecting peer needs (default 5000 ms). */
  handshakeTimeoutMs?: number;
  /** How often to look for peers joining and leaving (default 100 ms). */
  updateIntervalMs?: number;
  /** A passive peer (the monitor): the shared memory mapped PROT_READ, so no byte can be written. */
  readOnly?: boolean;
}

export interface IvshmemLink extends Link {
  readonly ownId: number;
  /** Ids of the other peers now connected. */
  peers(): number[];
  readonly notices: readonly string[];
  /**
   * Resolves with why, once the session cannot go on: the peer we ring (the board) left the
   * server, or the shared memory shrank under the mapping.
   */
  readonly lost: Promise<string>;
  /** The shared memory's mapping and where the bus window starts in it (a monitor's native tap follows the rings there). */
  readonly busMapping: { mapping: NativeMapping; base: number };
}

export class IvshmemLinkError extends Error {}

interface ServerMessage {
  value: bigint;
  fd: number | undefined;
}

/** One int64 message at a time from the socket, with the fd that came with it. */
class MessageReader {
  private pending = new Uint8Array(0);
  private pendingFds: number[] = [];

  constructor(
    private readonly addon: NativeAddon,
    private readonly sock: number,
  ) {}

  /** null: nothing within timeoutMs; 'eof': the server closed the connection. A broken connection throws IvshmemLinkError. */
  next(timeoutMs: number): ServerMessage | null | 'eof' {
    while (this.pending.length < 8) {
      let r: ReturnType<NativeAddon['recvWithFds']>;
      try {
        r = this.addon.recvWithFds(this.sock, 8 - this.pending.length, timeoutMs);
      } catch (e) {
        fail(`reading from the ivshmem-server failed: ${systemErrorText(e)}`);
      }
      if (r === null) return null;
      if (r.data.length === 0) return 'eof';
      const joined = new Uint8Array(this.pending.length + r.data.length);
      joined.set(this.pending);
      joined.set(r.data, this.pending.length);
      this.pending = joined;
      this.pendingFds.push(...r.fds);
    }
    const value = new DataView(this.pending.buffer, this.pending.byteOffset, 8).getBigInt64(0, true);
    const [fd, ...extra] = this.pendingFds;
    // The server sends at most one fd per message; close any others rather than leak them.
    for (const e of extra) this.addon.closeFd(e);
    this.pending = new Uint8Array(0);
    this.pendingFds = [];
    return { value, fd };
  }
}

function fail(message: string): never {
  throw new IvshmemLinkError(message);
}

class EventfdDoorbellIn implements DoorbellIn {
  readonly mode = 'interrupt' as const;
  private readonly listeners = new Set<() => void>();
  private readonly watch: FdWatch;

  constructor(addon: NativeAddon, fd: number, notices: string[]) {
    this.watch = addon.watchFd(
      fd,
      8,
      () => {
        for (const l of this.listeners) l();
      },
      (message) => notices.push(`interrupt wait on our eventfd stopped: ${systemErrorText(message)}`),
    );
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.watch.close();
    this.listeners.clear();
  }
}

/** Connects to the ivshmem-server at `socketPath` (default: the profile's access.path, then /tmp/ivshmem_socket). */
export async function openIvshmemLink(profile: BoardProfile, socketPath?: string, opts: IvshmemLinkOptions = {}): Promise<IvshmemLink> {
  const path = socketPath ?? profile.access.path ?? DEFAULT_IVSHMEM_SOCKET;
  if (profile.doorbellIn.kind !== 'eventfd') fail(`doorbellIn.kind: expected "eventfd" for an ivshmem peer, saw "${profile.doorbellIn.kind}"`);
  if (profile.doorbellOut.kind !== 'ivshmem') fail(`doorbellOut.kind: expected "ivshmem" for an ivshmem peer, saw "${profile.doorbellOut.kind}"`);
  const native = loadNative();
  if (!native.ok) fail(`the ivshmem link needs the native addon: ${native.error}`);
  const addon = native.value;
  const timeoutMs = opts.handshakeTimeoutMs ?? 5000;
  const inVector = profile.doorbellIn.vector ?? 0;
  const outVector = profile.doorbellOut.value ?? 0;

  let sock: number;
  try {
    sock = addon.unixConnect(path);
  } catch (e) {
    fail(`cannot connect to an ivshmem-server at ${path}: ${systemErrorText(e)}; start one with: ivshmem-server -F -S ${path} -l 4M -n 1`);
  }
  const reader = new MessageReader(addon, sock);
  const ownFds: number[] = [];
  const peerFds = new Map<number, number[]>();
  const notices: string[] = [];
  let shmFd: number | undefined;
  let mapping: NativeMapping | undefined;
  let doorbellIn: EventfdDoorbellIn | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;

  let closed = false;
  const closeAll = () => {
    if (closed) return;
    closed = true;
    clearInterval(timer);
    doorbellIn?.close();
    mapping?.unmap();
    for (const fd of [...ownFds, ...[...peerFds.values()].flat(), ...(shmFd !== undefined ? [shmFd] : []), sock]) addon.closeFd(fd);
    peerFds.clear();
    ownFds.length = 0;
  };

  // Waits without blocking the event loop: a silent server must not freeze the app.
  const deadline = Date.now() + timeoutMs;
  const receive = async (what: string): Promise<ServerMessage> => {
    let m = reader.next(0);
    while (m === null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 2));
      m = reader.next(0);
    }
    if (m === null) fail(`the ivshmem-server at ${path} sent no ${what} within ${timeoutMs} ms: is it an ivshmem-server?`);
    if (m === 'eof') fail(`the ivshmem-server at ${path} closed the connection before sending ${what} (too many peers?)`);
    return m;
  };
  let ownId = -1;
  const mappings = watchMappings();
  let peerLeft!: (why: string) => void;
  const lost = Promise.race([mappings.lost, new Promise<string>((resolve) => (peerLeft = resolve))]);
  /** The peer a ring goes to: the one asked for, else the lowest-numbered other peer. */
  const targetId = (): number | undefined => opts.peerId ?? [...peerFds.keys()].sort((a, b) => a - b)[0];
  /** Applies a message that follows the first three: a peer's or our own eventfd, or a peer leaving. */
  const apply = (m: ServerMessage): void => {
    const id = Number(m.value);
    if (m.fd === undefined) {
      // A peer left: forget (and close) the eventfds that rang it. If it was the board, the
      // session is over: its side of the queues and its virtqueue state are gone with it.
      if (peerFds.has(id) && id === targetId()) {
        peerLeft(`ivshmem peer ${id}, the board this session rang, left the server at ${path} (its process ended or it disconnected)`);
      }
      for (const fd of peerFds.get(id) ?? []) addon.closeFd(fd);
      peerFds.delete(id);
    } else if (id === ownId) ownFds.push(m.fd);
    else if (id >= 0) peerFds.set(id, [...(peerFds.get(id) ?? []), m.fd]);
    else {
      addon.closeFd(m.fd);
      notices.push(`ivshmem-server sent an fd with id ${id}; ignored`);
    }
  };

  return ownedLink(closeAll, async () => {
    const version = await receive('protocol version');
    if (version.value !== IVSHMEM_PROTOCOL_VERSION || version.fd !== undefined) {
      fail(`the ivshmem-server at ${path} speaks protocol version ${version.value}, expected ${IVSHMEM_PROTOCOL_VERSION}`);
    }
    const own = await receive('our peer id');
    if (own.value < 0n || own.value > 0xffffn || own.fd !== undefined) fail(`expected our peer id (0…65535, no fd) from the ivshmem-server, saw ${own.value}${own.fd !== undefined ? ' with an fd' : ''}`);
    ownId = Number(own.value);
    const shm = await receive('the shared-memory fd');
    if (shm.value !== -1n || shm.fd === undefined) fail(`expected -1 with the shared-memory fd from the ivshmem-server, saw ${shm.value}${shm.fd === undefined ? ' without an fd' : ''}`);
    shmFd = shm.fd;
    while (ownFds.length <= inVector) apply(await receive(`our eventfd for vector ${inVector}`));
    // The rest of the burst (further vectors) is usually there already.
    for (let m = reader.next(0); m !== null && m !== 'eof'; m = reader.next(0)) apply(m);

    const shmSize = fstatSync(shmFd).size;
    let busBase = 0;
    const windows = new Map<string, MemoryWindow>();
    for (const region of profile.regions) {
      if (!('shm' in region.source)) fail(`region "${region.name}": an ivshmem peer reaches only the shared memory; expected source {"shm": offset}`);
      const offset = region.source.shm;
      if (offset + region.size > shmSize) {
        fail(`region "${region.name}" [${hexNum(offset)}, ${hexNum(offset + region.size)}) does not fit the server's ${hexNum(shmSize)} bytes of shared memory: start the server with a larger -l`);
      }
      try {
        mapping ??= addon.mapFd(shmFd, 0, shmSize, opts.readOnly ? { readOnly: true } : {});
      } catch (e) {
        fail(`cannot map the ${hexNum(shmSize)} bytes of shared memory the ivshmem-server at ${path} sent: ${systemErrorText(e)}`);
      }
      windows.set(region.name, new NativeWindow(mapping, offset, region.size, mappings.onGone));
      if (region.name === profile.bus.region) busBase = offset + profile.bus.offset;
    }
    const busRegion = windows.get(profile.bus.region)!;
    const dataRegion = windows.get(profile.dataMemory.region)!;
    doorbellIn = new EventfdDoorbellIn(addon, ownFds[inVector]!, notices);

    // The server going away leaves the memory and the eventfds working (QEMU's peers carry on too).
    let serverGone = false;
    const poll = () => {
      while (!serverGone) {
        let m: ReturnType<MessageReader['next']>;
        try {
          m = reader.next(0);
        } catch (e) {
          m = 'eof';
          notices.push(errorText(e));
        }
        if (m === null) return;
        if (m === 'eof') {
          notices.push(`the ivshmem-server at ${path} closed the connection; peers joining or leaving are no longer seen`);
          serverGone = true;
          clearInterval(timer);
          return;
        }
        apply(m);
      }
    };
    timer = setInterval(poll, opts.updateIntervalMs ?? 100);
    timer.unref();
    let warnedNoPeer = false;
    const doorbellOut: DoorbellOut = {
      async ring() {
        poll();
        // Through the window: a fence on memory that is gone loses the link like any access.
        await busRegion.fence();
        const to = targetId();
        const fd = to === undefined ? undefined : peerFds.get(to)?.[outVector];
        if (fd === undefined) {
          if (!warnedNoPeer) notices.push(`rang with no ${opts.peerId !== undefined ? `peer ${opts.peerId}` : 'other peer'} (vector ${outVector}) connected to ${path}; the ring was dropped`);
          warnedNoPeer = true;
          return;
        }
        try {
          addon.eventfdWrite(fd, 1);
        } catch (e) {
          throw new IvshmemLinkError(`ringing ivshmem peer ${to} failed: ${systemErrorText(e)}`);
        }
      },
    };
    return {
      description: `${profile.id} as ivshmem peer ${ownId} of ${path}`,
      ownId,
      peers: () => [...peerFds.keys()].sort((a, b) => a - b),
      notices,
      ...profileWindows(profile, (name) => (name === profile.bus.region ? busRegion : dataRegion)),
      doorbellOut,
      doorbellIn,
      lost,
      busMapping: { mapping: mapping!, base: busBase },
    };
  });
}
