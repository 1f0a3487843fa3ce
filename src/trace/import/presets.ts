/**
 * Log formats `amp-workbench import` reads (docs/formats.md §5): what real peers print about the
 * messages they exchange, turned back into message bytes with the log's time and direction where
 * it has them. Each preset names the code that prints the format; a line a preset does not
 * recognise is another log line and is skipped.
 */
import { XEN_MAX_MSG_SIZE } from '../../protocol/detect';
import { HEADER_SIZE } from '../../protocol/messages';
import type { Direction, Revision } from '../../protocol/types';
import type { AbsentField, PeerName } from '../conformance';

/** One message found in a log. */
export interface LoggedMessage {
  /** 1-based line of the message's first line. */
  line: number;
  /** The log's clock in ns (kernel/Xen time since boot, a trace backend's seconds), or null when the line has none. */
  timeNs: bigint | null;
  dir: Direction | null;
  bytes: Uint8Array;
  /** The log printed the header only (its fields), not the payload: `bytes` is the header. */
  headerOnly: boolean;
}

export interface ParsedLog {
  messages: LoggedMessage[];
  /** What the parser noticed, with line numbers (payloads cut short, fields it had to assume). */
  notes: string[];
  /** Message fields the log does not print (recorded as stand-ins, judged by no rule). */
  absent: AbsentField[];
}

export const LOG_FORMATS = ['hex', 'linux', 'qemu', 'xen', 'optee'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LogPreset {
  id: LogFormat;
  /** Who prints it and where the format comes from. */
  source: string;
  /** One line showing the shape. */
  example: string;
  /** The wire revision this peer speaks, when the format alone says (else detected from the bytes). */
  revision?: Revision;
  /** The peer's largest message (Xen: VIRTIO_MSG_MAX_SIZE 44). */
  maxMessageSize?: number;
  /** The quirk profile of conformance.ts that applies to this peer's traffic. */
  peer?: PeerName;
  parse(lines: readonly string[]): ParsedLog;
}

// ---- shared pieces ----------------------------------------------------------------------------

/** "12.345678" seconds → ns, exactly (no float rounding). */
function secondsNs(text: string): bigint {
  const [whole, frac = ''] = text.split('.');
  return BigInt(whole!) * 1_000_000_000n + BigInt((frac + '000000000').slice(0, 9));
}

/** Kernel/Xen "[  12.345678]", a trace backend's "1234@1700000000.123456:", or a bare leading "12.345678". */
const TIME_PREFIX = /^\s*(?:<\d>)?\s*(?:\[\s*(\d+\.\d+)\]|(?:\d+@)?(\d+\.\d+):?(?=\s))\s*/;

function takeTime(line: string): { timeNs: bigint | null; rest: string } {
  const m = TIME_PREFIX.exec(line);
  if (!m) return { timeNs: null, rest: line };
  return { timeNs: secondsNs(m[1] ?? m[2]!), rest: line.slice(m[0].length) };
}

const TO_DEVICE = /^(?:>|->|tx|send|sent|req|request|out|to-device|driver-to-device)$/i;
const TO_DRIVER = /^(?:<|<-|rx|recv|received|resp|response|in|to-driver|device-to-driver)$/i;

function direction(word: string | undefined): Direction | null {
  if (word === undefined) return null;
  if (TO_DEVICE.test(word)) return 'driver-to-device';
  if (TO_DRIVER.test(word)) return 'device-to-driver';
  return null;
}

/** A run of hex byte pairs at the end of a line, optionally after a print_hex_dump offset "00000010:". */
const HEX_TAIL = /(?:^|[\s:])(?:([0-9a-f]{8}):\s+)?((?:[0-9a-f]{2}[ ])*[0-9a-f]{2})\s*$/i;

const MIN_HEADER = Math.min(...Object.values(HEADER_SIZE));

function pairs(text: string): Uint8Array {
  const tokens = text.trim().split(/\s+/);
  return Uint8Array.from(tokens, (t) => parseInt(t, 16));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Lines holding one message each as hex pairs, after an optional time and an optional direction
 * word (tx/rx, >/<, send/recv, req/resp…). A print_hex_dump continuation ("00000010: …", offset
 * > 0) extends the message before it. `accept` picks the lines that can be messages.
 */
function parseHexLines(lines: readonly string[], accept: (rest: string) => boolean): ParsedLog {
  const messages: LoggedMessage[] = [];
  const notes: string[] = [];
  lines.forEach((raw, i) => {
    const { timeNs, rest } = takeTime(raw);
    if (!accept(rest)) return;
    const m = HEX_TAIL.exec(rest);
    if (!m) return;
    const before = rest.slice(0, m.index).trim();
    const words = before.split(/[\s:]+/).filter((w) => w !== '');
    const dir = direction(words.at(-1));
    const offset = m[1] === undefined ? 0 : parseInt(m[1], 16);
    const bytes = pairs(m[2]!);
    const prev = messages.at(-1);
    if (offset > 0) {
      if (prev && prev.bytes.length === offset) prev.bytes = concat(prev.bytes, bytes);
      else notes.push(`line ${i + 1}: a hex dump continuation at offset ${offset} follows no message of ${offset} bytes; skipped`);
      return;
    }
    // Fewer bytes than the smallest header (R0's 4) are words of text that look like hex ("a dead end").
    if (bytes.length < MIN_HEADER) return;
    messages.push({ line: i + 1, timeNs, dir, bytes, headerOnly: false });
  });
  return { messages, notes, absent: [] };
}

/** What a response, request or event of this header travels as, when the log does not say. */
export function directionOf(type: number, msgId: number, event: boolean): Direction {
  if (!event) return (type & 1) !== 0 ? 'device-to-driver' : 'driver-to-device';
  // Of the events only EVENT_AVAIL (transport 0x41) comes from the driver (docs/protocol.md §6.12).
  return (type & 2) === 0 && msgId === 0x41 ? 'driver-to-device' : 'device-to-driver';
}

// ---- virtio_msg_print (QEMU and Xen) -----------------------------------------------------------

/** virtio_msg_print's first line: "virtio-msg: id GET_VQUEUE 0x9 type 0x0 dev_num 0x1 msg_size 0xc". */
const PRINT_HEADER = /virtio-msg: id (\S+) 0x([0-9a-f]+) type 0x([0-9a-f]+) dev_num 0x([0-9a-f]+) msg_size 0x([0-9a-f]+)/i;
const XEN_PREFIX = /^\s*\(XEN\)\s?/;
const LEADING_PAIRS = /^(?:[0-9a-f]{2}(?:\s+|$))+/i;

/**
 * virtio_msg_print of virtio-msg-prot.h (QEMU include/hw/virtio/virtio-msg-prot.h, Xen
 * xen/include/xen/virtio/std/virtio-msg-prot.h): a header line with the header's fields, then
 * the payload as "%2.2x " bytes, 16 a line. The header size follows from msg_size minus the
 * payload bytes printed (6: R2-shaped, 8: with a token the print does not show, recorded as 0).
 */
function parsePrint(lines: readonly string[]): ParsedLog {
  const messages: LoggedMessage[] = [];
  const notes: string[] = [];
  let tokenless = false;
  for (let i = 0; i < lines.length; i++) {
    const { timeNs, rest } = takeTime(lines[i]!.replace(XEN_PREFIX, ''));
    const h = PRINT_HEADER.exec(rest);
    if (!h) continue;
    const [type, msgId, devNum, msgSize] = [h[3], h[2], h[4], h[5]].map((x) => parseInt(x!, 16)) as [number, number, number, number];
    let payload: Uint8Array = new Uint8Array(0);
    let overflow = false;
    // The bytes are printed "%2.2x " 16 a line; the print's decoded extras ("status f ACKNOWLEDGE…",
    // "set-vqueue: …") follow on the line of the last bytes, or on a line of their own.
    while (i + 1 < lines.length && payload.length < msgSize - 6) {
      const next = takeTime(lines[i + 1]!.replace(XEN_PREFIX, '')).rest;
      if (/Size overflow!/.test(next)) {
        overflow = true;
        i++;
        continue;
      }
      const b = LEADING_PAIRS.exec(next);
      if (!b) break;
      payload = concat(payload, pairs(b[0]));
      i++;
      if (b[0].trimEnd().length < next.trimEnd().length) break;
    }
    const headerSize = msgSize - payload.length;
    let head: number[];
    if (headerSize === 6 || (overflow && payload.length === 38)) head = [type, msgId, devNum & 0xff, devNum >> 8, msgSize & 0xff, msgSize >> 8];
    else if (headerSize === 8) {
      head = [type, msgId, devNum & 0xff, devNum >> 8, 0, 0, msgSize & 0xff, msgSize >> 8];
      tokenless = true;
    } else {
      notes.push(`line ${i + 1}: ${h[1]} msg_size ${msgSize} with ${payload.length} payload bytes printed fits neither a 6- nor an 8-byte header; skipped`);
      continue;
    }
    if (overflow) notes.push(`line ${i + 1}: ${h[1]} msg_size ${msgSize} is more than the print shows ("Size overflow!"): recorded with the ${payload.length} bytes printed`);
    messages.push({ line: i + 1, timeNs, dir: null, bytes: Uint8Array.from([...head, ...payload]), headerOnly: false });
  }
  // The print shows every field of a 6-byte header; an 8-byte header's token is not among them.
  return { messages, notes, absent: tokenless ? ['token'] : [] };
}

// ---- OP-TEE -----------------------------------------------------------------------------------

/** OP-TEE's FF-A entry (FMSG "caller %#x type %#x msg_id %#x dev_id %#x msg_size %#x") and codec (DMSG "hdr type … dev_num …"). */
const OPTEE_HEADER = /(?:caller (0x[0-9a-f]+|0) )?type (0x[0-9a-f]+|0) msg_id (0x[0-9a-f]+|0) dev_(?:id|num) (0x[0-9a-f]+|0) msg_size (0x[0-9a-f]+|0)/i;

/**
 * OP-TEE logs the header of each request it receives over FF-A (the 8-byte R3 header, docs/peers.md
 * §4), not the payload: each message is recorded as its header, token 0, and the payload is absent.
 */
function parseOptee(lines: readonly string[]): ParsedLog {
  const messages: LoggedMessage[] = [];
  lines.forEach((raw, i) => {
    const m = OPTEE_HEADER.exec(raw);
    if (!m) return;
    const [type, msgId, devNum, msgSize] = [m[2], m[3], m[4], m[5]].map((x) => parseInt(x!, 16)) as [number, number, number, number];
    const bytes = Uint8Array.from([type, msgId, devNum & 0xff, devNum >> 8, 0, 0, msgSize & 0xff, msgSize >> 8]);
    messages.push({ line: i + 1, timeNs: null, dir: 'driver-to-device', bytes, headerOnly: true });
  });
  return { messages, notes: [], absent: ['token', 'payload'] };
}

// ---- the presets ------------------------------------------------------------------------------

const KERNEL_PREFIX = /virtio[-_]msg/i;

export const PRESETS: Readonly<Record<LogFormat, LogPreset>> = {
  hex: {
    id: 'hex',
    source: 'any log with one message per line as hex bytes, after an optional time and direction (tx/rx, >/<, send/recv)',
    example: '12.000105 tx 00 02 01 00 06 00',
    parse: (lines) => parseHexLines(lines, () => true),
  },
  linux: {
    id: 'linux',
    source:
      "the Linux virtio-msg transport's kernel log (pr_fmt \"virtio-msg: \", \"virtio-msg-ffa: \"): dmesg lines of a debug build that print_hex_dump()s each message, optionally after tx/rx",
    example: '[   12.000105] virtio-msg-ffa: tx 00000000: 02 80 00 00 18 00 01 00 00 00 01 00 00 00 00 00',
    peer: 'linux-rfc',
    parse: (lines) => parseHexLines(lines, (rest) => KERNEL_PREFIX.test(rest)),
  },
  qemu: {
    id: 'qemu',
    source: "QEMU's virtio-msg models: virtio_msg_print() of include/hw/virtio/virtio-msg-prot.h on stderr (its models define no trace events carrying message bytes)",
    example: 'virtio-msg: id GET_VQUEUE 0x9 type 0x0 dev_num 0x1 msg_size 0xc',
    peer: 'qemu',
    parse: parsePrint,
  },
  xen: {
    id: 'xen',
    source: "Xen's virtio-msg: virtio_msg_print() of xen/include/xen/virtio/std/virtio-msg-prot.h on the Xen console; a 6-byte header, no token, at most 44 bytes",
    example: '(XEN) virtio-msg: id SET_DEVICE_STATUS 0x8 type 0x0 dev_num 0x0 msg_size 0xa',
    revision: 'r2',
    maxMessageSize: XEN_MAX_MSG_SIZE,
    parse: parsePrint,
  },
  optee: {
    id: 'optee',
    source: "OP-TEE's virtio-msg over FF-A: the FMSG/DMSG header line of core virtio_msg_ffa.c / virtio_msg.c (headers only)",
    example: 'F/TC:0 0 virtio_msg_ffa_recv:412 caller 0x8001 type 0x2 msg_id 0x80 dev_id 0 msg_size 0x1a',
    revision: 'r3',
    parse: parseOptee,
  },
};

/** Most specific first: a QEMU or Xen print's payload lines would also read as one-message hex lines. */
const GUESS_ORDER: readonly LogFormat[] = ['optee', 'xen', 'qemu', 'linux', 'hex'];

/** The first format, most specific first, that finds messages in the log (Xen only with its "(XEN)" console prefix). */
export function guessFormat(lines: readonly string[]): { format: LogFormat; log: ParsedLog } | null {
  for (const format of GUESS_ORDER) {
    if (format === 'xen' && !lines.some((l) => XEN_PREFIX.test(l))) continue;
    const log = PRESETS[format].parse(lines);
    if (log.messages.length > 0) return { format, log };
  }
  return null;
}
