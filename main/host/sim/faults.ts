/**
 * A misbehaving board: the simulated device side (`amp-workbench sim --shm FILE`) with faults
 * injected where real firmware goes wrong, so bring-up engineers (and the tests) see what the
 * workbench says about each. `--fault NAME[=ARG][@WHEN][,…]`; FAULTS below is the one list.
 *
 * Two kinds of fault:
 * - 'send' faults sit in the device's send path (SimBoardOptions.sendThrough) and change every
 *   message they apply to: with `@N` each message from the (N+1)th the board publishes on, with
 *   `@NAME` each message named NAME (a response or event the board sends);
 * - 'once' faults act once, right after the triggering message was published: the Nth message
 *   (`@N`; `@0` as soon as the driver attached) or the first one named NAME.
 *
 * Memory faults (index, head) need a vmamp-shmem-v1 bus: the board's queue head is where QEMU
 * and Linux put it (docs/amp-bus.md §4.2). Header rewrites need an 8-byte R3/R4 header.
 */
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';

import type { BoardProfile } from '../../../src/api/boardProfile';
import type { WireMessage } from '../../../src/bus/endpoint';
import { QH, VMAMP_FIELD, VMAMP_HEADER_SIZE, VMAMP_STATUS, validateVmampLayout, vmampStatusName, type VmampLayout } from '../../../src/bus/formats/vmamp';
import type { MemoryWindow } from '../../../src/bus/window';
import { decode, decodeHeader, encode, fieldBytes, fieldNumber as n, HEADER_SIZE, lookupMessage, MESSAGES } from '../../../src/protocol/index';
import type { Revision } from '../../../src/protocol/types';
import type { SimBoard } from '../../../src/sim/board';
import { qemuGetDevicesAnswer } from '../../../src/sim/qemuGetDevices';
import { toHex } from '../../../src/util/hex';
import type { ShmBoardOptions, ShmBoardSide } from './shmBoard';
import { ok, type Result } from '../../../src/util/result';

type Trigger = { after: number } | { on: string };

interface FaultSpec {
  kind: 'send' | 'once';
  /** What the board does wrong, for `sim --help` and the README. */
  does: string;
  /**
   * The argument after `=`: what it is, its default (null: computed from the message or the
   * layout, `shown` says how) and how the default reads in the help; absent when the fault takes none.
   */
  arg?: { what: string; parse: (text: string) => number | null; fallback: number | null; shown?: string };
  when: Trigger;
  /** Needs a vmamp-shmem-v1 bus (writes the board's queue head). */
  vmamp?: true;
}

const uint = (max: number) => (text: string): number | null => (/^(0x[0-9a-f]+|\d+)$/i.test(text) && Number(text) <= max ? Number(text) : null);
const HEAD_STATES: Record<string, number> = { INIT: VMAMP_STATUS.INIT, SHUTDOWN: VMAMP_STATUS.SHUTDOWN, PEER_DEAD: VMAMP_STATUS.PEER_DEAD };
/** Mid-session by default: once the workloads run. */
const MID_SESSION: Trigger = { on: 'EVENT_USED' };
const FROM_START: Trigger = { after: 0 };

export const FAULTS = {
  'size-over': { kind: 'send', does: 'msg_size larger than the queue slot (the bytes stay as they were)', arg: { what: 'msg_size', parse: uint(0xffff), fallback: null, shown: 'slot size + 4' }, when: FROM_START },
  'size-under': { kind: 'send', does: 'msg_size smaller than the 8-byte header', arg: { what: 'msg_size', parse: uint(7), fallback: 6 }, when: FROM_START },
  'size-short': {
    kind: 'send',
    does: 'msg_size shorter than the message layout, the message cut there (GET_DEVICE_FEATURES 20 for its 24 bytes)',
    arg: { what: 'msg_size', parse: uint(0xffff), fallback: null, shown: '4 bytes short' },
    when: { on: 'GET_DEVICE_FEATURES' },
  },
  'wrong-dev': { kind: 'send', does: 'transport responses name another dev_num, with the right token', arg: { what: 'dev_num', parse: uint(0xffff), fallback: null, shown: 'the right one + 1' }, when: FROM_START },
  'wrong-token': { kind: 'send', does: 'responses carry another token than the request’s', arg: { what: 'token', parse: uint(0xffff), fallback: null, shown: 'the right one xor 0x8000' }, when: FROM_START },
  duplicate: { kind: 'send', does: 'every response sent twice', when: FROM_START },
  stale: { kind: 'send', does: 'a copy of the previous response sent before each real one', when: FROM_START },
  late: { kind: 'send', does: 'responses sent this long after they were ready (past the driver’s timeout)', arg: { what: 'delay in ms', parse: uint(600_000), fallback: 2000 }, when: { on: 'GET_CONFIG' } },
  torn: { kind: 'send', does: 'the index published when only the slot’s first 4 bytes are written (the rest reads 0)', when: MID_SESSION },
  'bad-used': {
    kind: 'send',
    does: 'before EVENT_USED, the newest used-ring entry gets an id past the queue size or a len of 1 MiB',
    arg: { what: '0 = id out of range, 1 = len larger than the buffer', parse: uint(1), fallback: 0 },
    when: MID_SESSION,
  },
  'ghost-devices': { kind: 'send', does: 'GET_DEVICES advertises this many devices; only the real ones answer', arg: { what: 'device count', parse: uint(0xffff), fallback: 1000 }, when: { on: 'GET_DEVICES' } },
  'next-offset-loop': { kind: 'send', does: 'GET_DEVICES always answers this next_offset, so the walk cannot get past it', arg: { what: 'next_offset', parse: uint(0xffff), fallback: 8 }, when: { on: 'GET_DEVICES' } },
  'qemu-get-devices': {
    kind: 'send',
    does: 'GET_DEVICES answered as QEMU’s virtio-msg-amp-pci does: num = MAX(count, 32), msg_size = 14 + num, token 0, next_offset 0, stack bytes past its 4-byte bitmap array as far as its 48-byte message reaches (R3)',
    when: { on: 'GET_DEVICES' },
  },
  'index-range': { kind: 'once', does: 'the board’s producer index set outside the ring, then nothing more sent', arg: { what: 'index value', parse: uint(0xffff), fallback: null, shown: 'N + 5' }, when: MID_SESSION, vmamp: true },
  'index-back': { kind: 'once', does: 'the board’s producer index moved back this many slots, then nothing more sent', arg: { what: 'slots', parse: uint(0xffff), fallback: 1 }, when: MID_SESSION, vmamp: true },
  head: {
    kind: 'once',
    does: 'the board’s queue head status changes, then nothing more sent',
    arg: { what: 'INIT, SHUTDOWN or PEER_DEAD', parse: (t) => HEAD_STATES[t.toUpperCase()] ?? null, fallback: VMAMP_STATUS.SHUTDOWN, shown: 'SHUTDOWN' },
    when: MID_SESSION,
    vmamp: true,
  },
  die: { kind: 'once', does: 'the board process is killed (SIGKILL): no cleanup, file and socket left behind', when: MID_SESSION },
  'socket-close': { kind: 'once', does: 'the doorbell socket closed; the process lives on and serves nothing', when: MID_SESSION },
  truncate: {
    kind: 'once',
    does: 'once the driver read everything published, the shared file truncated to this size and the board stops',
    arg: { what: 'file size in bytes', parse: uint(Number.MAX_SAFE_INTEGER), fallback: 0x1000, shown: '4096, the header page' },
    when: MID_SESSION,
  },
  'needs-reset': { kind: 'once', does: 'DEVICE_NEEDS_RESET set in the device status, announced with EVENT_CONFIG', arg: { what: 'dev_num', parse: uint(0xffff), fallback: 0 }, when: MID_SESSION },
  'event-flood': { kind: 'once', does: 'this many EVENT_USED for dev_num 0 queue 0 with nothing new in the used ring', arg: { what: 'count', parse: uint(1_000_000), fallback: 1000 }, when: MID_SESSION },
  'doorbell-flood': { kind: 'once', does: 'the driver’s doorbell rung this many times with nothing queued', arg: { what: 'count', parse: uint(1_000_000), fallback: 1000 }, when: MID_SESSION },
} satisfies Record<string, FaultSpec>;

export type FaultName = keyof typeof FAULTS;

export interface Fault {
  name: FaultName;
  /** The argument given, or null for the fault's default (FAULTS; some depend on the message or the layout). */
  arg: number | null;
  when: Trigger;
}

const SPECS: Readonly<Record<FaultName, FaultSpec>> = FAULTS;

/** The argument of a fault whose default is fixed in FAULTS. */
function argOf(f: Fault): number {
  return f.arg ?? SPECS[f.name].arg?.fallback ?? 0;
}

function describeTrigger(t: Trigger): string {
  return 'after' in t ? `@${t.after}` : `@${t.on}`;
}

/** `sim --fault help`: the syntax, then one line per fault with its argument and default trigger. */
export function faultHelp(): string {
  const head =
    'sim --fault NAME[=ARG][@N|@MESSAGE][,…]: @N after the board published N messages, @MESSAGE on a message it sends (a response or event name).\n' +
    '"each message" faults change every message they apply to from the trigger on; "once" faults act once, right after it.';
  const lines = (Object.keys(SPECS) as FaultName[])
    .map((k) => {
      const s = SPECS[k];
      return `  ${k}${s.arg ? '[=ARG]' : ''} (${s.kind === 'send' ? 'each message' : 'once'}, default ${describeTrigger(s.when)}): ${s.does}${s.arg ? `; ARG: ${s.arg.what} (default ${s.arg.shown ?? String(s.arg.fallback)})` : ''}`;
    });
  return [head, ...lines].join('\n');
}

/** Parses `NAME[=ARG][@N|@MESSAGE][,…]` against the board it will run on. */
export function parseFaults(text: string, profile: BoardProfile): Result<Fault[]> {
  const rev = profile.bus.revision;
  if (rev !== 'r3' && rev !== 'r4') return { ok: false, error: `--fault needs a board speaking virtio-msg r3 or r4 (8-byte header with token); ${profile.id} speaks ${rev}` };
  const faults: Fault[] = [];
  for (const item of text.split(',').map((s) => s.trim()).filter((s) => s.length > 0)) {
    const m = /^([a-z-]+)(?:=([^@]+))?(?:@(.+))?$/.exec(item);
    const name = m?.[1] as FaultName | undefined;
    if (!m || !name || !(name in SPECS)) return { ok: false, error: `--fault "${item}": expected NAME[=ARG][@N|@MESSAGE] with NAME one of ${Object.keys(SPECS).join(', ')}` };
    const spec = SPECS[name];
    let arg: number | null = null;
    if (m[2] !== undefined) {
      if (!spec.arg) return { ok: false, error: `--fault ${name} takes no argument, saw "=${m[2]}"` };
      arg = spec.arg.parse(m[2]);
      if (arg === null) return { ok: false, error: `--fault ${name}=${m[2]}: expected ${spec.arg.what}` };
    }
    let when = spec.when;
    if (m[3] !== undefined) {
      const at = m[3];
      if (/^\d+$/.test(at)) when = { after: Number(at) };
      else if (MESSAGES[rev].some((d) => d.name === at)) when = { on: at };
      else return { ok: false, error: `--fault ${item}: after @ expected a message count (e.g. @20) or the name of a ${rev} message the board sends (e.g. @EVENT_USED), saw "${at}"` };
    }
    if (spec.vmamp && profile.bus.format !== 'vmamp-shmem-v1') return { ok: false, error: `--fault ${name} writes the board's vmamp-shmem-v1 queue head; ${profile.id} uses ${profile.bus.format}` };
    if (name === 'qemu-get-devices' && rev !== 'r3') return { ok: false, error: `--fault qemu-get-devices plays QEMU's R3 model; ${profile.id} speaks ${rev} (try --board sim-versal)` };
    faults.push({ name, arg, when });
  }
  if (faults.length === 0) return { ok: false, error: '--fault needs at least one fault' };
  return { ok: true, value: faults };
}

/** What `sim` adds to its options (main/host/cli/sim.ts). */
export const FAULT_OPTIONS = { fault: { type: 'string' }, published: { type: 'string' } } as const;

/**
 * From `sim --fault … --published FILE`: the fault layer to hand to runSimOnShmFile
 * (`board.shmOptions`), null when neither option is given, or the usage error.
 */
export function faultyBoardFromArgs(
  values: { fault?: string | undefined; published?: string | undefined },
  profile: BoardProfile,
  filePath: string,
  log: (text: string) => void,
): Result<FaultyBoard | null> {
  if (values.fault === undefined && values.published === undefined) return { ok: true, value: null };
  const parsed = values.fault === undefined ? ok<Fault[]>([]) : parseFaults(values.fault, profile);
  if (!parsed.ok) return parsed;
  return { ok: true, value: new FaultyBoard({ profile, filePath, faults: parsed.value, log, ...(values.published !== undefined ? { publishedPath: values.published } : {}) }) };
}

const BAD_USED_LEN = 0x10_0000;
const TOKEN_OFFSET = 4;
const MSG_SIZE_OFFSET = 6;
const DEV_NUM_OFFSET = 2;
/** How long a truncation or an out-of-range index waits for the driver to read what was published. */
const TRUNCATE_DRAIN_MS = 2000;

interface Attached {
  board: SimBoard;
  side: ShmBoardSide;
}

export interface FaultyBoardOptions {
  profile: BoardProfile;
  filePath: string;
  faults: Fault[];
  /** JSONL file: one line per message the board published or received. */
  publishedPath?: string;
  log: (text: string) => void;
}

const u16 = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8);
function withU16(b: Uint8Array, at: number, v: number): Uint8Array {
  const c = new Uint8Array(b);
  c[at] = v & 0xff;
  c[at + 1] = (v >>> 8) & 0xff;
  return c;
}

/**
 * The fault layer of one simulated board: pass `sendThrough`, `onMessage` and `onAttached` to
 * runSimOnShmFile. It counts and logs every message the board publishes and receives.
 */
export class FaultyBoard {
  private readonly rev: Revision;
  private readonly fired = new Set<Fault>();
  private readonly namesSent = new Set<string>();
  private readonly queues = new Map<string, { size: number; device: bigint }>();
  private logFd: number | null;
  private published = 0;
  private seq = 0;
  private previousResponse: Uint8Array | null = null;
  /** Set by faults after which a real board sends nothing more (its queue is broken or stopped). */
  private silent: string | null = null;
  private attached: Attached | null = null;
  /** The workbench's queue head had left RUN when the message being sent was published. */
  private driverGone = false;
  private layout: VmampLayout | null = null;

  constructor(private readonly opts: FaultyBoardOptions) {
    this.rev = opts.profile.bus.revision as Revision;
    this.logFd = opts.publishedPath ? openSync(opts.publishedPath, 'w') : null;
  }

  /** Every message the board's endpoint placed or read: counted, named, logged (synchronously, so a killed board loses nothing). */
  readonly onMessage = (m: WireMessage): void => {
    if (this.logFd !== null) {
      const gone = m.direction === 'device-to-driver' && this.driverGone ? { afterDriverLeft: true } : {};
      writeSync(this.logFd, JSON.stringify({ seq: this.seq++, direction: m.direction, bytes: toHex(m.bytes).replaceAll(' ', ''), ...gone }) + '\n');
    }
    if (m.direction === 'driver-to-device') return this.noteRequest(m.bytes);
    this.published++;
    const h = decodeHeader(m.bytes, this.rev);
    if (h) this.namesSent.add(lookupMessage(this.rev, h.bus, h.msgId).name);
  };

  /** What runSimOnShmFile takes to run the board through this layer. */
  get shmOptions(): Pick<ShmBoardOptions, 'sendThrough' | 'onMessage' | 'onAttached'> {
    return { sendThrough: this.sendThrough, onMessage: this.onMessage, onAttached: this.onAttached };
  }

  readonly onAttached = (board: SimBoard, side: ShmBoardSide): void => {
    this.attached = { board, side };
    void this.fireDue();
  };

  readonly sendThrough = async (bytes: Uint8Array, send: (bytes: Uint8Array) => Promise<boolean>): Promise<void> => {
    if (this.silent) return; // said once, when the fault fired
    const h = decodeHeader(bytes, this.rev);
    const name = h ? lookupMessage(this.rev, h.bus, h.msgId).name : '';
    let out: Uint8Array[] = [bytes];
    for (const f of this.opts.faults) {
      if (SPECS[f.name].kind !== 'send' || !this.applies(f, name)) continue;
      out = (await Promise.all(out.map((b) => this.transform(f, b)))).flat();
    }
    for (const b of out) {
      if (this.silent) break;
      await this.publish(b, send);
    }
    if (h?.kind === 'response') this.previousResponse = bytes;
    await this.fireDue();
  };

  close(): void {
    if (this.logFd !== null) closeSync(this.logFd);
    this.logFd = null;
  }

  /**
   * Puts one message on the bus, noting whether the workbench had already left (its queue head
   * no longer RUN): a capture cannot hold what the board sent after the session ended.
   */
  private async publish(b: Uint8Array, send: (bytes: Uint8Array) => Promise<boolean>): Promise<boolean> {
    const bus = this.attached?.side.shm.busWindow;
    if (bus && this.opts.profile.bus.format === 'vmamp-shmem-v1') {
      const layout = await this.layoutOf(bus);
      this.driverGone = vmampStatusName(await bus.load(layout.drvQueueHead + QH.status, 16)) !== 'RUN';
    }
    return send(b);
  }

  /** The board's vmamp layout (read once: the board wrote it and does not change it). */
  private async layoutOf(bus: MemoryWindow): Promise<VmampLayout> {
    if (this.layout) return this.layout;
    const l = validateVmampLayout(await bus.read(VMAMP_FIELD.magic, VMAMP_HEADER_SIZE), bus.size);
    if (!l.ok) throw new Error(`the board's own vmamp layout does not validate: ${l.error.reason}`);
    return (this.layout = l.value);
  }

  /** The device queue's slot size; before the board is up, the bus maximum it cannot exceed. */
  private get slotSize(): number {
    return this.attached?.board.slotSize ?? this.opts.profile.bus.maxMessageSize;
  }

  private applies(f: Fault, name: string): boolean {
    return 'after' in f.when ? this.published >= f.when.after : name === f.when.on;
  }

  private noteRequest(bytes: Uint8Array): void {
    const { msg } = decode(bytes, this.rev, { direction: 'driver-to-device' });
    if (msg?.name !== 'SET_VQUEUE') return;
    this.queues.set(`${msg.devNum}/${n(msg.fields, 'index')}`, { size: n(msg.fields, 'size'), device: msg.fields['device_addr'] as bigint });
  }

  /** One message through one send fault: what goes on the bus instead (none, one or several). */
  private async transform(f: Fault, b: Uint8Array): Promise<Uint8Array[]> {
    const h = decodeHeader(b, this.rev);
    if (!h) return [b];
    const response = h.kind === 'response';
    switch (f.name) {
      case 'size-over':
        return [withU16(b, MSG_SIZE_OFFSET, f.arg ?? this.slotSize + 4)];
      case 'size-under':
        return [withU16(b, MSG_SIZE_OFFSET, argOf(f))];
      case 'size-short': {
        const size = Math.max(HEADER_SIZE[this.rev], Math.min(b.length, f.arg ?? b.length - 4));
        return [withU16(b.subarray(0, size), MSG_SIZE_OFFSET, size)];
      }
      case 'wrong-dev':
        return response && !h.bus ? [withU16(b, DEV_NUM_OFFSET, f.arg ?? (h.devNum + 1) & 0xffff)] : [b];
      case 'wrong-token':
        return response ? [withU16(b, TOKEN_OFFSET, f.arg ?? h.token ^ 0x8000)] : [b];
      case 'duplicate':
        return response ? [b, b] : [b];
      case 'stale':
        return response && this.previousResponse ? [this.previousResponse, b] : [b];
      case 'late':
        if (!response) return [b];
        // Not keeping the process up: a board told to stop does not answer later.
        setTimeout(() => void this.sendLate(b), argOf(f)).unref();
        return [];
      case 'torn': {
        const torn = new Uint8Array(b.length);
        torn.set(b.subarray(0, 4));
        return [torn];
      }
      case 'bad-used':
        if (h.kind === 'event' && lookupMessage(this.rev, h.bus, h.msgId).name === 'EVENT_USED') await this.corruptUsed(h.devNum, u16(b, HEADER_SIZE[this.rev]), argOf(f));
        return [b];
      case 'ghost-devices':
      case 'next-offset-loop':
        return response && h.bus ? [this.rewriteGetDevices(f, b)] : [b];
      case 'qemu-get-devices':
        return response && h.bus ? [this.qemuGetDevices(b)] : [b];
      default:
        return [b];
    }
  }

  private async sendLate(b: Uint8Array): Promise<void> {
    const a = this.attached;
    if (!a || this.silent) return;
    await this.publish(b, async (bytes) => {
      const r = await a.board.endpoint.send(bytes);
      if (!r.ok) this.opts.log(`late response not sent: ${r.error.message}`);
      return r.ok;
    });
  }

  private rewriteGetDevices(f: Fault, b: Uint8Array): Uint8Array {
    const { msg } = decode(b, this.rev, { direction: 'device-to-driver' });
    if (msg?.name !== 'GET_DEVICES') return b;
    const offset = n(msg.fields, 'offset');
    const count = n(msg.fields, 'count');
    let next = n(msg.fields, 'next_offset');
    const bitmap = new Uint8Array(fieldBytes(msg.fields, 'bitmap'));
    if (f.name === 'ghost-devices') {
      const total = argOf(f);
      for (let i = 0; i < count && offset + i < total; i++) bitmap[i >> 3]! |= 1 << (i & 7);
      if (offset + count < total) next = offset + count;
    } else next = argOf(f);
    return encode(this.rev, { name: 'GET_DEVICES', kind: 'response', devNum: 0, token: msg.token, fields: { offset, count, next_offset: next, bitmap } });
  }

  /** The board's GET_DEVICES answer as QEMU's model gives it (src/sim/qemuGetDevices.ts), for the board's own devices. */
  private qemuGetDevices(b: Uint8Array): Uint8Array {
    const { msg } = decode(b, this.rev, { direction: 'device-to-driver' });
    if (msg?.name !== 'GET_DEVICES') return b;
    return qemuGetDevicesAnswer(n(msg.fields, 'offset'), n(msg.fields, 'count'), fieldBytes(msg.fields, 'bitmap'));
  }

  /** The newest used-ring entry of the queue (split ring: flags, idx, then {id, len} entries). */
  private async corruptUsed(devNum: number, index: number, what: number): Promise<void> {
    const q = this.queues.get(`${devNum}/${index}`);
    const a = this.attached;
    if (!q || !a) return;
    const mem = a.side.shm.dataWindow;
    const base = Number(q.device - this.opts.profile.dataMemory.peerBase);
    const idx = await mem.load(base + 2, 16);
    const entry = base + 4 + 8 * ((idx + 0xffff) % 0x10000 % q.size);
    if (what === 0) await mem.store(entry, 32, q.size + 7);
    else await mem.store(entry + 4, 32, BAD_USED_LEN);
    this.opts.log(`fault bad-used: dev_num ${devNum} queue ${index} used entry at ${entry}: ${what === 0 ? `id ${q.size + 7} (size ${q.size})` : `len ${BAD_USED_LEN}`}`);
  }

  /** Fires the once-faults whose trigger has been met. */
  private async fireDue(): Promise<void> {
    const a = this.attached;
    if (!a) return;
    for (const f of this.opts.faults) {
      if (SPECS[f.name].kind !== 'once' || this.fired.has(f)) continue;
      const due = 'after' in f.when ? this.published >= f.when.after : this.namesSent.has(f.when.on);
      if (!due) continue;
      this.fired.add(f);
      this.opts.log(`fault ${f.name}${f.arg === null ? '' : `=${f.arg}`} after ${this.published} messages published`);
      await this.fire(f, a);
      if (this.silent) this.opts.log(`sends nothing more: ${this.silent}`);
    }
  }

  private async fire(f: Fault, { board, side }: Attached): Promise<void> {
    const bus = side.shm.busWindow;
    switch (f.name) {
      case 'index-range': {
        const layout = await this.layoutOf(bus);
        this.silent = 'the producer index is broken';
        // Only once the driver read what was published: a message whose index was in memory only
        // until the next store cannot be read by any consumer, so no capture could hold it.
        await this.waitUntilRead(bus);
        await this.moveProducer(bus, layout, () => f.arg ?? layout.numElements + 5);
        return side.doorbells.doorbellOut.ring();
      }
      case 'index-back': {
        const layout = await this.layoutOf(bus);
        this.silent = 'the producer index moved back';
        await this.moveProducer(bus, layout, (tail) => (tail - argOf(f) + layout.numElements * 0x10000) % layout.numElements);
        return side.doorbells.doorbellOut.ring();
      }
      case 'head': {
        const layout = await this.layoutOf(bus);
        this.silent = 'the queue head left RUN';
        await bus.store(layout.devQueueHead + QH.status, 16, argOf(f));
        await side.doorbells.doorbellOut.ring();
        return;
      }
      case 'die':
        // The log is on disk already (written as each message went); nothing else is cleaned up.
        process.kill(process.pid, 'SIGKILL');
        return;
      case 'socket-close':
        this.silent = 'the doorbell socket is closed';
        board.close();
        side.doorbells.close();
        return;
      case 'truncate': {
        this.silent = 'the shared file is truncated';
        await this.waitUntilRead(bus);
        board.close();
        const fd = openSync(this.opts.filePath, 'r+');
        try {
          ftruncateSync(fd, argOf(f));
        } finally {
          closeSync(fd);
        }
        // The server's next step would touch the vanished pages (SIGBUS here, and a dead socket
        // the workbench would see before the shrunk file): its chain stops here for good.
        return new Promise<void>(() => undefined);
      }
      case 'needs-reset':
        return board.server.raiseNeedsReset(argOf(f));
      case 'event-flood': {
        const ev = encode(this.rev, { name: 'EVENT_USED', kind: 'event', devNum: 0, fields: { vq_index: 0 } });
        const send = async (bytes: Uint8Array) => (await board.endpoint.send(bytes)).ok;
        for (let i = 0; i < argOf(f) && !this.silent; i++) if (!(await this.publish(ev, send))) return;
        return;
      }
      case 'doorbell-flood':
        for (let i = 0; i < argOf(f); i++) await side.doorbells.doorbellOut.ring();
        return;
      default:
        return;
    }
  }

  /** The device queue head's tail: the board's producer index (docs/amp-bus.md §4.2). */
  private async moveProducer(bus: MemoryWindow, layout: VmampLayout, to: (tail: number) => number): Promise<void> {
    const tail = await bus.load(layout.devQueueHead + QH.tail, 16);
    const next = to(tail);
    await bus.store(layout.devQueueHead + QH.tail, 16, next);
    this.opts.log(`producer index ${tail} -> ${next} (N = ${layout.numElements})`);
  }

  /** Until the driver's consumer index reached the board's producer index (bounded). */
  private async waitUntilRead(bus: MemoryWindow): Promise<void> {
    if (this.opts.profile.bus.format !== 'vmamp-shmem-v1') return;
    const layout = await this.layoutOf(bus);
    const end = Date.now() + TRUNCATE_DRAIN_MS;
    while (Date.now() < end && (await bus.load(layout.devQueueHead + QH.tail, 16)) !== (await bus.load(layout.drvQueueHead + QH.head, 16))) {
      await new Promise((r) => setTimeout(r, 1));
    }
  }
}
