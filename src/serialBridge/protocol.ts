/**
 * Serial bridge protocol, version 1: frames, opcodes, status codes and payload layouts for
 * reaching a board's shared memory through an agent on the board (docs/amp-bus.md §9.2). The byte
 * tables, retry rules and examples are in main/bridge-agent/PROTOCOL.md; the C agent
 * (main/bridge-agent/bridge.h) uses the same numbers.
 *
 * Frame, before COBS (all integers little-endian):
 *   0 version u8 · 1 type u8 · 2 seq u16 · 4 length u16 · 6 payload[length] · 6+length CRC-32C u32
 * The CRC covers bytes [0, 6 + length).
 */
import { crc32c } from '../util/crc32c';
import { hexNum } from '../util/hex';
import type { Result } from '../util/result';
import { cobsDecode, cobsEncode, cobsMaxEncoded } from './cobs';

export const BRIDGE_VERSION = 1;
export const FRAME_HEADER = 6;
export const FRAME_CRC = 4;
/** §9.2: "Max payload ≥ 256 so one 64-byte slot plus headers fits in one frame". */
export const MIN_MAX_PAYLOAD = 256;

/** Requests (host → agent). A reply has type `opcode | REPLY`; EVENT is the only unsolicited frame. */
export const OP = {
  HELLO: 0x01,
  PING: 0x02,
  READ: 0x03,
  WRITE: 0x04,
  LOAD: 0x05,
  STORE: 0x06,
  FENCE: 0x07,
  NOTIFY: 0x08,
  WATCH: 0x09,
  UNWATCH: 0x0a,
  TAP: 0x0b,
  TAP_READ: 0x0c,
  UNTAP: 0x0d,
} as const;
export const REPLY = 0x80;
export const EVENT = 0xc0;

/** First byte of every reply payload. */
export const STATUS = {
  OK: 0,
  BAD_ADDRESS: 1,
  OUT_OF_RANGE: 2,
  UNALIGNED: 3,
  UNSUPPORTED_WIDTH: 4,
  UNSUPPORTED_OPCODE: 5,
  BAD_LENGTH: 6,
  BAD_VERSION: 7,
  NO_SUCH_SLOT: 8,
  NO_SUCH_LINE: 9,
  BACKEND: 10,
} as const;

const STATUS_TEXT: Record<number, string> = {
  [STATUS.BAD_ADDRESS]: 'address is in none of the agent\'s windows',
  [STATUS.OUT_OF_RANGE]: 'range runs past the end of its window or over the maximum payload',
  [STATUS.UNALIGNED]: 'address or length is not a multiple of the access width',
  [STATUS.UNSUPPORTED_WIDTH]: 'access width not allowed in this window (see the agent\'s capabilities)',
  [STATUS.UNSUPPORTED_OPCODE]: 'opcode unknown to this agent',
  [STATUS.BAD_LENGTH]: 'payload length wrong for the opcode',
  [STATUS.BAD_VERSION]: 'frame version not spoken by this agent',
  [STATUS.NO_SUCH_SLOT]: 'watch slot beyond the agent\'s watch_slots',
  [STATUS.NO_SUCH_LINE]: 'notify line not configured on the agent',
  [STATUS.BACKEND]: 'the agent\'s memory back end reported a failure',
};
export function statusText(status: number): string {
  const name = Object.entries(STATUS).find(([, v]) => v === status)?.[0] ?? `status ${status}`;
  return STATUS_TEXT[status] ? `${name}: ${STATUS_TEXT[status]}` : name;
}

/** Access width byte: 0 = agent's choice (widest the alignment and window allow), else 8/16/32. */
export type BridgeWidth = 0 | 8 | 16 | 32;
/** Capability bit for each width. */
export const WIDTH_BIT = { 8: 1, 16: 2, 32: 4 } as const;

export interface Frame {
  version: number;
  type: number;
  seq: number;
  payload: Uint8Array;
}

/** Largest wire frame (COBS-encoded, with delimiter) for a payload limit. */
export function maxWireBytes(maxPayload: number): number {
  return cobsMaxEncoded(FRAME_HEADER + maxPayload + FRAME_CRC) + 1;
}

/** Header + payload + CRC, not yet COBS-encoded. */
export function buildFrame(type: number, seq: number, payload: Uint8Array, version = BRIDGE_VERSION): Uint8Array {
  if (payload.length > 0xffff) throw new RangeError(`bridge payload of ${payload.length} bytes exceeds 65535`);
  const f = new Uint8Array(FRAME_HEADER + payload.length + FRAME_CRC);
  const v = new DataView(f.buffer);
  f[0] = version;
  f[1] = type;
  v.setUint16(2, seq & 0xffff, true);
  v.setUint16(4, payload.length, true);
  f.set(payload, FRAME_HEADER);
  v.setUint32(FRAME_HEADER + payload.length, crc32c(f.subarray(0, FRAME_HEADER + payload.length)), true);
  return f;
}

/** A frame as sent on the wire: COBS-encoded and terminated by 0x00. */
export function encodeFrame(type: number, seq: number, payload: Uint8Array): Uint8Array {
  const enc = cobsEncode(buildFrame(type, seq, payload));
  const out = new Uint8Array(enc.length + 1);
  out.set(enc);
  return out;
}

/** A received frame with its CRC trailer (the agent's reply cache is keyed by seq and CRC). */
export type ReceivedFrame = Frame & { crc: number };

/** Decodes one COBS-encoded frame (delimiter stripped) and checks its length and CRC. */
export function decodeFrame(encoded: Uint8Array): Result<ReceivedFrame> {
  const f = cobsDecode(encoded);
  if (f === null) return { ok: false, error: 'invalid COBS encoding' };
  if (f.length < FRAME_HEADER + FRAME_CRC) return { ok: false, error: `frame of ${f.length} bytes is shorter than the ${FRAME_HEADER + FRAME_CRC}-byte minimum` };
  const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const length = v.getUint16(4, true);
  if (FRAME_HEADER + length + FRAME_CRC !== f.length) {
    return { ok: false, error: `length field says ${length} payload bytes, frame carries ${f.length - FRAME_HEADER - FRAME_CRC}` };
  }
  const want = v.getUint32(FRAME_HEADER + length, true);
  const got = crc32c(f.subarray(0, FRAME_HEADER + length));
  if (want !== got) return { ok: false, error: `CRC-32C ${hexNum(got, 8)} over the frame, trailer says ${hexNum(want, 8)}` };
  return { ok: true, value: { version: f[0]!, type: f[1]!, seq: v.getUint16(2, true), payload: f.subarray(FRAME_HEADER, FRAME_HEADER + length), crc: want } };
}

// ---- Request payloads (offsets in PROTOCOL.md "Requests") ----

function payload(n: number, fill: (v: DataView, u8: Uint8Array) => void): Uint8Array {
  const u8 = new Uint8Array(n);
  fill(new DataView(u8.buffer), u8);
  return u8;
}

export type Request =
  | { op: 'HELLO' }
  | { op: 'PING'; data: Uint8Array }
  | { op: 'READ'; addr: bigint; length: number; width: BridgeWidth }
  | { op: 'WRITE'; addr: bigint; width: BridgeWidth; data: Uint8Array }
  | { op: 'LOAD'; addr: bigint; width: 8 | 16 | 32 }
  | { op: 'STORE'; addr: bigint; width: 8 | 16 | 32; value: number }
  | { op: 'FENCE' }
  | { op: 'NOTIFY'; line: number; value: number }
  | { op: 'WATCH'; slot: number; width: 8 | 16 | 32; mask: number; addr: bigint; intervalUs: number }
  | { op: 'UNWATCH'; slot: number }
  | ({ op: 'TAP' } & TapSpec)
  | { op: 'TAP_READ'; max: number; from: number }
  | { op: 'UNTAP' };

/** A ring for the agent to tap (PROTOCOL.md 3.3): where its producer index and slots are, in agent addresses. */
export interface TapSpec {
  ring: number;
  width: 8 | 16 | 32;
  slots: number;
  slotSize: number;
  stride: number;
  indexMask: number;
  /** Agent look period while the ring is idle; 0 = the agent's poll period. */
  intervalUs: number;
  producer: bigint;
  slotsAddr: bigint;
}

/** Fixed part of a WRITE payload before its data. */
export const WRITE_HEADER = 9;
/** Status byte before the data of a READ reply. */
export const READ_REPLY_HEADER = 1;

export function encodeRequestPayload(r: Request): Uint8Array {
  switch (r.op) {
    case 'HELLO':
    case 'FENCE':
      return new Uint8Array(0);
    case 'PING':
      return r.data.slice();
    case 'READ':
      return payload(11, (v) => {
        v.setBigUint64(0, r.addr, true);
        v.setUint16(8, r.length, true);
        v.setUint8(10, r.width);
      });
    case 'WRITE':
      return payload(WRITE_HEADER + r.data.length, (v, u8) => {
        v.setBigUint64(0, r.addr, true);
        v.setUint8(8, r.width);
        u8.set(r.data, WRITE_HEADER);
      });
    case 'LOAD':
      return payload(9, (v) => {
        v.setBigUint64(0, r.addr, true);
        v.setUint8(8, r.width);
      });
    case 'STORE':
      return payload(13, (v) => {
        v.setBigUint64(0, r.addr, true);
        v.setUint8(8, r.width);
        v.setUint32(9, r.value >>> 0, true);
      });
    case 'NOTIFY':
      return payload(5, (v) => {
        v.setUint8(0, r.line);
        v.setUint32(1, r.value >>> 0, true);
      });
    case 'WATCH':
      return payload(20, (v) => {
        v.setUint8(0, r.slot);
        v.setUint8(1, r.width);
        v.setUint32(4, r.mask >>> 0, true);
        v.setBigUint64(8, r.addr, true);
        v.setUint32(16, r.intervalUs >>> 0, true);
      });
    case 'UNWATCH':
      return Uint8Array.of(r.slot);
    case 'TAP':
      return payload(32, (v) => {
        v.setUint8(0, r.ring);
        v.setUint8(1, r.width);
        v.setUint16(2, r.slots, true);
        v.setUint16(4, r.slotSize, true);
        v.setUint16(6, r.stride, true);
        v.setUint32(8, r.indexMask >>> 0, true);
        v.setUint32(12, r.intervalUs >>> 0, true);
        v.setBigUint64(16, r.producer, true);
        v.setBigUint64(24, r.slotsAddr, true);
      });
    case 'TAP_READ':
      return payload(8, (v) => {
        v.setUint16(2, r.max, true);
        v.setUint32(4, r.from >>> 0, true);
      });
    case 'UNTAP':
      return new Uint8Array(0);
    default: {
      const never: never = r;
      throw new Error(`unknown bridge request ${JSON.stringify(never)}`);
    }
  }
}

// ---- Reply payloads ----

export interface AgentWindow {
  base: bigint;
  size: bigint;
  /** WIDTH_BIT mask of the widths allowed in this window. */
  widths: number;
}

export interface Capabilities {
  protocolVersion: number;
  widths: number;
  watchSlots: number;
  notifyLines: number;
  maxPayload: number;
  maxFrame: number;
  pollUs: number;
  agentName: string;
  agentVersion: string;
  windows: AgentWindow[];
}


const ascii = (b: Uint8Array) => String.fromCharCode(...b);

/** Decodes a HELLO reply's payload after its status byte (PROTOCOL.md "CAPS"). */
export function decodeCapabilities(p: Uint8Array): Result<Capabilities> {
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  let at = 14;
  if (p.length < at + 2) return { ok: false, error: `capabilities of ${p.length} bytes, expected at least ${at + 2}` };
  const take = (n: number): Uint8Array | null => (at + n <= p.length ? p.subarray(at, (at += n)) : null);
  const nameLen = p[at++]!;
  const name = take(nameLen);
  const verLen = name ? take(1)?.[0] : undefined;
  const version = verLen === undefined ? null : take(verLen);
  if (!name || !version) return { ok: false, error: `capabilities end inside the agent name/version at byte ${at}` };
  const count = p[4]!;
  if (p.length !== at + count * 17) return { ok: false, error: `capabilities list ${count} windows (17 bytes each) after byte ${at}, but ${p.length - at} bytes follow` };
  const windows: AgentWindow[] = [];
  for (let i = 0; i < count; i++, at += 17) windows.push({ base: v.getBigUint64(at, true), size: v.getBigUint64(at + 8, true), widths: p[at + 16]! });
  return {
    ok: true,
    value: {
      protocolVersion: p[0]!,
      widths: p[1]!,
      watchSlots: p[2]!,
      notifyLines: p[3]!,
      maxPayload: v.getUint16(6, true),
      maxFrame: v.getUint16(8, true),
      pollUs: v.getUint32(10, true),
      agentName: ascii(name),
      agentVersion: ascii(version),
      windows,
    },
  };
}

export function encodeCapabilities(c: Capabilities): Uint8Array {
  const name = Uint8Array.from(c.agentName, (ch) => ch.charCodeAt(0) & 0x7f);
  const ver = Uint8Array.from(c.agentVersion, (ch) => ch.charCodeAt(0) & 0x7f);
  const at = 16 + name.length + ver.length;
  return payload(at + c.windows.length * 17, (v, u8) => {
    u8.set([c.protocolVersion, c.widths, c.watchSlots, c.notifyLines, c.windows.length], 0);
    v.setUint16(6, c.maxPayload, true);
    v.setUint16(8, c.maxFrame, true);
    v.setUint32(10, c.pollUs, true);
    u8[14] = name.length;
    u8.set(name, 15);
    u8[15 + name.length] = ver.length;
    u8.set(ver, 16 + name.length);
    c.windows.forEach((w, i) => {
      v.setBigUint64(at + i * 17, w.base, true);
      v.setBigUint64(at + i * 17 + 8, w.size, true);
      v.setUint8(at + i * 17 + 16, w.widths);
    });
  });
}

/** EVENT payload: slot u8, width u8, reserved u16, value u32, counter u32 (changes seen by this slot). */
export interface WatchEvent {
  slot: number;
  value: number;
  counter: number;
}
export function decodeEvent(p: Uint8Array): Result<WatchEvent> {
  if (p.length !== 12) return { ok: false, error: `EVENT payload of ${p.length} bytes, expected 12` };
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  return { ok: true, value: { slot: p[0]!, value: v.getUint32(4, true), counter: v.getUint32(8, true) } };
}
export function encodeEvent(e: WatchEvent & { width: number }): Uint8Array {
  return payload(12, (v) => {
    v.setUint8(0, e.slot);
    v.setUint8(1, e.width);
    v.setUint32(4, e.value >>> 0, true);
    v.setUint32(8, e.counter >>> 0, true);
  });
}

/** An error reply: status u8, reserved u8[3], addr u64 (the offending address, 0 when none). */
export function decodeErrorDetail(p: Uint8Array): bigint | null {
  return p.length === 12 ? new DataView(p.buffer, p.byteOffset, p.byteLength).getBigUint64(4, true) : null;
}

// ---- Tapped rings (PROTOCOL.md 3.3) ----

/** Bytes before each entry's slot in a TAP_READ reply: lost u32, seen_us u32, index u16, ring u8, reserved u8. */
export const TAP_ENTRY = 12;
/** TAP_READ reply header with `rings` bad-index words, status included. */
export const tapReadHeader = (rings: number): number => 12 + 4 * rings;
/** A ring's `badIndex` while its producer index is in range. */
export const NO_BAD_INDEX = 0xffffffff;

/** One TAP_READ reply, decoded (`slots`: the entries' slot bytes, back to back). */
export interface TapEntries {
  from: number;
  /** The agent's microsecond clock when it answered. */
  nowUs: number;
  /** Per ring: its out-of-range producer index, or NO_BAD_INDEX. */
  badIndex: number[];
  lost: number[];
  seenUs: number[];
  index: number[];
  ring: number[];
  slots: Uint8Array;
}

/** Decodes a TAP_READ reply's payload after its status byte, for slots of `slotSize` bytes. */
export function decodeTapRead(p: Uint8Array, slotSize: number): Result<TapEntries> {
  if (p.length < 11) return { ok: false, error: `TAP_READ reply of ${p.length + 1} bytes, expected at least 12` };
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const rings = p[0]!;
  const count = v.getUint16(1, true);
  const head = tapReadHeader(rings) - 1;
  const rec = TAP_ENTRY + slotSize;
  if (p.length !== head + count * rec) {
    return { ok: false, error: `TAP_READ reply lists ${rings} rings and ${count} entries of ${rec} bytes (${head + 1 + count * rec} bytes), but carries ${p.length + 1}` };
  }
  const out: TapEntries = {
    from: v.getUint32(3, true),
    nowUs: v.getUint32(7, true),
    badIndex: Array.from({ length: rings }, (_, i) => v.getUint32(11 + 4 * i, true)),
    lost: [],
    seenUs: [],
    index: [],
    ring: [],
    slots: new Uint8Array(count * slotSize),
  };
  for (let i = 0, at = head; i < count; i++, at += rec) {
    out.lost.push(v.getUint32(at, true));
    out.seenUs.push(v.getUint32(at + 4, true));
    out.index.push(v.getUint16(at + 8, true));
    out.ring.push(p[at + 10]!);
    out.slots.set(p.subarray(at + TAP_ENTRY, at + rec), i * slotSize);
  }
  return { ok: true, value: out };
}

/** The agent's side of decodeTapRead (test agents, vectors). */
export function encodeTapRead(e: TapEntries, slotSize: number): Uint8Array {
  const count = e.lost.length;
  const rec = TAP_ENTRY + slotSize;
  const head = tapReadHeader(e.badIndex.length) - 1;
  return payload(head + count * rec, (v, u8) => {
    v.setUint8(0, e.badIndex.length);
    v.setUint16(1, count, true);
    v.setUint32(3, e.from >>> 0, true);
    v.setUint32(7, e.nowUs >>> 0, true);
    e.badIndex.forEach((b, i) => v.setUint32(11 + 4 * i, b >>> 0, true));
    for (let i = 0, at = head; i < count; i++, at += rec) {
      v.setUint32(at, e.lost[i]! >>> 0, true);
      v.setUint32(at + 4, e.seenUs[i]! >>> 0, true);
      v.setUint16(at + 8, e.index[i]!, true);
      v.setUint8(at + 10, e.ring[i]!);
      u8.set(e.slots.subarray(i * slotSize, (i + 1) * slotSize), at + TAP_ENTRY);
    }
  });
}
