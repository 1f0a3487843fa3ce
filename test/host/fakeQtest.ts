/**
 * A fake QEMU for the qtest link: the qtest text protocol (QEMU system/qtest.c) over a UNIX
 * socket, backed by a machine with guest RAM, configuration mechanism #1 (ports 0xcf8/0xcfc)
 * and ECAM, a host bridge at 00:00.0 and virtio-msg-amp-pci (10ee:9039) at 00:03.0 with BAR0
 * registers (VERSION, NOTIFY[0]), a 16 KiB BAR1 and a 64-bit BAR2 (docs/amp-bus.md §5.1). Behind BAR1
 * runs QEMU's virtio-msg model as the QEMU field notes describe it, bugs included
 * (fakeQtestModel.ts); its state outlives a qtest connection, as QEMU's does (field notes,
 * "Re-attach").
 *
 * Knobs for the tests: the delay before the layout magic appears, IRQ lines after each message
 * the device sends (qtest's asynchronous lines; the real model only sets an MSI-X pending bit),
 * and a `misbehave` hook that replaces a reply or drops the connection.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

import type { BoardProfile } from '../../src/api/boardProfile';
import { BytesWindow } from '../../src/bus/window';
import type { NativeMapping } from '../../main/native/index';
import { LAYOUT_AT, VirtioMsgAmpPciModel, type HaltKind, type SyncMemory } from './fakeQtestModel';

export const AMP_DEV = 3;
const BAR_SIZES = [0x4000, 0x4000, 0x1000] as const;
const NOTIFY0 = 0x20;
const ECAM_SIZE = 0x10000000n;
/** docs/peers.md §1.2: the layout magic reads 0 at connect and 0x4C4F "shortly after". */
const LAYOUT_DELAY_MS = 20;

export interface FakeQtestOptions {
  profile: BoardProfile;
  /** AMP bus numbers with a virtio-rng device (default bus0, the field notes' command line). */
  devices?: readonly number[];
  /** Publish the layout magic this long after the first command. */
  layoutDelayMs?: number;
  /** Send "IRQ raise 0"/"IRQ lower 0" after every message the device sends. */
  irqLines?: boolean;
  /** Guest RAM from a shared file instead of process memory (memory-backend-file,share=on). */
  ram?: NativeMapping;
  /** Called per command line (1-based count): a raw reply to send instead, or 'close' to drop the link. */
  misbehave?: (line: string, n: number) => string | 'close' | undefined;
  /** The model aborted (QEMU is gone) or spins (QEMU answers nothing more). */
  onHalt?: (kind: HaltKind, reason: string) => void;
  /** Requests the model dropped, and why. */
  onDrop?: (reason: string) => void;
}

/** The native mapping as the machine's synchronous RAM. */
function mappedRam(m: NativeMapping): SyncMemory {
  return {
    readSync: (offset, length) => {
      const out = new Uint8Array(length);
      m.readInto(offset, out);
      return out;
    },
    writeSync: (offset, data) => m.write(offset, data),
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

/** The machine: address decode, config access, BAR0 registers, and QEMU's model on BAR1 + RAM. */
export class FakeMachine {
  readonly bar1 = new BytesWindow(new ArrayBuffer(BAR_SIZES[1]));
  readonly ram: SyncMemory;
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
  readonly model: VirtioMsgAmpPciModel;
  /** Called after each message the device sends (the IRQ-line knob). */
  onDeviceSend: () => void = () => undefined;
  private layoutTimer: ReturnType<typeof setTimeout> | undefined;
  private started = false;
  clockNs = 0n;

  constructor(readonly opts: FakeQtestOptions) {
    this.ramBase = opts.profile.dataMemory.peerBase;
    if (opts.ram) {
      this.ram = mappedRam(opts.ram);
    } else {
      const bytes = new BytesWindow(new ArrayBuffer(opts.profile.dataMemory.size));
      this.ram = { readSync: (o, l) => bytes.readSync(o, l), writeSync: (o, d) => bytes.writeSync(o, d) };
    }
    this.model = new VirtioMsgAmpPciModel({
      bar1: this.bar1,
      ram: this.ram,
      ramBase: this.ramBase,
      ramSize: opts.profile.dataMemory.size,
      devices: opts.devices ?? [0],
      onHalt: (kind, reason) => opts.onHalt?.(kind, reason),
      onSend: () => this.onDeviceSend(),
      ...(opts.onDrop ? { onDrop: opts.onDrop } : {}),
    });
    this.model.writeLayout();
  }

  /**
   * The layout magic follows the delay after it was first read, so that first read sees 0 as
   * the real model's does however long the driver took to get there (a clock started at the
   * first command made the finding depend on the machine's load).
   */
  private startLayoutClock(): void {
    if (this.started) return;
    this.started = true;
    this.layoutTimer = setTimeout(() => this.model.publishLayout(), this.opts.layoutDelayMs ?? LAYOUT_DELAY_MS);
  }

  stop(): void {
    clearTimeout(this.layoutTimer);
    this.model.stop();
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
    if (d.kind === 'bar1') {
      if (d.offset <= LAYOUT_AT && LAYOUT_AT < d.offset + length) this.startLayoutClock();
      return this.bar1.readSync(d.offset, length);
    }
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

  /** BAR0 (docs/amp-bus.md §5.1): 4-byte accesses only; VERSION 1, FEATURES 0, NOTIFY[0] drains the driver queue. */
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
      this.model.doorbell();
    }
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

/**
 * Speaks qtest on one connected socket until it closes. A halted model answers nothing more: a
 * spin leaves the socket open and silent, an abort closes it (QEMU is gone).
 */
export function serveQtest(m: FakeMachine, socket: Socket): void {
  const { opts } = m;
  let buffer = '';
  let count = 0;
  m.onDeviceSend = () => {
    if (opts.irqLines && !socket.destroyed) socket.write('IRQ raise 0\nIRQ lower 0\n');
  };
  socket.setEncoding('latin1');
  // A client that goes away (ECONNRESET) is a disconnect, as QEMU sees it; 'close' follows.
  socket.on('error', () => undefined);
  socket.on('data', (text: string) => {
    buffer += text;
    let nl: number;
    const replies: string[] = [];
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const odd = opts.misbehave?.(line, ++count);
      if (odd === 'close') {
        socket.end(replies.join(''));
        buffer = '';
        socket.removeAllListeners('data');
        return;
      }
      const reply = odd ?? execute(m, line);
      const halted = m.model.halted;
      if (halted) {
        if (replies.length) socket.write(replies.join(''));
        socket.removeAllListeners('data');
        if (halted.kind === 'abort') socket.destroy();
        return;
      }
      replies.push(`${reply}\n`);
    }
    if (replies.length) socket.write(replies.join(''));
  });
}

/**
 * QEMU started with `-qtest unix:PATH,server=on,wait=off`: it listens, the link connects; the
 * machine lives on across connections. An abort closes the listener too.
 */
export function listenFakeQtest(path: string, opts: FakeQtestOptions): Promise<{ machine: FakeMachine; server: Server; close(): void }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    serveQtest(machine, s);
  });
  const machine = new FakeMachine({
    ...opts,
    onHalt: (kind, reason) => {
      if (kind === 'abort') {
        server.close();
        machine.stop();
      }
      opts.onHalt?.(kind, reason);
    },
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

/** QEMU started with `-qtest unix:PATH` (libqtest style): it connects to the link's socket and ends with it. */
export function connectFakeQtest(path: string, opts: FakeQtestOptions): Promise<{ machine: FakeMachine; socket: Socket }> {
  const machine = new FakeMachine(opts);
  return new Promise((resolve, reject) => {
    const socket = createConnection(path, () => {
      socket.off('error', reject);
      serveQtest(machine, socket);
      socket.on('close', () => machine.stop());
      resolve({ machine, socket });
    });
    socket.once('error', reject);
  });
}
