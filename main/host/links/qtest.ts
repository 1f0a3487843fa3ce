/**
 * The `qtest` link: QEMU run with `-accel qtest` (no guest boots) and this process in the guest's
 * place, through QEMU's qtest text protocol (QEMU system/qtest.c "QTest Protocol"): one command
 * per line, answered in order by `OK [VALUE]` or `FAIL …`/`ERR …`, with asynchronous
 * `IRQ raise|lower N` lines that may come between any two answers.
 *
 * On top of it, what a guest's PCI driver would do for virtio-msg-amp-pci (docs/amp-bus.md §5.1):
 * scan bus 0 through configuration mechanism #1 (ports 0xcf8/0xcfc) or ECAM, size and assign the
 * profile's BARs from a guest-physical MMIO window, enable memory decoding and bus mastering;
 * then the BARs and guest RAM become MemoryWindows over qtest reads and writes (ranges as
 * b64read/b64write, pipelined), or guest RAM is mapped directly when it is a shared file
 * (memory-backend-file,share=on). MSI-X is not delivered over qtest, so the device queue's
 * producer index is polled, and the link says so in `notices`.
 *
 * Socket direction: `-qtest unix:PATH` makes QEMU connect to PATH (libqtest listens first);
 * `-qtest unix:PATH,server=on,wait=off` makes QEMU listen. The link does either.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { BoardProfile } from '../../../src/api/boardProfile';
import { profileWindows } from '../../../src/boards/bus';
import { VMAMP_LAYOUT_MAGIC } from '../../../src/bus/formats/vmamp';
import type { DoorbellIn } from '../../../src/bus/link';
import { checkAligned, checkRange, type AccessWidth, type MemoryWindow } from '../../../src/bus/window';
import { errorText } from '../../../src/util/errorText';
import { hexNum } from '../../../src/util/hex';
import { loadNative, type NativeMapping } from '../../native/index';
import { describeFailure } from '../failure';
import { systemErrorText } from '../systemError';
import type { BoardLink } from './open';
import { NativeWindow, watchMappings, type MappingGoneError } from './nativeWindow';
import { openDoorbellOut } from './pci';
import { describeFunction, pickPciFunction, PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, type PciFunction } from './sysfs';
import { ownedLink } from './owned';

export class QtestError extends Error {}

/** Largest range moved by one b64read/b64write (QEMU buffers a whole line; keep lines modest). */
export const QTEST_CHUNK = 0x10000;
const DEFAULT_COMMAND_TIMEOUT_MS = 5000;
const LOG_LINES = 32;

interface Pending {
  line: string;
  resolve(payload: string): void;
  reject(e: Error): void;
}

const hexAddr = (a: bigint | number): string => `0x${a.toString(16)}`;
const shorten = (line: string): string => (line.length > 120 ? `${line.slice(0, 117)}...` : line);

export interface QtestClientOptions {
  /** Where the socket is, for messages. */
  where: string;
  commandTimeoutMs?: number;
  /** Asked once the socket closed, for why (e.g. "QEMU exited with code 1: …"); bounded by the caller. */
  explainClose?: () => Promise<string | undefined>;
}

/**
 * The protocol over one connected socket. Commands are written at once and their answers matched
 * in order (pipelining); a reply that is none of OK/FAIL/ERR/IRQ desynchronises the stream, and
 * a closed socket or an unanswered command ends the client: every pending and later command then
 * fails with the same error. `log` keeps the last lines exchanged for that error and for users.
 */
export class QtestClient {
  private buffer = '';
  private readonly pending: Pending[] = [];
  private failure: QtestError | null = null;
  private tail: Promise<void> = Promise.resolve();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private socketError: string | undefined;
  private readonly timeoutMs: number;
  private readonly failListeners = new Set<(e: QtestError) => void>();
  /** The last lines exchanged: "> command", "< reply", "! IRQ …". */
  readonly log: string[] = [];
  commands = 0;
  /** Asynchronous IRQ lines seen (MSI-X never shows up here; INTx would, after irq_intercept_in). */
  irqLines = 0;

  constructor(
    private readonly socket: Socket,
    private readonly opts: QtestClientOptions,
  ) {
    this.timeoutMs = opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => this.received(text));
    // 'close' always follows 'error': the error is told there, with the reason for the close.
    socket.on('error', (e) => {
      this.socketError = systemErrorText(e);
    });
    socket.on('close', () => void this.closed());
  }

  get failed(): QtestError | null {
    return this.failure;
  }

  onFail(listener: (e: QtestError) => void): () => void {
    this.failListeners.add(listener);
    return () => this.failListeners.delete(listener);
  }

  /** Sends one command line; resolves with what follows "OK " in its answer. */
  command(line: string): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    const answer = new Promise<string>((resolve, reject) => {
      this.pending.push({ line, resolve, reject });
      if (this.pending.length === 1) this.armTimer();
    });
    this.commands++;
    this.remember(`> ${shorten(line)}`);
    this.socket.write(`${line}\n`);
    this.tail = answer.then(
      () => undefined,
      () => undefined,
    );
    return answer;
  }

  /** Resolves once every command sent so far is answered (QEMU executes them in order). */
  async sync(): Promise<void> {
    await this.tail;
    if (this.failure) throw this.failure;
  }

  async readMem(addr: bigint, width: 8 | 16 | 32 | 64): Promise<number | bigint> {
    const cmd = `read${WIDTH_SUFFIX[width]} ${hexAddr(addr)}`;
    const v = hexValue(cmd, await this.command(cmd));
    return width === 64 ? v : Number(v);
  }

  async writeMem(addr: bigint, width: 8 | 16 | 32 | 64, value: number | bigint): Promise<void> {
    await this.command(`write${WIDTH_SUFFIX[width]} ${hexAddr(addr)} ${hexAddr(value)}`);
  }

  async inPort(port: number, width: 8 | 16 | 32): Promise<number> {
    const cmd = `in${WIDTH_SUFFIX[width]} ${hexAddr(port)}`;
    return Number(hexValue(cmd, await this.command(cmd)));
  }

  async outPort(port: number, width: 8 | 16 | 32, value: number): Promise<void> {
    await this.command(`out${WIDTH_SUFFIX[width]} ${hexAddr(port)} ${hexAddr(value >>> 0)}`);
  }

  async b64read(addr: bigint, length: number): Promise<Uint8Array> {
    const cmd = `b64read ${hexAddr(addr)} ${hexAddr(length)}`;
    const payload = await this.command(cmd);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(payload)) throw new QtestError(`${cmd}: expected base64 data, saw "${shorten(payload)}"`);
    const bytes = new Uint8Array(Buffer.from(payload, 'base64'));
    if (bytes.length !== length) throw new QtestError(`${cmd}: expected ${length} bytes, QEMU returned ${bytes.length}`);
    return bytes;
  }

  async b64write(addr: bigint, data: Uint8Array): Promise<void> {
    await this.command(`b64write ${hexAddr(addr)} ${hexAddr(data.length)} ${Buffer.from(data.buffer, data.byteOffset, data.length).toString('base64')}`);
  }

  /** Advances QEMU's virtual clock (under -accel qtest it moves only when told); returns the new time in ns. */
  async clockStep(ns: number): Promise<bigint> {
    const payload = await this.command(`clock_step ${ns}`);
    if (!/^\d+$/.test(payload)) throw new QtestError(`clock_step ${ns}: expected the new virtual time in ns, saw "${shorten(payload)}"`);
    return BigInt(payload);
  }

  /** Ends the session; later commands fail with "closed". */
  close(): void {
    this.fail(`qtest session on ${this.opts.where} closed by the workbench`);
  }

  private remember(line: string): void {
    this.log.push(line);
    if (this.log.length > LOG_LINES) this.log.shift();
  }

  private received(text: string): void {
    this.buffer += text;
    let nl: number;
    while (!this.failure && (nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      this.answer(line);
    }
  }

  private answer(line: string): void {
    if (line.startsWith('IRQ ')) {
      if (!/^IRQ (raise|lower) -?\d+$/.test(line)) return this.fail(`malformed asynchronous line "${shorten(line)}" from QEMU: expected "IRQ raise N" or "IRQ lower N"`);
      this.irqLines++;
      this.remember(`! ${line}`);
      return;
    }
    this.remember(`< ${shorten(line)}`);
    const p = this.pending.shift();
    if (!p) return this.fail(`QEMU sent "${shorten(line)}" while no command was outstanding: the reply stream is out of step`);
    if (this.pending.length > 0) this.armTimer();
    else this.stopTimer();
    if (line === 'OK' || line.startsWith('OK ')) return p.resolve(line.slice(3));
    if (line.startsWith('FAIL') || line.startsWith('ERR')) return p.reject(new QtestError(`QEMU refused "${shorten(p.line)}": ${line}`));
    this.pending.unshift(p);
    this.fail(`malformed qtest reply "${shorten(line)}" to "${shorten(p.line)}": expected "OK [VALUE]", "FAIL …" or "IRQ raise|lower N"`);
  }

  /** One timer for the oldest unanswered command, restarted whenever an answer comes. */
  private armTimer(): void {
    if (this.timer) {
      this.timer.refresh();
      return;
    }
    this.timer = setTimeout(() => this.timedOut(), this.timeoutMs);
    this.timer.unref();
  }

  private stopTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private timedOut(): void {
    const head = this.pending[0];
    if (!head) return;
    this.fail(
      `QEMU did not answer "${shorten(head.line)}" within ${this.timeoutMs} ms (${this.pending.length} command(s) outstanding); it may be spinning (QEMU's virtio-msg-amp-pci spins on a doorbell rung with its queue empty) or stopped`,
    );
  }

  private async closed(): Promise<void> {
    if (this.failure) return;
    const why = await this.opts.explainClose?.().catch(() => undefined);
    const error = this.socketError ? ` (${this.socketError})` : '';
    this.fail(`QEMU closed the qtest socket ${this.opts.where}${error}${why ? `: ${why}` : ''}`);
  }

  /** Ends the client: this error for every pending and later command. */
  fail(message: string): void {
    if (this.failure) return;
    const last = this.log.slice(-4).join(' | ');
    this.failure = new QtestError(`${message}${last ? ` (last exchange: ${last})` : ''}`);
    this.stopTimer();
    for (const p of this.pending.splice(0)) p.reject(this.failure);
    this.socket.destroy();
    for (const l of this.failListeners) l(this.failure);
  }
}

const WIDTH_SUFFIX = { 8: 'b', 16: 'w', 32: 'l', 64: 'q' } as const;

function hexValue(cmd: string, payload: string): bigint {
  if (!/^0x[0-9a-fA-F]{1,16}$/.test(payload)) throw new QtestError(`${cmd}: expected "OK 0x<hex>", saw "OK ${shorten(payload)}"`);
  return BigInt(payload);
}

/** [base, base + size) of the guest-physical address space, over qtest accesses. */
export class QtestWindow implements MemoryWindow {
  constructor(
    private readonly client: QtestClient,
    readonly base: bigint,
    readonly size: number,
  ) {}

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    if (length <= QTEST_CHUNK) return length === 0 ? new Uint8Array(0) : this.client.b64read(this.base + BigInt(offset), length);
    const parts: Promise<Uint8Array>[] = [];
    for (let at = 0; at < length; at += QTEST_CHUNK) parts.push(this.client.b64read(this.base + BigInt(offset + at), Math.min(QTEST_CHUNK, length - at)));
    const out = new Uint8Array(length);
    (await Promise.all(parts)).forEach((p, i) => out.set(p, i * QTEST_CHUNK));
    return out;
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    checkRange(this, offset, data.length);
    const parts: Promise<void>[] = [];
    for (let at = 0; at < data.length; at += QTEST_CHUNK) parts.push(this.client.b64write(this.base + BigInt(offset + at), data.subarray(at, at + QTEST_CHUNK)));
    await Promise.all(parts);
  }

  async load(offset: number, width: AccessWidth): Promise<number> {
    checkRange(this, offset, width / 8);
    checkAligned(offset, width);
    return (await this.client.readMem(this.base + BigInt(offset), width)) as number;
  }

  store(offset: number, width: AccessWidth, value: number): Promise<void> {
    checkRange(this, offset, width / 8);
    checkAligned(offset, width);
    return this.client.writeMem(this.base + BigInt(offset), width, value >>> 0);
  }

  /** QEMU runs qtest commands one after another, each complete before it answers. */
  fence(): Promise<void> {
    return this.client.sync();
  }
}

// ---- PCI configuration space -------------------------------------------------------------------

const PCI_VENDOR_ID = 0x00;
const PCI_HEADER_TYPE = 0x0e;
const PCI_BAR0 = 0x10;
const PCI_CLASS_REVISION = 0x08;
/** Configuration mechanism #1 (PCI Local Bus spec §3.2.2.3.2): address latch and data window. */
const CONFIG_ADDRESS = 0xcf8;
const CONFIG_DATA = 0xcfc;
/** docs/amp-bus.md §5.1: VERSION register at BAR0+0x00 reads 1. */
const AMP_PCI_VERSION = 0x00;

export type ConfigAccess = { kind: 'cf8' } | { kind: 'ecam'; base: bigint };

interface Bdf {
  bus: number;
  dev: number;
  fn: number;
}

/** Configuration space of one function: reads and writes of 8/16/32 bits at a byte offset. */
export class QtestConfig {
  constructor(
    private readonly client: QtestClient,
    private readonly how: ConfigAccess,
    readonly at: Bdf,
  ) {}

  read(offset: number, width: 8 | 16 | 32): Promise<number> {
    if (this.how.kind === 'ecam') return this.client.readMem(this.ecam(offset), width) as Promise<number>;
    // Latch and data access are queued back to back, so no other config access can come between.
    const latch = this.client.outPort(CONFIG_ADDRESS, 32, this.latch(offset));
    const data = this.client.inPort(CONFIG_DATA + (offset & 3), width);
    return Promise.all([latch, data]).then(([, v]) => v);
  }

  async write(offset: number, width: 8 | 16 | 32, value: number): Promise<void> {
    if (this.how.kind === 'ecam') return this.client.writeMem(this.ecam(offset), width, value);
    await Promise.all([this.client.outPort(CONFIG_ADDRESS, 32, this.latch(offset)), this.client.outPort(CONFIG_DATA + (offset & 3), width, value)]);
  }

  private latch(offset: number): number {
    const { bus, dev, fn } = this.at;
    return (0x80000000 | (bus << 16) | (dev << 11) | (fn << 8) | (offset & 0xfc)) >>> 0;
  }

  private ecam(offset: number): bigint {
    const { bus, dev, fn } = this.at;
    return (this.how as { base: bigint }).base + BigInt((bus << 20) | (dev << 15) | (fn << 12) | offset);
  }
}

const bdfText = (a: Bdf): string => `0000:${a.bus.toString(16).padStart(2, '0')}:${a.dev.toString(16).padStart(2, '0')}.${a.fn}`;

/** Every function on bus 0 (all 32 slots probed at once, pipelined), with multi-function devices expanded. */
export async function scanBus0(client: QtestClient, how: ConfigAccess): Promise<{ fn: PciFunction; config: QtestConfig }[]> {
  const probe = async (at: Bdf) => {
    const config = new QtestConfig(client, how, at);
    const id = await config.read(PCI_VENDOR_ID, 32);
    if (id === 0xffffffff || (id & 0xffff) === 0xffff || id === 0) return null;
    const cls = await config.read(PCI_CLASS_REVISION, 32);
    const fn: PciFunction = { bdf: bdfText(at), dir: `qtest ${bdfText(at)}`, vendor: id & 0xffff, device: id >>> 16, classCode: cls >>> 8 };
    return { fn, config };
  };
  const slots = await Promise.all(Array.from({ length: 32 }, (_, dev) => probe({ bus: 0, dev, fn: 0 })));
  const found: { fn: PciFunction; config: QtestConfig }[] = [];
  for (const s of slots) {
    if (!s) continue;
    found.push(s);
    if ((await s.config.read(PCI_HEADER_TYPE, 8)) & 0x80) {
      const more = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((fn) => probe({ ...s.config.at, fn })));
      for (const m of more) if (m) found.push(m);
    }
  }
  return found;
}

export interface AssignedBar {
  index: number;
  base: bigint;
  size: bigint;
  prefetchable: boolean;
  is64: boolean;
}

/** Hands out naturally aligned ranges of the MMIO window. */
export class MmioAllocator {
  private next: bigint;
  constructor(private readonly window: { base: bigint; size: bigint }) {
    this.next = window.base;
  }
  take(size: bigint, what: string): bigint {
    const at = (this.next + size - 1n) & ~(size - 1n);
    if (at + size > this.window.base + this.window.size) {
      throw new QtestError(`${what} of ${hexNum(size)} bytes does not fit the MMIO window [${hexAddr(this.window.base)}, ${hexAddr(this.window.base + this.window.size)}) of qtest.mmio; make the window larger`);
    }
    this.next = at + size;
    return at;
  }
}

/** Sizes BAR `index` (all-ones write, read back, restore) and places it (PCI Local Bus spec §6.2.5.1). */
export async function assignBar(config: QtestConfig, index: number, alloc: MmioAllocator): Promise<AssignedBar> {
  const off = PCI_BAR0 + 4 * index;
  const where = `${bdfText(config.at)} BAR${index}`;
  const orig = await config.read(off, 32);
  if (orig & 1) throw new QtestError(`${where} is an I/O BAR; expected a memory BAR (docs/amp-bus.md §5.1)`);
  const is64 = ((orig >>> 1) & 3) === 2;
  await config.write(off, 32, 0xffffffff);
  const lo = (await config.read(off, 32)) & 0xfffffff0;
  let hi = 0xffffffff;
  if (is64) {
    await config.write(off + 4, 32, 0xffffffff);
    hi = await config.read(off + 4, 32);
  }
  if (lo === 0 && (!is64 || hi === 0)) throw new QtestError(`${where} is absent (reads 0 after writing all ones); wrong device or profile`);
  const mask = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  const size = (~mask & 0xffffffffffffffffn) + 1n;
  const base = alloc.take(size, where);
  await config.write(off, 32, Number(base & 0xffffffffn));
  if (is64) await config.write(off + 4, 32, Number(base >> 32n));
  const back = (await config.read(off, 32)) & 0xfffffff0;
  if (BigInt(back >>> 0) !== (base & 0xfffffff0n)) throw new QtestError(`${where}: wrote ${hexAddr(base)}, read back ${hexAddr(back >>> 0)}`);
  return { index, base, size, prefetchable: (orig & 8) !== 0, is64 };
}

// ---- doorbell in: polling ------------------------------------------------------------------------

/**
 * MSI-X does not reach a qtest client (docs/amp-bus.md §5.1), so this polls: every `intervalMs` it
 * advances QEMU's virtual clock (so the device's timers run) and reads the device queue's
 * producer index; each change is one ring. Without a source word every poll is a ring.
 */
class ProducerIndexPoll implements DoorbellIn {
  readonly mode = 'poll' as const;
  private readonly listeners = new Set<() => void>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private last: number | undefined;
  private stopped = false;
  polls = 0;
  rings = 0;

  constructor(
    private readonly client: QtestClient,
    private readonly source: { window: MemoryWindow; offset: number; mask: number } | undefined,
    private readonly intervalMs: number,
    private readonly clockStepNs: number,
    private readonly notices: string[],
  ) {
    this.schedule();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.listeners.clear();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      if (this.clockStepNs > 0) await this.client.clockStep(this.clockStepNs).catch((e: unknown) => this.refusedStep(e));
      this.polls++;
      if (!this.source) {
        this.ring();
      } else {
        const { window, offset, mask } = this.source;
        const v = ((await window.load(offset, offset % 4 === 0 ? 32 : 16)) & mask) >>> 0;
        if (v !== this.last) {
          this.last = v;
          this.ring();
        }
      }
    } catch (e) {
      if (!this.stopped) this.notices.push(`polling stopped: ${errorText(e)}`);
      this.stopped = true;
      return;
    }
    this.schedule();
  }

  /** A refused clock_step (machine paused) is not fatal to polling; said once. */
  private refusedStep(e: unknown): void {
    if (!(e instanceof QtestError) || this.client.failed) throw e;
    const text = `clock_step refused (${e.message}); polling continues without advancing virtual time`;
    if (!this.notices.includes(text)) this.notices.push(text);
  }

  private ring(): void {
    this.rings++;
    for (const l of this.listeners) l();
  }
}

// ---- connecting and starting QEMU --------------------------------------------------------------

export interface QtestLinkOptions {
  /** The qtest socket. Absent: start QEMU from the profile's qtest.qemu. */
  socket?: string | undefined;
  /** Listen at `socket` and wait for QEMU to connect (`-qtest unix:PATH`); default: connect to QEMU (`-qtest unix:PATH,server=on`). */
  listen?: boolean | undefined;
  /** File behind guest RAM (memory-backend-file,share=on,mem-path=FILE): guestPhys regions are mapped from it. */
  memFile?: string | undefined;
  /** Use this function instead of searching by the profile's vendor/device. */
  bdf?: string | undefined;
  /** How long to wait for QEMU to connect or accept (default 10 s). */
  connectTimeoutMs?: number | undefined;
}

export interface QtestLink extends BoardLink {
  readonly client: QtestClient;
  readonly fn: PciFunction;
  readonly bars: readonly AssignedBar[];
  readonly notices: readonly string[];
  /** Peer behaviour the link tolerated (the layout published only after connect), for the session's findings. */
  readonly findings: readonly string[];
  /** The QEMU the link started, if it did. */
  readonly qemu: ChildProcess | null;
  /** Polls made and rings seen by the doorbell-in poller. */
  pollStats(): { polls: number; rings: number };
}

function connectTo(path: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new QtestError(`no answer from ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const hint =
        e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
          ? `; is QEMU running with -qtest unix:${path},server=on,wait=off? (or use qtest:${path},listen and start QEMU with -qtest unix:${path})`
          : '';
      reject(new QtestError(`cannot connect to the qtest socket ${path}: ${describeFailure(e).text}${hint}`));
    });
  });
}

/** Listens at `path` for QEMU's one connection; `gaveUp` (QEMU exited) ends the wait early. */
function acceptFrom(path: string, timeoutMs: number, gaveUp: Promise<string>): Promise<Socket> {
  try {
    unlinkSync(path);
  } catch {
    // no stale socket
  }
  return new Promise((resolve, reject) => {
    const server = createServer();
    const done = (err: Error | null, socket?: Socket) => {
      clearTimeout(timer);
      server.close();
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
      if (err) reject(err);
      else resolve(socket!);
    };
    const timer = setTimeout(() => done(new QtestError(`QEMU did not connect to ${path} within ${timeoutMs} ms; start it with -qtest unix:${path} -accel qtest`)), timeoutMs);
    server.once('connection', (s) => done(null, s));
    server.once('error', (e) => done(new QtestError(`cannot listen at ${path}: ${describeFailure(e).text}`)));
    void gaveUp.then((why) => done(new QtestError(`QEMU did not connect to ${path}: ${why}`)));
    server.listen(path);
  });
}

/** A started QEMU: why it ended (once it did) and its last stderr. */
function startQemu(binary: string, args: readonly string[], socket: string): { child: ChildProcess; exited: Promise<string> } {
  // Without -qtest-log QEMU logs every qtest exchange to stderr, burying its own messages.
  const child = spawn(binary, [...args, '-qtest', `unix:${socket}`, '-qtest-log', 'none', '-accel', 'qtest'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (t: string) => {
    stderr = (stderr + t).slice(-2000);
  });
  const exited = new Promise<string>((resolve) => {
    const tail = () => (stderr.trim() ? `; its stderr ends: ${stderr.trim().split('\n').slice(-3).join(' / ')}` : '');
    child.once('error', (e: NodeJS.ErrnoException) => resolve(`cannot start ${binary}: ${e.code === 'ENOENT' ? 'no such program (give its full path, or put it on PATH)' : describeFailure(e).text}`));
    child.once('exit', (code, signal) => resolve(`QEMU (pid ${child.pid}) exited ${signal ? `on signal ${signal}` : `with code ${code}`}${tail()}`));
  });
  return { child, exited };
}

function fail(message: string): never {
  throw new QtestError(message);
}

type Region = BoardProfile['regions'][number];

/** Opens QEMU's virtio-msg-amp-pci through qtest as the profile describes. Errors are QtestError with what to try. */
export async function openQtestLink(profile: BoardProfile, opts: QtestLinkOptions = {}): Promise<QtestLink> {
  const q = profile.qtest;
  if (!q) fail(`board ${profile.id} has no qtest section; the qtest link needs at least qtest.mmio (the window it assigns BARs from)`);
  const connectMs = opts.connectTimeoutMs ?? 10_000;
  const notices: string[] = [];

  // 1. The socket: connect to a QEMU that listens, listen for one that connects, or start one.
  let qemu: { child: ChildProcess; exited: Promise<string> } | null = null;
  let tmp: string | undefined;
  let socket: Socket;
  let where: string;
  if (opts.socket !== undefined) {
    where = opts.socket;
    socket = opts.listen ? await acceptFrom(where, connectMs, new Promise(() => undefined)) : await connectTo(where, connectMs);
  } else {
    if (!q.qemu) fail(`board ${profile.id}: give the qtest socket (--link qtest:PATH) or a QEMU to start (qtest.qemu in the profile)`);
    tmp = mkdtempSync(join(tmpdir(), 'amp-qtest-'));
    where = join(tmp, 'qtest.sock');
    const started = startQemu(q.qemu.binary, q.qemu.args, where);
    qemu = started;
    try {
      socket = await acceptFrom(where, connectMs, started.exited);
    } catch (e) {
      started.child.kill();
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }
  const exited = qemu?.exited;
  const client = new QtestClient(socket, {
    where,
    ...(q.commandTimeoutMs !== undefined ? { commandTimeoutMs: q.commandTimeoutMs } : {}),
    // The socket usually closes a moment before the exit is reported: wait briefly for the reason.
    ...(exited ? { explainClose: () => Promise.race([exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 500))]) } : {}),
  });
  if (qemu) void qemu.exited.then((why) => client.fail(why));

  const mappings: NativeMapping[] = [];
  // A mem=FILE mapping that shrinks under the session (QEMU gone, its file truncated) loses the link too.
  const mapped = watchMappings();
  let poll: ProducerIndexPoll | undefined;
  let closed = false;
  const closeAll = () => {
    if (closed) return;
    closed = true;
    poll?.close();
    client.close();
    for (const m of mappings) m.unmap();
    qemu?.child.kill();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  };
  return ownedLink(closeAll, async () => {
    // 2. The function, its BARs, memory decoding and bus mastering (what firmware and the guest's driver would do).
    const how: ConfigAccess = q.configAccess === 'ecam' ? { kind: 'ecam', base: q.ecamBase ?? 0n } : { kind: 'cf8' };
    const all = await scanBus0(client, how);
    const picked = pickPciFunction(
      all.map((f) => f.fn),
      { vendor: profile.pci?.vendor, device: profile.pci?.device, bdf: opts.bdf ?? profile.pci?.bdf },
      `bus 0 has no PCI functions (config access ${how.kind}: is the machine ${how.kind === 'cf8' ? 'an x86 pc/q35' : 'one with ECAM at qtest.ecamBase'}?)`,
    );
    if (!picked.ok) fail(`board ${profile.id}: ${picked.error}`);
    const fn = picked.value;
    const config = all.find((f) => f.fn.bdf === fn.bdf)!.config;
    const command = await config.read(PCI_COMMAND, 16);
    if (command & PCI_COMMAND_MEMORY) await config.write(PCI_COMMAND, 16, command & ~PCI_COMMAND_MEMORY);
    const alloc = new MmioAllocator(q.mmio);
    const bars: AssignedBar[] = [];
    const barIndexes = [...new Set(profile.regions.flatMap((r) => ('pciBar' in r.source ? [r.source.pciBar] : [])))].sort();
    for (const index of barIndexes) bars.push(await assignBar(config, index, alloc));
    const set = (profile.pci?.enableMemory === false ? 0 : PCI_COMMAND_MEMORY) | (profile.pci?.enableBusMaster === false ? 0 : PCI_COMMAND_MASTER);
    await config.write(PCI_COMMAND, 16, (command & ~PCI_COMMAND_MEMORY) | set);

    // 3. Windows: BARs and guest RAM over qtest, or guest RAM mapped from its shared file.
    const windows = new Map<string, MemoryWindow>();
    let ramMapped = false;
    for (const region of profile.regions) {
      windows.set(region.name, regionWindow(region, client, bars, opts.memFile, q.ramFileBase ?? 0n, mappings, mapped.onGone));
      if ('guestPhys' in region.source && opts.memFile) ramMapped = true;
    }
    const bar0 = bars.find((b) => b.index === 0);
    if (bar0 && fn.vendor === 0x10ee && fn.device === 0x9039) {
      const version = (await client.readMem(bar0.base + BigInt(AMP_PCI_VERSION), 32)) as number;
      if (version !== 1) notices.push(`BAR0 VERSION reads ${hexNum(version)}; docs/amp-bus.md §5.1 expects 1 — a newer model may lay out its queues differently`);
    }
    if (profile.regions.some((r) => 'guestPhys' in r.source) && !ramMapped) {
      notices.push('guest RAM is read and written through qtest commands; for speed give its shared file (memory-backend-file,share=on) with --link qtest:PATH,mem=FILE');
    }

    // 4. Doorbells: the profile's register store out; polling in (MSI-X is not delivered over qtest).
    const doorbellOut = openDoorbellOut(profile, windows);
    let spec: BoardProfile['doorbellIn'] | undefined = profile.doorbellIn;
    while (spec && spec.kind !== 'poll') spec = spec.fallback;
    const source = spec?.source ?? profile.doorbellIn.source;
    const sourceWindow = source ? windows.get(source.region) : undefined;
    if (source && !sourceWindow) fail(`doorbellIn.source.region: expected one of the regions (${[...windows.keys()].join(', ')}), saw "${source.region}"`);
    const intervalMs = spec?.pollIntervalMs ?? 1;
    poll = new ProducerIndexPoll(client, source && sourceWindow ? { window: sourceWindow, offset: source.offset, mask: source.mask } : undefined, intervalMs, q.clockStepNs ?? 0, notices);
    notices.push(
      `device-to-driver notifications are MSI-X, which qtest does not deliver: polling ${source ? `the device queue's producer index (${source.region}+${hexNum(source.offset)})` : 'the device queue'} every ${intervalMs} ms${q.clockStepNs ? `, advancing QEMU's virtual clock ${q.clockStepNs} ns per poll` : ''}`,
    );

    const { busWindow, dataWindow, dataPeerBase } = profileWindows(profile, (name) => windows.get(name)!);
    const findings: string[] = [];
    if (profile.bus.format === 'vmamp-shmem-v1') {
      const late = await awaitLayoutMagic(busWindow, profile, intervalMs);
      if (late) findings.push(late);
    }
    const barText = bars.map((b) => `BAR${b.index} ${hexAddr(b.base)}`).join(', ');
    const p = poll;
    return {
      description: `${profile.id} through qtest ${where} (${describeFunction(fn)}; ${barText}; polling)`,
      client,
      fn,
      bars,
      notices,
      findings,
      qemu: qemu?.child ?? null,
      busWindow,
      dataWindow,
      dataPeerBase,
      doorbellOut,
      doorbellIn: p,
      lost: Promise.race([mapped.lost, new Promise<string>((resolve) => client.onFail((e) => resolve(e.message)))]),
      pollStats: () => ({ polls: p.polls, rings: p.rings }),
    };
  });
}

/**
 * QEMU writes its vmamp layout some time after the machine is created, and under qtest only as
 * virtual time advances (the poller steps it): poll the magic (docs/amp-bus.md §4.2, driver step 1).
 * Returns a finding when it was absent at first; a magic that never comes is an error.
 */
async function awaitLayoutMagic(bus: MemoryWindow, profile: BoardProfile, pollMs: number): Promise<string | null> {
  const limitMs = profile.bus.timeouts?.layoutMs ?? 10_000;
  const start = performance.now();
  const first = await bus.load(0, 16);
  if (first === VMAMP_LAYOUT_MAGIC) return null;
  for (let seen = first; ; seen = await bus.load(0, 16)) {
    const waited = Math.round(performance.now() - start);
    if (seen === VMAMP_LAYOUT_MAGIC) {
      return `layout magic at ${profile.bus.region}+${hexNum(profile.bus.offset)} read ${hexNum(first, 4)} at connect and ${hexNum(VMAMP_LAYOUT_MAGIC, 4)} ${waited} ms later: QEMU's virtio-msg-amp-pci publishes its layout after the machine is created; polled for it`;
    }
    if (waited >= limitMs) {
      fail(`layout magic at ${profile.bus.region}+${hexNum(profile.bus.offset)} still ${hexNum(seen, 4)} after ${waited} ms, expected ${hexNum(VMAMP_LAYOUT_MAGIC, 4)}: is this the vmamp-shmem-v1 model (docs/amp-bus.md §5.1 G3)? A spsc-v1 (G2) model has no layout header`);
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

function regionWindow(
  region: Region,
  client: QtestClient,
  bars: readonly AssignedBar[],
  memFile: string | undefined,
  ramFileBase: bigint,
  mappings: NativeMapping[],
  onGone: (e: MappingGoneError) => void,
): MemoryWindow {
  const src = region.source;
  if ('pciBar' in src) {
    const bar = bars.find((b) => b.index === src.pciBar)!;
    if (BigInt(region.size) > bar.size) fail(`region "${region.name}": BAR${bar.index} is ${hexNum(bar.size)} bytes, the profile needs ${hexNum(region.size)}: wrong device or a wrong profile`);
    return new QtestWindow(client, bar.base, region.size);
  }
  if ('guestPhys' in src) {
    if (!memFile) return new QtestWindow(client, src.guestPhys, region.size);
    const offset = src.guestPhys - ramFileBase;
    if (offset < 0n) fail(`region "${region.name}": guest-physical ${hexAddr(src.guestPhys)} is below qtest.ramFileBase ${hexAddr(ramFileBase)}`);
    return mapFile(region, memFile, Number(offset), mappings, onGone);
  }
  if ('file' in src) return mapFile(region, src.file, src.offset ?? 0, mappings, onGone);
  return fail(`region "${region.name}": source ${JSON.stringify(Object.keys(src)[0])} cannot be reached over qtest; expected pciBar, guestPhys or file`);
}

function mapFile(region: Region, path: string, offset: number, mappings: NativeMapping[], onGone: (e: MappingGoneError) => void): MemoryWindow {
  const native = loadNative();
  if (!native.ok) fail(`region "${region.name}": mapping ${path} needs the native addon: ${native.error}`);
  let mapping: NativeMapping;
  try {
    mapping = native.value.map(path, offset, region.size);
  } catch (e) {
    fail(`region "${region.name}": cannot map ${hexNum(region.size)} bytes of ${path} at ${hexNum(offset)}: ${systemErrorText(e)}; is it QEMU's mem-path file with share=on, and is qtest.ramFileBase right?`);
  }
  mappings.push(mapping);
  return new NativeWindow(mapping, 0, mapping.size, onGone);
}
