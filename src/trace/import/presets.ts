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

/**
 * A preset reading a log line by line, so a log of any size is read in constant memory: each
 * message goes to `emit` once its last line has been seen (a hex dump's continuation rows, a
 * print's payload lines), the last one at `end()`.
 */
export interface LogReader {
  /** The log's next line; `n` is its 1-based number. */
  line(raw: string, n: number): void;
  end(): void;
  /** What the reader noticed, with line numbers (payloads cut short, continuations out of place). */
  readonly notes: string[];
  /** Message fields the log does not print (recorded as stand-ins, judged by no rule). */
  readonly absent: AbsentField[];
}

export type Emit = (m: LoggedMessage) => void;

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
  reader(emit: Emit): LogReader;
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
function hexReader(accept: (rest: string) => boolean, emit: Emit): LogReader {
  const notes: string[] = [];
  /** The last message, still open to continuation rows. */
  let open: LoggedMessage | null = null;
  return {
    notes,
    absent: [],
    line(raw, n) {
      const { timeNs, rest } = takeTime(raw);
      if (!accept(rest)) return;
      const m = HEX_TAIL.exec(rest);
      if (!m) return;
      const before = rest.slice(0, m.index).trim();
      const words = before.split(/[\s:]+/).filter((w) => w !== '');
      const dir = direction(words.at(-1));
      const offset = m[1] === undefined ? 0 : parseInt(m[1], 16);
      const bytes = pairs(m[2]!);
      if (offset > 0) {
        if (open && open.bytes.length === offset) open.bytes = concat(open.bytes, bytes);
        else notes.push(`line ${n}: a hex dump continuation at offset ${offset} follows no message of ${offset} bytes; skipped`);
        return;
      }
      // Fewer bytes than the smallest header (R0's 4) are words of text that look like hex ("a dead end").
      if (bytes.length < MIN_HEADER) return;
      if (open) emit(open);
      open = { line: n, timeNs, dir, bytes, headerOnly: false };
    },
    end() {
      if (open) emit(open);
      open = null;
    },
  };
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

interface PrintHeader {
  name: string;
  timeNs: bigint | null;
  type: number;
  msgId: number;
  devNum: number;
  msgSize: number;
  payload: Uint8Array;
  overflow: boolean;
  /** The message's last line so far. */
  line: number;
}

/**
 * virtio_msg_print of virtio-msg-prot.h (QEMU include/hw/virtio/virtio-msg-prot.h, Xen
 * xen/include/xen/virtio/std/virtio-msg-prot.h): a header line with the header's fields, then
 * the payload as "%2.2x " bytes, 16 a line. The header size follows from msg_size minus the
 * payload bytes printed (6: R2-shaped, 8: with a token the print does not show, recorded as 0).
 */
function printReader(emit: Emit): LogReader {
  const notes: string[] = [];
  const absent: AbsentField[] = [];
  let open: PrintHeader | null = null;
  const close = (h: PrintHeader): void => {
    open = null;
    const { type, msgId, devNum, msgSize, payload, overflow } = h;
    const headerSize = msgSize - payload.length;
    let head: number[];
    if (headerSize === 6 || (overflow && payload.length === 38)) head = [type, msgId, devNum & 0xff, devNum >> 8, msgSize & 0xff, msgSize >> 8];
    else if (headerSize === 8) {
      head = [type, msgId, devNum & 0xff, devNum >> 8, 0, 0, msgSize & 0xff, msgSize >> 8];
      // The print shows every field of a 6-byte header; an 8-byte header's token is not among them.
      if (absent.length === 0) absent.push('token');
    } else {
      notes.push(`line ${h.line}: ${h.name} msg_size ${msgSize} with ${payload.length} payload bytes printed fits neither a 6- nor an 8-byte header; skipped`);
      return;
    }
    if (overflow) notes.push(`line ${h.line}: ${h.name} msg_size ${msgSize} is more than the print shows ("Size overflow!"): recorded with the ${payload.length} bytes printed`);
    const bytes = new Uint8Array(head.length + payload.length);
    bytes.set(head);
    bytes.set(payload, head.length);
    emit({ line: h.line, timeNs: h.timeNs, dir: null, bytes, headerOnly: false });
  };
  return {
    notes,
    absent,
    line(raw, n) {
      const { timeNs, rest } = takeTime(raw.replace(XEN_PREFIX, ''));
      // The bytes are printed "%2.2x " 16 a line; the print's decoded extras ("status f ACKNOWLEDGE…",
      // "set-vqueue: …") follow on the line of the last bytes, or on a line of their own.
      if (open !== null) {
        const h: PrintHeader = open;
        if (/Size overflow!/.test(rest)) {
          h.overflow = true;
          h.line = n;
          return;
        }
        const b = LEADING_PAIRS.exec(rest);
        if (b) {
          h.payload = concat(h.payload, pairs(b[0]));
          h.line = n;
          if (b[0].trimEnd().length < rest.trimEnd().length || h.payload.length >= h.msgSize - 6) close(h);
          return;
        }
        close(h);
      }
      const m = PRINT_HEADER.exec(rest);
      if (!m) return;
      const [type, msgId, devNum, msgSize] = [m[3], m[2], m[4], m[5]].map((x) => parseInt(x!, 16)) as [number, number, number, number];
      const h: PrintHeader = { name: m[1]!, timeNs, type, msgId, devNum, msgSize, payload: new Uint8Array(0), overflow: false, line: n };
      if (msgSize - 6 > 0) open = h;
      else close(h);
    },
    end() {
      if (open !== null) close(open);
    },
  };
}

// ---- OP-TEE -----------------------------------------------------------------------------------

/** OP-TEE's FF-A entry (FMSG "caller %#x type %#x msg_id %#x dev_id %#x msg_size %#x") and codec (DMSG "hdr type … dev_num …"). */
const OPTEE_HEADER = /(?:caller (0x[0-9a-f]+|0) )?type (0x[0-9a-f]+|0) msg_id (0x[0-9a-f]+|0) dev_(?:id|num) (0x[0-9a-f]+|0) msg_size (0x[0-9a-f]+|0)/i;

/**
 * OP-TEE logs the header of each request it receives over FF-A (the 8-byte R3 header, docs/peers.md
 * §4), not the payload: each message is recorded as its header, token 0, and the payload is absent.
 */
function opteeReader(emit: Emit): LogReader {
  return {
    notes: [],
    absent: ['token', 'payload'],
    line(raw, n) {
      const m = OPTEE_HEADER.exec(raw);
      if (!m) return;
      const [type, msgId, devNum, msgSize] = [m[2], m[3], m[4], m[5]].map((x) => parseInt(x!, 16)) as [number, number, number, number];
      const bytes = Uint8Array.from([type, msgId, devNum & 0xff, devNum >> 8, 0, 0, msgSize & 0xff, msgSize >> 8]);
      emit({ line: n, timeNs: null, dir: 'driver-to-device', bytes, headerOnly: true });
    },
    end() {},
  };
}

// ---- the presets ------------------------------------------------------------------------------

const KERNEL_PREFIX = /virtio[-_]msg/i;

export const PRESETS: Readonly<Record<LogFormat, LogPreset>> = {
  hex: {
    id: 'hex',
    source: 'any log with one message per line as hex bytes, after an optional time and direction (tx/rx, >/<, send/recv)',
    example: '12.000105 tx 00 02 01 00 06 00',
    reader: (emit) => hexReader(() => true, emit),
  },
  linux: {
    id: 'linux',
    source:
      "the Linux virtio-msg transport's kernel log (pr_fmt \"virtio-msg: \", \"virtio-msg-ffa: \"): dmesg lines of a debug build that print_hex_dump()s each message, optionally after tx/rx",
    example: '[   12.000105] virtio-msg-ffa: tx 00000000: 02 80 00 00 18 00 01 00 00 00 01 00 00 00 00 00',
    peer: 'linux-rfc',
    reader: (emit) => hexReader((rest) => KERNEL_PREFIX.test(rest), emit),
  },
  qemu: {
    id: 'qemu',
    source: "QEMU's virtio-msg models: virtio_msg_print() of include/hw/virtio/virtio-msg-prot.h on stderr (its models define no trace events carrying message bytes)",
    example: 'virtio-msg: id GET_VQUEUE 0x9 type 0x0 dev_num 0x1 msg_size 0xc',
    peer: 'qemu',
    reader: printReader,
  },
  xen: {
    id: 'xen',
    source: "Xen's virtio-msg: virtio_msg_print() of xen/include/xen/virtio/std/virtio-msg-prot.h on the Xen console; a 6-byte header, no token, at most 44 bytes",
    example: '(XEN) virtio-msg: id SET_DEVICE_STATUS 0x8 type 0x0 dev_num 0x0 msg_size 0xa',
    revision: 'r2',
    maxMessageSize: XEN_MAX_MSG_SIZE,
    reader: printReader,
  },
  optee: {
    id: 'optee',
    source: "OP-TEE's virtio-msg over FF-A: the FMSG/DMSG header line of core virtio_msg_ffa.c / virtio_msg.c (headers only)",
    example: 'F/TC:0 0 virtio_msg_ffa_recv:412 caller 0x8001 type 0x2 msg_id 0x80 dev_id 0 msg_size 0x1a',
    revision: 'r3',
    reader: opteeReader,
  },
};

/** Most specific first: a QEMU or Xen print's payload lines would also read as one-message hex lines. */
export const GUESS_ORDER: readonly LogFormat[] = ['optee', 'xen', 'qemu', 'linux', 'hex'];

/** Xen's console prefix: the xen preset is guessed only for a log that has it. */
export const isXenLine = (line: string): boolean => XEN_PREFIX.test(line);
