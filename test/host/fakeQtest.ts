/**
 * A fake QEMU for the qtest link: the qtest text protocol (QEMU system/qtest.c) over a UNIX
 * socket, backed by a machine with guest RAM, configuration mechanism #1 (ports 0xcf8/0xcfc)
 * and ECAM, a host bridge at 00:00.0 and virtio-msg-amp-pci (10ee:9039) at 00:03.0 with BAR0
 * registers (VERSION, NOTIFY[0]), a 16 KiB BAR1 and a 64-bit BAR2 (amp-bus.md §5.1). BAR1 and
 * RAM are run by our simulated device side (src/sim/board.ts) on the same event loop.
 *
 * Knobs for the tests: QEMU's known quirks applied to the device's outgoing messages
 * (qemu-field-notes.md), a delay before the layout appears, async IRQ lines after each
 * device→driver ring, and a `misbehave` hook that replaces a reply or drops the connection.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

import type { BoardProfile } from '../../src/api/boardProfile';
import type { DoorbellIn } from '../../src/bus/link';
import { BytesWindow, SubWindow, type AccessWidth, type MemoryWindow } from '../../src/bus/window';
import { decodeHeader } from '../../src/protocol/index';
import { startSimBoard, type SimBoard } from '../../src/sim/board';
import { nodeRuntime } from '../../main/host/runtime';
import type { NativeMapping } from '../../main/native/index';

export const AMP_DEV = 3;
const BAR_SIZES = [0x4000, 0x4000, 0x1000] as const;
const NOTIFY0 = 0x20;
const ECAM_SIZE = 0x10000000n;
const DEVICE_ELEMENTS = 0x50;
const ELEMENT_SIZE = 64;
const NUM_ELEMENTS = 63;

/** The QEMU behaviours of qemu-field-notes.md, applied to what the device sends. */
export interface Quirks {
  /** Bus responses carry token 0. */
  tokenZero?: boolean;
  /** GET_DEVICES msg_size counts the bitmap as 32 bytes (46 for num 32). */
  getDevicesSize?: boolean;
  /** GET_VQUEUE reports cur_size 8 for a queue never set up. */
  vqueueDefaultSize?: boolean;
  /** GET_SHM is dropped unanswered (QEMU before PoC-v2). */
  silentGetShm?: boolean;
}

export interface FakeQtestOptions {
  profile: BoardProfile;
  /** Devices of the simulated side (default rng at 0, i2c at 1). */
  devices?: NonNullable<BoardProfile['sim']>['devices'];
  quirks?: Quirks;
  /** Start the device side (and so the layout) this long after the first command. */
  layoutDelayMs?: number;
  /** Send "IRQ raise 0"/"IRQ lower 0" after every device→driver ring. */
  irqLines?: boolean;
  /** Guest RAM from a shared file instead of process memory (memory-backend-file,share=on). */
  ram?: NativeMapping;
  /** Called per command line (1-based count): a raw reply to send instead, or 'close' to drop the link. */
  misbehave?: (line: string, n: number) => string | 'close' | undefined;
}

interface SyncMemory {
  readSync(offset: number, length: number): Uint8Array;
  writeSync(offset: number, data: Uint8Array): void;
}

/** The native mapping as the machine's synchronous RAM, and as the device side's window. */
function mappedRam(m: NativeMapping): SyncMemory & { window: MemoryWindow } {
  return {
    readSync: (offset, length) => {
      const out = new Uint8Array(length);
      m.readInto(offset, out);
      return out;
    },
    writeSync: (offset, data) => m.write(offset, data),
    window: {
      size: m.size,
      read: (o, l) => {
        const out = new Uint8Array(l);
        m.readInto(o, out);
        return Promise.resolve(out);
      },
      write: (o, d) => Promise.resolve(m.write(o, d)),
      load: (o, w) => Promise.resolve(m.load(o, w) as number),
      store: (o, w, v) => Promise.resolve(m.store(o, w, v)),
      fence: () => Promise.resolve(m.fence()),
    },
  };
}

/** A configuration space of 256 bytes with BARs that hold only their size-aligned bits. */
class ConfigSpace {
  readonly bytes = new Uint8Array(256);
  private readonly dv = new DataView(this.bytes.buffer);
  /** Every value written to the command register, in order. */
  readonly commandWrites: number[] = [];

  constructor(
    vendor: number,
    device: number,
    classCode: number,
    private readonly bars: readonly { size: number; flags: number }[],
  ) {
    this.dv.setUint16(0, vendor, true);
    this.dv.setUint16(2, device, true);
    this.dv.setUint32(8, (classCode << 8) | 1, true);
    bars.forEach((b, i) => this.dv.setUint32(0x10 + 4 * i, b.flags, true));
  }

  get command(): number {
    return this.dv.getUint16(4, true);
  }

  bar(i: number): number {
    return (this.dv.getUint32(0x10 + 4 * i, true) & ~0xf) >>> 0;
  }

  read(offset: number, width: 8 | 16 | 32): number {
    if (width === 8) return this.bytes[offset]!;
    return width === 16 ? this.dv.getUint16(offset, true) : this.dv.getUint32(offset, true);
  }

  write(offset: number, width: 8 | 16 | 32, value: number): void {
    const reg = offset & ~3;
    const word = this.dv.getUint32(reg, true);
    const shift = (offset & 3) * 8;
    const mask = (width === 32 ? 0xffffffff : ((1 << width) - 1) << shift) >>> 0;
    const merged = ((word & ~mask) | ((value << shift) & mask)) >>> 0;
    if (reg >= 0x10 && reg < 0x28) {
      const i = (reg - 0x10) / 4;
      const bar = this.bars[i];
      const upper = i > 0 && this.bars[i - 1] !== undefined && ((this.bars[i - 1]!.flags >>> 1) & 3) === 2;
      if (upper) this.dv.setUint32(reg, merged, true);
      else if (bar) this.dv.setUint32(reg, ((merged & ~(bar.size - 1)) | bar.flags) >>> 0, true);
      return;
    }
    if (reg === 4) {
      // Memory, bus master and INTx disable are writable; status bits are not modelled.
      const cmd = (merged & 0x0406) >>> 0;
      this.commandWrites.push(cmd);
      this.dv.setUint16(4, cmd, true);
      return;
    }
    // Identity, class and header type are read-only.
    if (reg < 0x10) return;
    this.dv.setUint32(reg, merged, true);
  }
}

/** The machine: address decode, config access, BAR0 registers, and the simulated device on BAR1 + RAM. */
export class FakeMachine {
  readonly bar1 = new BytesWindow(new ArrayBuffer(BAR_SIZES[1]));
  readonly ram: SyncMemory & { window: MemoryWindow };
  readonly ramBase: bigint;
  readonly amp = new ConfigSpace(0x10ee, 0x9039, 0x088000, [
    { size: BAR_SIZES[0], flags: 0 },
    { size: BAR_SIZES[1], flags: 0x8 },
    { size: BAR_SIZES[2], flags: 0x4 },
  ]);
  private readonly bridge = new ConfigSpace(0x8086, 0x29c0, 0x060000, []);
  private latch = 0;
  readonly ecamBase = 0xb0000000n;
  /** Values written to NOTIFY[0]; and accesses the model rejects (not 4 bytes wide). */
  readonly notifies: number[] = [];
  readonly badRegisterAccesses: string[] = [];
  private readonly doorbell = new Set<() => void>();
  private deviceRing: () => void = () => undefined;
  board: SimBoard | null = null;
  private stopped = false;
  /** Why the device side failed to start, if it did (the link then times out on the layout). */
  startError: string | null = null;
  clockNs = 0n;

  constructor(readonly opts: FakeQtestOptions) {
    this.ramBase = opts.profile.dataMemory.peerBase;
    if (opts.ram) {
      this.ram = mappedRam(opts.ram);
    } else {
      const bytes = new BytesWindow(new ArrayBuffer(opts.profile.dataMemory.size));
      this.ram = { readSync: (o, l) => bytes.readSync(o, l), writeSync: (o, d) => bytes.writeSync(o, d), window: bytes };
    }
  }

  /** Runs the device side: lays out the queues in BAR1+0x1000 and serves the devices. */
  async startDevice(onRing: () => void): Promise<void> {
    this.deviceRing = onRing;
    const { profile, quirks, devices } = this.opts;
    const bus = new SubWindow(this.bar1, profile.bus.offset, profile.bus.size);
    const doorbellIn: DoorbellIn = {
      mode: 'interrupt',
      subscribe: (l) => {
        this.doorbell.add(l);
        return () => this.doorbell.delete(l);
      },
    };
    const started = await startSimBoard({
      profile: { ...profile, sim: { devices: devices ?? [{ devNum: 0, kind: 'rng' }, { devNum: 1, kind: 'i2c' }] } },
      busWindow: quirks ? new QuirkyWindow(bus, quirks, profile.bus.revision) : bus,
      dataWindow: this.ram.window,
      doorbellIn,
      doorbellOut: { ring: () => Promise.resolve(this.deviceRing()) },
      runtime: nodeRuntime,
    });
    if (!started.ok) {
      this.startError = started.error;
      return;
    }
    // Set before the driver can reach GET_SHM: it first needs GET_DEVICES and the device's bring-up.
    if (quirks?.silentGetShm) started.board.server.silentGetShm = true;
    // A connection that ended while the device side was coming up.
    if (this.stopped) started.board.close();
    else this.board = started.board;
  }

  stop(): void {
    this.stopped = true;
    this.board?.close();
    this.board = null;
  }

  // ---- config space ----
  private fnAt(bus: number, dev: number, fn: number): ConfigSpace | undefined {
    if (bus !== 0 || fn !== 0) return undefined;
    return dev === 0 ? this.bridge : dev === AMP_DEV ? this.amp : undefined;
  }

  portIn(port: number, width: 8 | 16 | 32): number {
    if (port === 0xcf8 && width === 32) return this.latch;
    if (port >= 0xcfc && port < 0xd00 && this.latch & 0x80000000) {
      const fn = this.fnAt((this.latch >>> 16) & 0xff, (this.latch >>> 11) & 0x1f, (this.latch >>> 8) & 7);
      return fn ? fn.read((this.latch & 0xfc) + (port - 0xcfc), width) : (2 ** width - 1) >>> 0;
    }
    return (2 ** width - 1) >>> 0;
  }

  portOut(port: number, width: 8 | 16 | 32, value: number): void {
    if (port === 0xcf8 && width === 32) this.latch = value >>> 0;
    else if (port >= 0xcfc && port < 0xd00 && this.latch & 0x80000000) {
      this.fnAt((this.latch >>> 16) & 0xff, (this.latch >>> 11) & 0x1f, (this.latch >>> 8) & 7)?.write((this.latch & 0xfc) + (port - 0xcfc), width, value);
    }
  }

  // ---- memory ----
  private decode(addr: bigint, length: number): { kind: 'ram' | 'bar0' | 'bar1' | 'ecam'; offset: number } | null {
    const inside = (base: bigint, size: bigint) => addr >= base && addr + BigInt(length) <= base + size;
    if (inside(this.ramBase, BigInt(this.opts.profile.dataMemory.size))) return { kind: 'ram', offset: Number(addr - this.ramBase) };
    if (inside(this.ecamBase, ECAM_SIZE)) return { kind: 'ecam', offset: Number(addr - this.ecamBase) };
    if (this.amp.command & 2) {
      const b0 = BigInt(this.amp.bar(0));
      const b1 = BigInt(this.amp.bar(1));
      if (b0 !== 0n && inside(b0, BigInt(BAR_SIZES[0]))) return { kind: 'bar0', offset: Number(addr - b0) };
      if (b1 !== 0n && inside(b1, BigInt(BAR_SIZES[1]))) return { kind: 'bar1', offset: Number(addr - b1) };
    }
    return null;
  }

  read(addr: bigint, length: number): Uint8Array {
    const d = this.decode(addr, length);
    if (!d) return new Uint8Array(length);
    if (d.kind === 'ram') return this.ram.readSync(d.offset, length);
    if (d.kind === 'bar1') return this.bar1.readSync(d.offset, length);
    const value = d.kind === 'ecam' ? this.ecamRead(d.offset, length) : this.registerRead(d.offset, length);
    const out = new Uint8Array(length);
    for (let i = 0; i < length && i < 4; i++) out[i] = (value >>> (8 * i)) & 0xff;
    return out;
  }

  write(addr: bigint, data: Uint8Array): void {
    const d = this.decode(addr, data.length);
    if (!d) return;
    if (d.kind === 'ram') return this.ram.writeSync(d.offset, data);
    if (d.kind === 'bar1') return this.bar1.writeSync(d.offset, data);
    let value = 0;
    for (let i = 0; i < data.length && i < 4; i++) value |= data[i]! << (8 * i);
    if (d.kind === 'ecam') return this.ecamWrite(d.offset, data.length, value >>> 0);
    this.registerWrite(d.offset, data.length, value >>> 0);
  }

  private ecamRead(offset: number, length: number): number {
    const fn = this.fnAt(offset >>> 20, (offset >>> 15) & 0x1f, (offset >>> 12) & 7);
    const width = (length * 8) as 8 | 16 | 32;
    return fn ? fn.read(offset & 0xfff, width) : (2 ** width - 1) >>> 0;
  }

  private ecamWrite(offset: number, length: number, value: number): void {
    this.fnAt(offset >>> 20, (offset >>> 15) & 0x1f, (offset >>> 12) & 7)?.write(offset & 0xfff, (length * 8) as 8 | 16 | 32, value);
  }

  /** BAR0 (amp-bus.md §5.1): 4-byte accesses only; VERSION 1, FEATURES 0, NOTIFY[0] drains the driver queue. */
  private registerRead(offset: number, length: number): number {
    if (length !== 4) {
      this.badRegisterAccesses.push(`read${length * 8} at ${offset}`);
      return 0;
    }
    return offset === 0 ? 1 : 0;
  }

  private registerWrite(offset: number, length: number, value: number): void {
    if (length !== 4) {
      this.badRegisterAccesses.push(`write${length * 8} at ${offset}`);
      return;
    }
    if (offset === NOTIFY0) {
      this.notifies.push(value);
      for (const l of this.doorbell) l();
    }
  }
}

/**
 * The device's bus window with QEMU's habits applied to every message the device writes into its
 * element array (a write of a whole message at a slot, which is how the vmamp queue sends).
 */
class QuirkyWindow implements MemoryWindow {
  constructor(
    private readonly inner: MemoryWindow,
    private readonly quirks: Quirks,
    private readonly revision: BoardProfile['bus']['revision'],
  ) {}
  get size(): number {
    return this.inner.size;
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.inner.read(offset, length);
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    const slot = offset - DEVICE_ELEMENTS;
    if (slot < 0 || slot % ELEMENT_SIZE !== 0 || slot + data.length > NUM_ELEMENTS * ELEMENT_SIZE) return this.inner.write(offset, data);
    // The ring writes whole zero-padded slots, one or several at a time.
    const copy = data.slice();
    for (let at = 0; at + ELEMENT_SIZE <= copy.length; at += ELEMENT_SIZE) this.rewrite(copy.subarray(at, at + ELEMENT_SIZE));
    return this.inner.write(offset, copy);
  }
  load(offset: number, width: AccessWidth): Promise<number> {
    return this.inner.load(offset, width);
  }
  store(offset: number, width: AccessWidth, value: number): Promise<void> {
    return this.inner.store(offset, width, value);
  }
  fence(): Promise<void> {
    return this.inner.fence();
  }

  /** Rewrites one message in its (zero-padded) slot in place. */
  private rewrite(slot: Uint8Array): void {
    const h = decodeHeader(slot, this.revision);
    if (!h || h.kind !== 'response') return;
    const dv = new DataView(slot.buffer, slot.byteOffset, slot.byteLength);
    if (this.quirks.tokenZero && h.bus) dv.setUint16(4, 0, true);
    // 14 bytes of header and fields plus the bitmap counted as 32 bytes instead of 4.
    if (this.quirks.getDevicesSize && h.bus && h.msgId === 0x02) dv.setUint16(6, 46, true);
    if (this.quirks.vqueueDefaultSize && !h.bus && h.msgId === 0x09 && dv.getUint32(16, true) === 0) dv.setUint32(16, 8, true);
  }
}

// ---- the protocol ----------------------------------------------------------------------------

const num = (s: string | undefined): bigint => {
  if (s === undefined || !/^(0x[0-9a-fA-F]+|\d+)$/.test(s)) throw new Error(`bad number ${s}`);
  return BigInt(s);
};
const WIDTHS: Record<string, 8 | 16 | 32 | 64> = { b: 8, w: 16, l: 32, q: 64 };

function toLe(value: bigint, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return out;
}
function fromLe(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  return v;
}

/** Answers one command line as QEMU would. */
function execute(m: FakeMachine, line: string): string {
  const w = line.split(' ');
  const cmd = w[0] ?? '';
  let r: RegExpExecArray | null;
  if ((r = /^out([bwl])$/.exec(cmd))) {
    m.portOut(Number(num(w[1])), WIDTHS[r[1]!] as 8 | 16 | 32, Number(num(w[2])));
    return 'OK';
  }
  if ((r = /^in([bwl])$/.exec(cmd))) return `OK 0x${m.portIn(Number(num(w[1])), WIDTHS[r[1]!] as 8 | 16 | 32).toString(16).padStart(4, '0')}`;
  if ((r = /^write([bwlq])$/.exec(cmd))) {
    m.write(num(w[1]), toLe(num(w[2]), WIDTHS[r[1]!]! / 8));
    return 'OK';
  }
  if ((r = /^read([bwlq])$/.exec(cmd))) return `OK 0x${fromLe(m.read(num(w[1]), WIDTHS[r[1]!]! / 8)).toString(16).padStart(16, '0')}`;
  if (cmd === 'read') return `OK 0x${Buffer.from(m.read(num(w[1]), Number(num(w[2])))).toString('hex')}`;
  if (cmd === 'write') {
    const len = Number(num(w[2]));
    const hex = (w[3] ?? '').slice(2);
    m.write(num(w[1]), Uint8Array.from({ length: len }, (_, i) => (i * 2 + 2 <= hex.length ? Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16) : 0)));
    return 'OK';
  }
  if (cmd === 'b64read') return `OK ${Buffer.from(m.read(num(w[1]), Number(num(w[2])))).toString('base64')}`;
  if (cmd === 'b64write') {
    const len = Number(num(w[2]));
    const data = new Uint8Array(len);
    data.set(Buffer.from(w[3] ?? '', 'base64').subarray(0, len));
    m.write(num(w[1]), data);
    return 'OK';
  }
  if (cmd === 'memset') {
    m.write(num(w[1]), new Uint8Array(Number(num(w[2]))).fill(Number(num(w[3]))));
    return 'OK';
  }
  if (cmd === 'clock_step') {
    m.clockNs += w[1] ? num(w[1]) : 1_000_000n;
    return `OK ${m.clockNs}`;
  }
  if (cmd === 'endianness') return 'OK little';
  return `FAIL Unknown command '${cmd}'`;
}

/** Speaks qtest on one connected socket until it closes. */
export function serveQtest(m: FakeMachine, socket: Socket): void {
  const { opts } = m;
  let buffer = '';
  let count = 0;
  let started = false;
  const ring = () => {
    if (opts.irqLines && !socket.destroyed) socket.write('IRQ raise 0\nIRQ lower 0\n');
  };
  const start = () => {
    if (started) return;
    started = true;
    const go = () => void m.startDevice(ring);
    if (opts.layoutDelayMs) setTimeout(go, opts.layoutDelayMs);
    else go();
  };
  socket.setEncoding('latin1');
  socket.on('data', (text: string) => {
    buffer += text;
    let nl: number;
    const replies: string[] = [];
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      start();
      const odd = opts.misbehave?.(line, ++count);
      if (odd === 'close') {
        socket.end(replies.join(''));
        buffer = '';
        socket.removeAllListeners('data');
        return;
      }
      replies.push(`${odd ?? execute(m, line)}\n`);
    }
    if (replies.length) socket.write(replies.join(''));
  });
  socket.on('close', () => m.stop());
}

/** QEMU started with `-qtest unix:PATH,server=on,wait=off`: it listens, the link connects. */
export function listenFakeQtest(path: string, opts: FakeQtestOptions): Promise<{ machine: FakeMachine; server: Server; close(): void }> {
  const machine = new FakeMachine(opts);
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    serveQtest(machine, s);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () =>
      resolve({
        machine,
        server,
        close() {
          for (const s of sockets) s.destroy();
          server.close();
          machine.stop();
        },
      }),
    );
  });
}

/** QEMU started with `-qtest unix:PATH` (libqtest style): it connects to the link's socket. */
export function connectFakeQtest(path: string, opts: FakeQtestOptions): Promise<{ machine: FakeMachine; socket: Socket }> {
  const machine = new FakeMachine(opts);
  return new Promise((resolve, reject) => {
    const socket = createConnection(path, () => {
      socket.off('error', reject);
      serveQtest(machine, socket);
      resolve({ machine, socket });
    });
    socket.once('error', reject);
  });
}
