/**
 * The user-space side of Linux's virtio-msg loopback bus (docs/linux-loopback.md §1): the
 * control device /dev/virtio-msg-lb takes IOCTL_VMSG_LB_ADD / _REMOVE with a dev_id and maps the
 * reserved "vmsglb" pool (whose physical base the device tree gives: the addresses in SET_VQUEUE
 * and in descriptors are pool addresses), and the bus's message device /dev/virtio-msg-N hands
 * out each message the kernel's transport sends (read) and takes the answers (write).
 *
 * Every path is the caller's to change, so the tests put a stand-in process behind a FIFO pair,
 * a memfd and a fake device tree (test/host/loopbackKernel.ts).
 */
import { closeSync, existsSync, fstatSync, openSync, read as fsRead, readdirSync, readFileSync, realpathSync, statSync, writeSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { constants } from 'node:os';

import type { MemoryWindow } from '../../../src/bus/window';
import { VIRTIO_MSG_MIN_SIZE } from '../../../src/roles/device/loopback';
import { fail, ok, type Result } from '../../../src/util/result';
import { errnoCode, systemErrorText } from '../systemError';
import { NativeWindow, watchMappings } from './nativeWindow';
import { requireNative } from './shmFile';

export const LOOPBACK_CONTROL = '/dev/virtio-msg-lb';
export const DEVICE_TREE = '/proc/device-tree';
export const SYS_CLASS_MISC = '/sys/class/misc';

/** include/uapi/linux/virtio_msg_lb.h: _IOC(_IOC_NONE, 'P', nr, sizeof(struct vmsg_lb_dev_info)). */
const ioc = (nr: number): number => (4 << 16) | (0x50 << 8) | nr;
export const IOCTL_VMSG_LB_ADD = ioc(0);
export const IOCTL_VMSG_LB_REMOVE = ioc(1);

/** Adds and removes the bus's devices (the kernel registers a virtio device per dev_id). */
export interface LoopbackRegistrar {
  /** Resolves once the kernel brought the device up (or failed to). */
  add(devId: number): Promise<Result<void>>;
  remove(devId: number): Promise<Result<void>>;
  close(): void;
}

export interface LinuxLoopbackOptions {
  /** The bus's control device (ioctls, and the pool's mmap unless `pool` is given). */
  control?: string;
  /** Where requests are read and answers written: one device (default: the bus's /dev/virtio-msg-N) or a pair. */
  messages?: string | { read: string; write: string };
  /** What to mmap for the pool (default: the control device). */
  pool?: string;
  /** Where the vmsglb node is looked for (default /proc/device-tree). */
  deviceTree?: string;
  /** Where the message device is looked for (default /sys/class/misc). */
  sysClassMisc?: string;
  /** Default: the ioctls on the control device. */
  registrar?: LoopbackRegistrar;
}

export interface LoopbackKernel {
  readonly description: string;
  /** The vmsglb pool, mapped; `poolBase` is the address of its byte 0 in the kernel's messages. */
  readonly pool: MemoryWindow;
  readonly poolBase: bigint;
  readonly registrar: LoopbackRegistrar;
  /** The next message (null once the message device is gone); one read at a time. */
  read(): Promise<Result<Uint8Array | null>>;
  write(bytes: Uint8Array): Result<void>;
  /** Resolves with why, once the pool's memory went away under the session. */
  readonly lost: Promise<string>;
  close(): void;
}

/** The vmsglb reserved-memory node: base and size from its reg property (big-endian cells). */
export function readPoolRegion(deviceTree: string): Result<{ base: bigint; size: bigint; node: string }> {
  const dir = join(deviceTree, 'reserved-memory');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    return fail(`the loopback bus needs a reserved-memory node named vmsglb in the device tree, and ${systemErrorText(e)}`);
  }
  const name = names.find((n) => n === 'vmsglb' || n.startsWith('vmsglb@'));
  if (!name) return fail(`no node named vmsglb in ${dir} (saw ${names.join(', ') || 'nothing'}): the loopback bus's pool is the reserved memory of that name`);
  const node = join(dir, name);
  const cells = (prop: string, dflt: number): number => {
    const p = join(dir, prop);
    return existsSync(p) ? readFileSync(p).readUInt32BE(0) : dflt;
  };
  const addressCells = cells('#address-cells', 2);
  const sizeCells = cells('#size-cells', 1);
  let reg: Buffer;
  try {
    reg = readFileSync(join(node, 'reg'));
  } catch (e) {
    return fail(`cannot read ${join(node, 'reg')}: ${systemErrorText(e)}`);
  }
  const expected = 4 * (addressCells + sizeCells);
  if (reg.length < expected) return fail(`${join(node, 'reg')} has ${reg.length} bytes, expected ${expected} (#address-cells ${addressCells}, #size-cells ${sizeCells})`);
  const number = (at: number, n: number): bigint => {
    let v = 0n;
    for (let i = 0; i < n; i++) v = (v << 32n) | BigInt(reg.readUInt32BE(at + 4 * i));
    return v;
  };
  const base = number(0, addressCells);
  const size = number(4 * addressCells, sizeCells);
  if (size === 0n || size > BigInt(Number.MAX_SAFE_INTEGER)) return fail(`${join(node, 'reg')}: pool size ${size} is not usable`);
  return ok({ base, size, node });
}

/** The message device the loopback bus registered: the misc device virtio-msg-N whose parent is virtio-msg-lb. */
export function findMessageDevice(sysClassMisc: string): Result<string> {
  let names: string[];
  try {
    names = readdirSync(sysClassMisc).filter((n) => /^virtio-msg-\d+$/.test(n));
  } catch (e) {
    return fail(`cannot list ${sysClassMisc} (${systemErrorText(e)}) to find the loopback bus's /dev/virtio-msg-N; give it with --link linux-loopback:CONTROL,msg=/dev/virtio-msg-N`);
  }
  const ours = names.filter((n) => {
    try {
      return realpathSync(join(sysClassMisc, n, 'device')).endsWith('/virtio-msg-lb');
    } catch {
      return false;
    }
  });
  const pick = ours.length === 1 ? ours : names.length === 1 ? names : [];
  if (pick.length === 1) return ok(`/dev/${pick[0]}`);
  return fail(
    names.length === 0
      ? `no virtio-msg-N device in ${sysClassMisc}: is the virtio_msg_loopback module loaded (modprobe virtio_msg_loopback)?`
      : `several message devices (${names.join(', ')}) and none tells it belongs to virtio-msg-lb; give it with --link linux-loopback:CONTROL,msg=/dev/virtio-msg-N`,
  );
}

/** What the loopback bus's errnos mean for its ioctls (virtio_msg_loopback.c). */
const IOCTL_ERRNOS: Readonly<Record<string, string>> = {
  EEXIST: 'a device with this dev_id is registered already',
  ENODEV: 'no device with this dev_id is registered',
  ETIMEDOUT: 'the kernel got no answer within 1 s while bringing the device up',
};

function ioctlErrorText(e: unknown, control: string): string {
  const code = errnoCode(e);
  if (code === 'ENOTTY') return `${control} does not take the loopback bus's ioctls (ENOTTY): is it /dev/virtio-msg-lb?`;
  return code && IOCTL_ERRNOS[code] ? `${IOCTL_ERRNOS[code]} (${code})` : systemErrorText(e);
}

/** IOCTL_VMSG_LB_ADD / _REMOVE on the control device, each on a pool thread (ADD waits for the bring-up). */
export function ioctlRegistrar(control: string): Result<LoopbackRegistrar> {
  let fd: number;
  try {
    fd = openSync(control, 'r+');
  } catch (e) {
    return fail(`cannot open the loopback bus's control device ${control}: ${systemErrorText(e)}`);
  }
  const addon = requireNative('the loopback bus');
  const call = async (request: number, what: string, devId: number): Promise<Result<void>> => {
    try {
      await addon.ioctlU32(fd, request, devId);
      return ok(undefined);
    } catch (e) {
      return fail(`${what} dev_id ${devId} on ${control} failed: ${ioctlErrorText(e, control)}`);
    }
  };
  return ok({
    add: (devId) => call(IOCTL_VMSG_LB_ADD, 'IOCTL_VMSG_LB_ADD', devId),
    remove: (devId) => call(IOCTL_VMSG_LB_REMOVE, 'IOCTL_VMSG_LB_REMOVE', devId),
    close: () => closeSync(fd),
  });
}

/**
 * The ioctls as records over a UNIX socket, for a stand-in of the kernel's control device
 * (docs/linux-loopback.md §3): 8 bytes out (request, dev_id; le32 each), 4 back when the call
 * returns (0 or -errno, le32), in order.
 */
export function socketRegistrar(path: string): Promise<Result<LoopbackRegistrar>> {
  return new Promise((resolve) => {
    const socket: Socket = createConnection(path);
    const waiting: ((r: number | null) => void)[] = [];
    let buffered = Buffer.alloc(0);
    socket.on('data', (d) => {
      buffered = Buffer.concat([buffered, d]);
      while (buffered.length >= 4) {
        waiting.shift()?.(buffered.readInt32LE(0));
        buffered = buffered.subarray(4);
      }
    });
    socket.on('close', () => {
      for (const w of waiting.splice(0)) w(null);
    });
    socket.once('error', (e) => resolve(fail(`cannot reach the loopback control socket ${path}: ${systemErrorText(e)}`)));
    socket.once('connect', () => {
      const call = (request: number, what: string, devId: number): Promise<Result<void>> =>
        new Promise((done) => {
          waiting.push((r) => {
            if (r === 0) return done(ok(undefined));
            const name = r === null ? null : Object.entries(constants.errno).find(([, n]) => n === -r)?.[0];
            done(fail(`${what} dev_id ${devId} on ${path} failed: ${r === null ? 'the control socket closed' : `${name ?? 'errno'} (${-r})`}`));
          });
          const rec = Buffer.alloc(8);
          rec.writeUInt32LE(request, 0);
          rec.writeUInt32LE(devId, 4);
          socket.write(rec);
        });
      resolve(
        ok({
          add: (devId) => call(IOCTL_VMSG_LB_ADD, 'IOCTL_VMSG_LB_ADD', devId),
          remove: (devId) => call(IOCTL_VMSG_LB_REMOVE, 'IOCTL_VMSG_LB_REMOVE', devId),
          close: () => socket.destroy(),
        }),
      );
    });
  });
}

/** The control's registrar: the ioctls on the kernel's device, or records over a stand-in's socket. */
export async function controlRegistrar(control: string): Promise<Result<LoopbackRegistrar>> {
  let socket = false;
  try {
    socket = statSync(control).isSocket();
  } catch {
    // Missing: ioctlRegistrar's open says so.
  }
  return socket ? socketRegistrar(control) : ioctlRegistrar(control);
}

/**
 * A message device's read side, kept across sessions while a read is in flight: the kernel's
 * read() blocks until the transport sends (the device has no poll) and cannot be called off, so
 * after a session removed its devices one read stays pending on a thread of Node's pool until the
 * next message — the first request of the next session on the bus, which must reach that session.
 */
interface ReadChannel {
  path: string;
  fd: number;
  /** A FIFO or socket (the stand-in): reads may split or join messages; 0 is EOF. */
  stream: boolean;
  pending: Uint8Array[];
  partial: Uint8Array;
  flight: Promise<Result<number>> | null;
  users: number;
}

const channels = new Map<string, ReadChannel>();

function readChannel(path: string, readWrite: boolean): ReadChannel {
  const kept = channels.get(path);
  if (kept) {
    kept.users++;
    return kept;
  }
  const fd = openSync(path, readWrite ? 'r+' : 'r');
  const st = fstatSync(fd);
  const ch: ReadChannel = { path, fd, stream: st.isFIFO() || st.isSocket(), pending: [], partial: new Uint8Array(0), flight: null, users: 1 };
  channels.set(path, ch);
  return ch;
}

function releaseChannel(ch: ReadChannel): void {
  ch.users--;
  closeIfUnused(ch);
}

function closeIfUnused(ch: ReadChannel): void {
  if (ch.users > 0) return;
  // Closed once the pending read returned, unless a new session took the channel meanwhile.
  if (ch.flight) return void ch.flight.then(() => closeIfUnused(ch));
  channels.delete(ch.path);
  closeSync(ch.fd);
}

/** One read: the kernel's device hands out one whole message; a FIFO may split or join them. */
function readOnce(ch: ReadChannel): Promise<Result<number>> {
  return new Promise((resolve) => {
    const buf = new Uint8Array(VIRTIO_MSG_MIN_SIZE * 16);
    fsRead(ch.fd, buf, 0, ch.stream ? buf.length : VIRTIO_MSG_MIN_SIZE, null, (e, n) => {
      if (e) return resolve(fail(`reading ${ch.path} failed: ${systemErrorText(e)}`));
      const joined = new Uint8Array(ch.partial.length + n);
      joined.set(ch.partial);
      joined.set(buf.subarray(0, n), ch.partial.length);
      let at = 0;
      for (; joined.length - at >= VIRTIO_MSG_MIN_SIZE; at += VIRTIO_MSG_MIN_SIZE) ch.pending.push(joined.slice(at, at + VIRTIO_MSG_MIN_SIZE));
      ch.partial = joined.slice(at);
      resolve(ok(n));
    });
  });
}

export async function openLinuxLoopback(opts: LinuxLoopbackOptions = {}): Promise<Result<LoopbackKernel>> {
  const control = opts.control ?? LOOPBACK_CONTROL;
  const region = readPoolRegion(opts.deviceTree ?? DEVICE_TREE);
  if (!region.ok) return region;
  let messages = opts.messages;
  if (messages === undefined) {
    const found = findMessageDevice(opts.sysClassMisc ?? SYS_CLASS_MISC);
    if (!found.ok) return found;
    messages = found.value;
  }
  const paths = typeof messages === 'string' ? { read: messages, write: messages } : messages;
  const addon = requireNative('the loopback bus');
  const poolPath = opts.pool ?? control;
  let mapping;
  try {
    mapping = addon.map(poolPath, 0, Number(region.value.size));
  } catch (e) {
    return fail(`cannot map the vmsglb pool (${region.value.size} bytes at 0x${region.value.base.toString(16)}) through ${poolPath}: ${systemErrorText(e)}`);
  }
  const { onGone, lost } = watchMappings();
  const same = paths.read === paths.write;
  let channel: ReadChannel | null = null;
  let writeFd: number;
  try {
    // One descriptor for the kernel's device (read and write on the same file), two for a pair.
    channel = readChannel(paths.read, same);
    writeFd = same ? channel.fd : openSync(paths.write, 'w');
  } catch (e) {
    if (channel) releaseChannel(channel);
    mapping.unmap();
    return fail(`cannot open the loopback bus's message device ${same ? paths.read : `${paths.read} / ${paths.write}`}: ${systemErrorText(e)}`);
  }
  const ch: ReadChannel = channel;
  const closeAll = () => {
    if (!same) closeSync(writeFd);
    releaseChannel(ch);
    mapping.unmap();
  };
  let registrar = opts.registrar;
  if (!registrar) {
    const r = await controlRegistrar(control);
    if (!r.ok) {
      closeAll();
      return r;
    }
    registrar = r.value;
  }
  let closed = false;
  return ok({
    description: `Linux loopback bus (${control}, messages ${same ? paths.read : `${paths.read} / ${paths.write}`}, pool 0x${region.value.base.toString(16)} +0x${region.value.size.toString(16)})`,
    pool: new NativeWindow(mapping, 0, Number(region.value.size), onGone),
    poolBase: region.value.base,
    registrar,
    async read() {
      for (;;) {
        if (closed) return ok(null);
        const next = ch.pending.shift();
        if (next) return ok(next);
        ch.flight ??= readOnce(ch);
        const r = await ch.flight;
        ch.flight = null;
        // A session closed while its read waited leaves what arrives to the next one.
        if (closed) return ok(null);
        if (!r.ok) return r;
        // 0: EOF of a FIFO (the stand-in left); from the kernel's device, a read a signal interrupted.
        if (r.value === 0 && ch.stream) return ok(null);
      }
    },
    write(bytes) {
      try {
        writeSync(writeFd, bytes);
        return ok(undefined);
      } catch (e) {
        return fail(`writing to ${paths.write} failed: ${systemErrorText(e)}`);
      }
    },
    lost,
    close() {
      if (closed) return;
      closed = true;
      registrar.close();
      closeAll();
    },
  });
}
