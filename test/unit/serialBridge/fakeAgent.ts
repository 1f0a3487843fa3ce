/**
 * An in-process bridge agent over plain byte arrays, for the pure client tests. It follows the
 * C agent (main/bridge-agent/agent.c) and is held to it by the shared exchange vectors
 * (vectors.test.ts): same status precedence, same reply cache rule (seq and request CRC).
 */
import { CobsSplitter } from '../../../src/serialBridge/cobs';
import {
  BRIDGE_VERSION,
  EVENT,
  OP,
  REPLY,
  STATUS,
  WIDTH_BIT,
  decodeFrame,
  encodeCapabilities,
  encodeEvent,
  encodeFrame,
  maxWireBytes,
  type AgentWindow,
  type Capabilities,
} from '../../../src/serialBridge/protocol';

export const FAKE_MAX_PAYLOAD = 4112;

export interface FakeWindow extends AgentWindow {
  bytes: Uint8Array;
}

interface Watch {
  win: FakeWindow;
  offset: number;
  width: number;
  mask: number;
  last: number;
  counter: number;
}

export class FakeAgent {
  readonly lines: { addr: bigint; width: number; value: number; add: boolean }[] = [];
  readonly stats = { executed: 0, cached: 0, bad: 0 };
  /** Overrides what HELLO reports (to play an incompatible agent). */
  caps: Partial<Capabilities> = {};
  private readonly splitter = new CobsSplitter(maxWireBytes(FAKE_MAX_PAYLOAD));
  private cache: { seq: number; crc: number; wire: Uint8Array } | null = null;
  private readonly watches = new Map<number, Watch>();
  private eventSeq = 0;

  constructor(
    readonly windows: FakeWindow[],
    /** Where replies and events go. */
    private readonly send: (bytes: Uint8Array) => void,
    readonly name = 'test-agent',
    readonly version = '1.0',
  ) {}

  /** The test board of vectors.txt. */
  static testBoard(send: (bytes: Uint8Array) => void): FakeAgent {
    const sram = Uint8Array.from({ length: 0x1000 }, (_, i) => i & 0xff);
    const a = new FakeAgent(
      [
        { base: 0x10040000n, size: 0x1000n, widths: 7, bytes: sram },
        { base: 0x4c001000n, size: 0x400n, widths: WIDTH_BIT[32], bytes: new Uint8Array(0x400) },
      ],
      send,
    );
    a.lines.push({ addr: 0x10040ff0n, width: 32, value: 1, add: true });
    return a;
  }

  receive(chunk: Uint8Array): void {
    this.splitter.push(chunk, (enc) => this.onFrame(enc));
  }

  /** One round of watch polling (the C agent's bridge_agent_poll with every watch due). */
  poll(): void {
    for (const [slot, w] of this.watches) {
      const v = (this.get(w.win, w.offset, w.width) & w.mask) >>> 0;
      if (v === w.last) continue;
      w.last = v;
      w.counter++;
      this.send(encodeFrame(EVENT, this.eventSeq++ & 0xffff, encodeEvent({ slot, width: w.width, value: v, counter: w.counter })));
    }
  }

  private onFrame(enc: Uint8Array): void {
    const r = decodeFrame(enc);
    if (!r.ok) {
      this.stats.bad++;
      return;
    }
    const { type, seq, payload, version, crc } = r.value;
    if (type & REPLY) return;
    if (this.cache && this.cache.seq === seq && this.cache.crc === crc) {
      this.stats.cached++;
      this.send(this.cache.wire);
      return;
    }
    this.stats.executed++;
    const reply = version !== BRIDGE_VERSION ? refuse(STATUS.BAD_VERSION, 0n) : this.execute(type, payload);
    const wire = encodeFrame(type | REPLY, seq, reply);
    this.cache = { seq, crc, wire };
    this.send(wire);
  }

  private locate(addr: bigint, len: number): { win: FakeWindow; offset: number } | number {
    for (const w of this.windows) {
      if (addr >= w.base && addr - w.base < w.size) {
        if (BigInt(len) > w.size - (addr - w.base)) return STATUS.OUT_OF_RANGE;
        return { win: w, offset: Number(addr - w.base) };
      }
    }
    return STATUS.BAD_ADDRESS;
  }

  private word(addr: bigint, width: number): { win: FakeWindow; offset: number } | number {
    const bit = WIDTH_BIT[width as 8 | 16 | 32];
    if (bit === undefined) return STATUS.UNSUPPORTED_WIDTH;
    const t = this.locate(addr, width / 8);
    if (typeof t === 'number') return t;
    if (!(t.win.widths & bit)) return STATUS.UNSUPPORTED_WIDTH;
    if (addr % BigInt(width / 8) !== 0n) return STATUS.UNALIGNED;
    return t;
  }

  /** Checks the access plan of a READ/WRITE like agent.c copy(); returns a status. */
  private plan(t: { win: FakeWindow }, addr: bigint, len: number, width: number): number {
    const allowed = t.win.widths;
    if (width !== 0) {
      const bit = WIDTH_BIT[width as 8 | 16 | 32];
      if (bit === undefined || !(allowed & bit)) return STATUS.UNSUPPORTED_WIDTH;
      const n = BigInt(width / 8);
      return addr % n !== 0n || BigInt(len) % n !== 0n ? STATUS.UNALIGNED : STATUS.OK;
    }
    for (let at = 0; at < len; ) {
      const pos = addr + BigInt(at);
      const left = len - at;
      if (allowed & 4 && pos % 4n === 0n && left >= 4) at += 4;
      else if (allowed & 2 && pos % 2n === 0n && left >= 2) at += 2;
      else if (allowed & 1) at += 1;
      else return STATUS.UNALIGNED;
    }
    return STATUS.OK;
  }

  private get(w: FakeWindow, offset: number, width: number): number {
    let v = 0;
    for (let k = 0; k < width / 8; k++) v |= w.bytes[offset + k]! << (8 * k);
    return v >>> 0;
  }
  private set(w: FakeWindow, offset: number, width: number, value: number): void {
    for (let k = 0; k < width / 8; k++) w.bytes[offset + k] = (value >>> (8 * k)) & 0xff;
  }

  private execute(type: number, q: Uint8Array): Uint8Array {
    const v = new DataView(q.buffer, q.byteOffset, q.byteLength);
    const ok = (...rest: number[]) => Uint8Array.of(STATUS.OK, ...rest);
    const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
    switch (type) {
      case OP.HELLO: {
        if (q.length !== 0) return refuse(STATUS.BAD_LENGTH, 0n);
        this.watches.clear();
        const caps = encodeCapabilities({
          protocolVersion: BRIDGE_VERSION,
          widths: this.windows.reduce((m, w) => m | w.widths, 0),
          watchSlots: 8,
          notifyLines: this.lines.length,
          maxPayload: FAKE_MAX_PAYLOAD,
          maxFrame: FAKE_MAX_PAYLOAD + 10,
          pollUs: 1000,
          agentName: this.name,
          agentVersion: this.version,
          windows: this.windows.map(({ base, size, widths }) => ({ base, size, widths })),
          ...this.caps,
        });
        return ok(...caps);
      }
      case OP.PING:
        return q.length + 1 > FAKE_MAX_PAYLOAD ? refuse(STATUS.OUT_OF_RANGE, 0n) : ok(...q);
      case OP.READ: {
        if (q.length !== 11) return refuse(STATUS.BAD_LENGTH, 0n);
        const addr = v.getBigUint64(0, true);
        const len = v.getUint16(8, true);
        if (len + 1 > FAKE_MAX_PAYLOAD) return refuse(STATUS.OUT_OF_RANGE, addr);
        const t = this.locate(addr, len);
        const s = typeof t === 'number' ? t : this.plan(t, addr, len, q[10]!);
        if (typeof t === 'number' || s !== STATUS.OK) return refuse(s, addr);
        return ok(...t.win.bytes.subarray(t.offset, t.offset + len));
      }
      case OP.WRITE: {
        if (q.length < 9) return refuse(STATUS.BAD_LENGTH, 0n);
        const addr = v.getBigUint64(0, true);
        const data = q.subarray(9);
        const t = this.locate(addr, data.length);
        const s = typeof t === 'number' ? t : this.plan(t, addr, data.length, q[8]!);
        if (typeof t === 'number' || s !== STATUS.OK) return refuse(s, addr);
        t.win.bytes.set(data, t.offset);
        return ok();
      }
      case OP.LOAD: {
        if (q.length !== 9) return refuse(STATUS.BAD_LENGTH, 0n);
        const t = this.word(v.getBigUint64(0, true), q[8]!);
        return typeof t === 'number' ? refuse(t, v.getBigUint64(0, true)) : ok(...u32(this.get(t.win, t.offset, q[8]!)));
      }
      case OP.STORE: {
        if (q.length !== 13) return refuse(STATUS.BAD_LENGTH, 0n);
        const t = this.word(v.getBigUint64(0, true), q[8]!);
        if (typeof t === 'number') return refuse(t, v.getBigUint64(0, true));
        this.set(t.win, t.offset, q[8]!, v.getUint32(9, true));
        return ok();
      }
      case OP.FENCE:
        return q.length !== 0 ? refuse(STATUS.BAD_LENGTH, 0n) : ok();
      case OP.NOTIFY: {
        if (q.length !== 5) return refuse(STATUS.BAD_LENGTH, 0n);
        const line = this.lines[q[0]!];
        if (!line) return refuse(STATUS.NO_SUCH_LINE, 0n);
        const t = this.word(line.addr, line.width);
        if (typeof t === 'number') return refuse(t, line.addr);
        const value = v.getUint32(1, true) || line.value;
        this.set(t.win, t.offset, line.width, line.add ? this.get(t.win, t.offset, line.width) + value : value);
        return ok();
      }
      case OP.WATCH: {
        if (q.length !== 20) return refuse(STATUS.BAD_LENGTH, 0n);
        if (q[0]! >= 8) return refuse(STATUS.NO_SUCH_SLOT, 0n);
        const addr = v.getBigUint64(8, true);
        const t = this.word(addr, q[1]!);
        if (typeof t === 'number') return refuse(t, addr);
        const mask = v.getUint32(4, true);
        const last = (this.get(t.win, t.offset, q[1]!) & mask) >>> 0;
        this.watches.set(q[0]!, { win: t.win, offset: t.offset, width: q[1]!, mask, last, counter: 0 });
        return ok(...u32(last));
      }
      case OP.UNWATCH:
        if (q.length !== 1) return refuse(STATUS.BAD_LENGTH, 0n);
        if (q[0]! >= 8) return refuse(STATUS.NO_SUCH_SLOT, 0n);
        this.watches.delete(q[0]!);
        return ok();
      default:
        return refuse(STATUS.UNSUPPORTED_OPCODE, 0n);
    }
  }
}

function refuse(status: number, addr: bigint): Uint8Array {
  const p = new Uint8Array(12);
  p[0] = status;
  new DataView(p.buffer).setBigUint64(4, addr, true);
  return p;
}
