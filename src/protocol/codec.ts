/**
 * virtio-msg encode/decode, driven by the message table (messages.ts). Each layout is compiled
 * once into a plan of steps; decode walks the plan over the bytes and never throws (wire errors
 * are Problems), encode walks the same plan into a DataView and throws only on programmer errors.
 */
import { HEADERS, MAX_MSG_SIZE, R0_FRAME_SIZE, lookupMessage } from './messages';
import type { BitField, FieldDef, Layout, MessageDef } from './messages';
import type {
  Decoded,
  DecodeOptions,
  FieldValue,
  Header,
  MessageInit,
  MessageKind,
  Problem,
  ProblemCode,
  Revision,
  VirtioMsg,
} from './types';
import { REVISIONS } from './types';
import { hexNum } from '../util/hex';

// ---- compiled plans ---------------------------------------------------------------------------

const OP_U8 = 0;
const OP_U16 = 1;
const OP_U24 = 2;
const OP_U32 = 3;
const OP_U64 = 4;
const OP_UUID = 5;
const OP_WORDS = 6;
const OP_BYTES = 7;
const OP_BITMAP = 8;

interface Step {
  readonly field: FieldDef;
  readonly name: string;
  readonly op: number;
  readonly offset: number;
  /** offset + wire size: the message must reach this far for the step to be read. */
  readonly end: number;
  /** Field holding the count and its offset, or null / -1 (fixed count, rest of message). */
  readonly count: string | null;
  readonly countOffset: number;
  /** Value checks to run (mbz, reserved bits, defined values, multiple-of). */
  readonly checked: boolean;
  /** Bits that must be zero (mbz words: all bits). */
  readonly reservedMask: number;
}

interface Plan {
  readonly label: string;
  readonly steps: readonly Step[];
  readonly fixedSize: number;
  readonly extensible: boolean;
  /** The variable-length last step, if any. */
  readonly tail: Step | null;
  readonly names: ReadonlySet<string>;
  /** Has 64-bit fields (read through a DataView). */
  readonly wide: boolean;
  /** Fields that are element/byte/bit counts of a later field, mapped to that field. */
  readonly countOf: ReadonlyMap<string, Step>;
}

interface Compiled {
  readonly def: MessageDef;
  readonly isEvent: boolean;
  readonly unknown: boolean;
  readonly request: Plan | null;
  readonly response: Plan | null;
  readonly event: Plan | null;
  /** MessageDef.seen compiled: a known peer's other request layout, told by its msg_size. */
  readonly seenRequest: { plan: Plan; who: string } | null;
}

function opOf(f: FieldDef): number {
  switch (f.type) {
    case 'u8': return OP_U8;
    case 'u16': return OP_U16;
    case 'u24': return OP_U24;
    case 'u32': return OP_U32;
    case 'u64': return OP_U64;
    case 'uuid': return OP_UUID;
    case 'u32[]': return OP_WORDS;
    case 'bytes': return OP_BYTES;
    case 'bitmap': return OP_BITMAP;
    default: {
      const never: never = f.type;
      throw new Error(`unhandled field type ${String(never)}`);
    }
  }
}

const fieldBits = (size: number): number => (size >= 4 ? 0xffffffff : 2 ** (8 * size) - 1);

function reservedMaskOf(f: FieldDef): number {
  if (f.mbz) return fieldBits(f.size);
  if (!f.bits) return 0;
  let used = 0;
  for (const b of f.bits) used += (2 ** b.width - 1) * 2 ** b.shift;
  return fieldBits(f.size) - used;
}

function compileLayout(label: string, layout: Layout): Plan {
  const steps = layout.fields.map((f): Step => {
    const reservedMask = reservedMaskOf(f);
    const checked = reservedMask !== 0 || !!f.bits?.some((b) => b.values) || !!f.values || !!f.multipleOf;
    const countOffset = layout.fields.find((c) => c.name === f.count)?.offset ?? -1;
    return { field: f, name: f.name, op: opOf(f), offset: f.offset, end: f.offset + f.size, count: f.count ?? null, countOffset, checked, reservedMask };
  });
  const last = steps[steps.length - 1];
  const countOf = new Map<string, Step>();
  for (const s of steps) if (s.count !== null) countOf.set(s.count, s);
  return {
    label,
    steps,
    fixedSize: layout.fixedSize,
    extensible: layout.extensible,
    tail: last && last.field.size === 0 ? last : null,
    names: new Set(steps.map((s) => s.name)),
    wide: steps.some((s) => s.op === OP_U64),
    countOf,
  };
}

function compile(def: MessageDef): Compiled {
  const plan = (kind: MessageKind): Plan | null => {
    const l = def.layouts[kind];
    return l ? compileLayout(`${def.name} ${kind}`, l) : null;
  };
  return {
    def,
    isEvent: def.kinds[0] === 'event',
    unknown: def.family === 'reserved',
    request: plan('request'),
    response: plan('response'),
    event: plan('event'),
    seenRequest: def.seen?.request ? { plan: compileLayout(`${def.name} request`, def.seen.request.layout), who: def.seen.request.who } : null,
  };
}

interface Space {
  readonly byKey: readonly Compiled[];
  /** Name → definitions (a RESERVED_ name exists in both namespaces; transport first). */
  readonly byName: ReadonlyMap<string, readonly Compiled[]>;
}

function buildSpace(rev: Revision): Space {
  const byKey: Compiled[] = [];
  const byName = new Map<string, Compiled[]>();
  for (let key = 0; key < 512; key++) {
    const c = compile(lookupMessage(rev, key >= 256, key & 0xff));
    byKey.push(c);
    byName.set(c.def.name, [...(byName.get(c.def.name) ?? []), c]);
  }
  return { byKey, byName };
}

const SPACES = Object.fromEntries(REVISIONS.map((r) => [r, buildSpace(r)])) as Record<Revision, Space>;

/** Header facts the hot path needs, per revision. */
interface HeaderInfo {
  readonly size: number;
  readonly tokenOffset: number;
  readonly msgSizeOffset: number;
  readonly typeReserved: number;
  readonly max: number;
  /** 1 where (bus ? 256 : 0) + msg_id is an event id. */
  readonly events: Uint8Array;
}
const HEAD = Object.fromEntries(
  REVISIONS.map((r): [Revision, HeaderInfo] => {
    const h = HEADERS[r];
    return [r, { size: h.size, tokenOffset: h.tokenOffset, msgSizeOffset: h.msgSizeOffset, typeReserved: reservedMaskOf(h.fields[0]!), max: MAX_MSG_SIZE[r], events: Uint8Array.from(SPACES[r].byKey, (c) => (c.isEvent ? 1 : 0)) }];
  }),
) as Record<Revision, HeaderInfo>;

// ---- helpers ----------------------------------------------------------------------------------

const sized = (v: number): string => `${hexNum(v, 4)} (${v})`;

function problem(problems: Problem[], offset: number, code: ProblemCode, reason: string): void {
  problems.push({ offset, code, reason });
}

const le16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const le32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

/** Index of the first non-zero byte in [from, to), or -1. */
function firstNonZero(bytes: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return i;
  return -1;
}

function zeroRun(bytes: Uint8Array, from: number, to: number, problems: Problem[], code: ProblemCode, what: string): void {
  const at = firstNonZero(bytes, from, to);
  if (at >= 0) problem(problems, at, code, `${what} must be zero, byte ${at} is ${hexNum(bytes[at]!, 2)}`);
}

function defined(values: Readonly<Record<number, string>>): string {
  return Object.entries(values).map(([v, n]) => `${v} ${n}`).join(', ');
}

function checkValue(s: Step, v: number, problems: Problem[]): void {
  const f = s.field;
  const digits = 2 * Math.min(f.size, 4);
  if (s.reservedMask !== 0 && (v & s.reservedMask) !== 0) {
    const what = f.mbz ? f.name : `${f.name} reserved bits ${hexNum(s.reservedMask, digits)}`;
    problem(problems, s.offset, 'reserved-bits', `${what} must be 0, saw ${hexNum(v, digits)}`);
  }
  for (const b of f.bits ?? []) checkBitValue(s, b, v, problems);
  if (f.values && !(v in f.values) && !(f.implFrom !== undefined && v >= f.implFrom)) {
    const impl = f.implFrom === undefined ? '' : `, ≥ ${hexNum(f.implFrom, digits)} implementation-defined`;
    problem(problems, s.offset, 'bad-field', `${f.name} ${hexNum(v, digits)} is reserved (defined: ${defined(f.values)}${impl})`);
  }
  if (f.multipleOf && v % f.multipleOf !== 0) {
    problem(problems, s.offset, 'bad-field', `${f.name} must be a multiple of ${f.multipleOf}, saw ${v}`);
  }
}

function checkBitValue(s: Step, b: BitField, v: number, problems: Problem[]): void {
  if (!b.values) return;
  const sub = Math.floor(v / 2 ** b.shift) % 2 ** b.width;
  if (!(sub in b.values)) {
    problem(problems, s.offset, 'bad-field', `${s.name}.${b.name} ${sub} is reserved (defined: ${defined(b.values)})`);
  }
}

/** Bytes a tail needs for a count. */
function tailBytes(s: Step, count: number): number {
  return s.op === OP_WORDS ? 4 * count : s.op === OP_BITMAP ? Math.ceil(count / 8) : count;
}

// ---- decode -----------------------------------------------------------------------------------

/** The layout for a header: events by id, then the response bit (R0: or the direction, docs/amp-bus.md §3.2). */
function kindOf(c: Compiled, type: number, rev: Revision, opts: DecodeOptions | undefined): MessageKind {
  if (c.isEvent) return 'event';
  if ((type & 1) !== 0 || (rev === 'r0' && opts?.direction === 'device-to-driver')) return 'response';
  return 'request';
}

/**
 * Decodes one message. Never throws: everything wrong with the bytes is a Problem with its byte
 * offset, and every field the bytes reach is still filled.
 */
export function decode(bytes: Uint8Array, rev: Revision, opts?: DecodeOptions): Decoded {
  const problems: Problem[] = [];
  const h = HEAD[rev];
  const n = bytes.length;
  if (n < h.size) {
    problem(problems, n, 'truncated', `${rev} header is ${h.size} bytes but ${n} received`);
    return { msg: null, problems };
  }
  const type = bytes[0]!;
  const msgId = bytes[1]!;
  const devNum = le16(bytes, 2);
  const token = h.tokenOffset < 0 ? 0 : le16(bytes, h.tokenOffset);
  const bus = (type & 2) !== 0;
  const c = SPACES[rev].byKey[(bus ? 256 : 0) | msgId]!;
  const kind = kindOf(c, type, rev, opts);

  if ((type & h.typeReserved) !== 0) {
    problem(problems, 0, 'reserved-bits', `type ${hexNum(type, 2)}: reserved bits 2–7 must be 0, saw ${hexNum(type & h.typeReserved, 2)}`);
  }
  if (c.isEvent && (type & 1) !== 0) {
    problem(problems, 0, 'event-response', `${c.def.name} (${hexNum(msgId, 2)}) is an event but type ${hexNum(type, 2)} has the response bit set`);
  }
  if (c.unknown) {
    problem(problems, 1, 'unknown-id', `msg_id ${hexNum(msgId, 2)} is reserved in the ${rev} ${bus ? 'bus' : 'transport'} namespace`);
  }
  if (bus && devNum !== 0) problem(problems, 2, 'bad-field', `bus message must have dev_num 0, saw ${devNum}`);

  // len: bytes that belong to the message; declared: the size the header claims; sizeChecks:
  // msg_size is usable to check the payload's own counts against.
  let msgSize: number;
  let len: number;
  let declared: number;
  let short = false;
  let sizeChecks = false;
  const mso = h.msgSizeOffset;
  if (mso < 0) {
    msgSize = declared = R0_FRAME_SIZE;
    len = Math.min(n, R0_FRAME_SIZE);
    if (n < R0_FRAME_SIZE) {
      short = true;
      problem(problems, n, 'truncated', `R0 frame is ${R0_FRAME_SIZE} bytes but ${n} received`);
    }
  } else {
    msgSize = le16(bytes, mso);
    if (msgSize < h.size) {
      problem(problems, mso, 'size-mismatch', `msg_size ${sized(msgSize)} is smaller than the ${h.size}-byte header`);
      len = declared = n;
    } else {
      declared = msgSize;
      len = Math.min(n, msgSize);
      sizeChecks = true;
      if (n < msgSize) problem(problems, mso, 'size-mismatch', `msg_size ${sized(msgSize)} but ${n} bytes received`);
    }
  }
  if (n > msgSize && declared === msgSize) {
    // A queue slot is often longer than the message: only non-zero bytes past it are suspicious.
    zeroRun(bytes, msgSize, n, problems, 'trailing-bytes', `${n - msgSize} bytes after msg_size ${sized(msgSize)}`);
  }
  const max = opts?.maxSize !== undefined && opts.maxSize < h.max ? opts.maxSize : h.max;
  if (msgSize > max) {
    const whose = max === h.max ? `the ${rev} maximum` : 'the bus maximum';
    problem(problems, Math.max(mso, 0), 'oversize', `msg_size ${sized(msgSize)} exceeds ${whose} ${max}`);
  }

  let plan = (c.isEvent ? c.event : kind === 'response' ? c.response : c.request)!;
  const seen = kind === 'request' ? c.seenRequest : null;
  if (seen !== null && sizeChecks && declared === seen.plan.fixedSize && declared !== plan.fixedSize) {
    // What the peer sends, decoded as it is, with the mismatch said: the table's size and fields against the bytes'.
    const names = (p: Plan): string => p.steps.map((x) => x.name).join(', ');
    problem(problems, mso, 'size-mismatch', `${plan.label} is ${plan.fixedSize} bytes in ${rev} (${names(plan)}), but msg_size is ${declared}: the ${seen.plan.fixedSize}-byte layout of ${seen.who} (${names(seen.plan)}), decoded as such`);
    plan = seen.plan;
  }
  // Constructing a DataView costs about as much as the rest of a small decode (Node 20), so
  // only plans with 64-bit fields get one; narrower integers are read from the bytes directly.
  const dv = plan.wide ? new DataView(bytes.buffer, bytes.byteOffset, n) : null;
  const fields = decodeFields(plan, bytes, dv, len, declared, sizeChecks, short, problems);
  if (mso < 0) zeroRun(bytes, plan.fixedSize, len, problems, 'reserved-bits', 'R0 unused payload bytes');

  const msg: VirtioMsg = { revision: rev, type, kind, bus, msgId, name: c.def.name, devNum, token, msgSize, fields };
  return { msg, problems };
}

/**
 * The msg_size a decoded message's layout needs for the counts it carries: the fixed part and,
 * unless it may be absent, the tail. Fields past a shorter msg_size were never sent.
 */
export function layoutSize(msg: VirtioMsg): number {
  const c = SPACES[msg.revision].byKey[(msg.bus ? 256 : 0) | msg.msgId]!;
  const plan = (c.isEvent ? c.event : msg.kind === 'response' ? c.response : c.request)!;
  const tail = plan.tail;
  if (tail === null || tail.count === null || tail.field.optional) return plan.fixedSize;
  return plan.fixedSize + tailBytes(tail, (msg.fields[tail.count] as number | undefined) ?? 0);
}

function decodeFields(
  plan: Plan,
  bytes: Uint8Array,
  dv: DataView | null,
  len: number,
  declared: number,
  sizeChecks: boolean,
  short: boolean,
  problems: Problem[],
): Record<string, FieldValue> {
  const fields: Record<string, FieldValue> = {};
  const steps = plan.steps;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    const o = s.offset;
    if (s.end > len) {
      if (!short) {
        problem(problems, len, 'truncated', `${plan.label} needs ${plan.fixedSize} bytes, only ${len} available (msg_size ${declared}, ${bytes.length} received)`);
      }
      return fields;
    }
    let v: FieldValue;
    switch (s.op) {
      case OP_U8: v = bytes[o]!; break;
      case OP_U16: v = le16(bytes, o); break;
      case OP_U24: v = le16(bytes, o) + (bytes[o + 2]! << 16); break;
      case OP_U32: v = le32(bytes, o); break;
      case OP_U64: v = dv!.getBigUint64(o, true); break;
      case OP_UUID: v = bytes.slice(o, s.end); break;
      default: v = decodeRun(plan, s, fields, bytes, len, declared, sizeChecks, problems);
    }
    fields[s.name] = v;
    if (s.checked) checkValue(s, v as number, problems);
  }
  if (sizeChecks && plan.tail === null && declared > plan.fixedSize && !plan.extensible) {
    problem(problems, plan.fixedSize, 'size-mismatch', `${plan.label} is ${plan.fixedSize} bytes but msg_size is ${declared}`);
  }
  return fields;
}

/** Arrays, byte runs and bitmaps: as much as the bytes allow, checked against msg_size. */
function decodeRun(
  plan: Plan,
  s: Step,
  fields: Record<string, FieldValue>,
  bytes: Uint8Array,
  len: number,
  declared: number,
  sizeChecks: boolean,
  problems: Problem[],
): FieldValue {
  const o = s.offset;
  if (s.count === null) {
    // Fixed-count words (R0 features) fill their area; an opaque payload runs to the end.
    const end = s.field.size > 0 ? s.end : len;
    return s.op === OP_WORDS ? readWords(bytes, o, (end - o) >>> 2) : bytes.slice(o, end);
  }
  const count = fields[s.count] as number;
  if (s.field.size > 0) {
    // R0 fixed area holding `count` bytes (OpenAMP GET/SET_CONFIG, EVENT_CONFIG).
    if (count > s.field.size) {
      problem(problems, s.countOffset, 'bad-field', `${s.count} ${count} exceeds the ${s.field.size}-byte ${s.name} field`);
    }
    const used = Math.min(count, s.field.size);
    zeroRun(bytes, o + used, s.end, problems, 'reserved-bits', `${s.name} bytes past ${s.count} ${count}`);
    return bytes.slice(o, o + used);
  }
  const need = tailBytes(s, count);
  if (sizeChecks) {
    const full = plan.fixedSize + need;
    const absent = s.field.optional === true && declared === plan.fixedSize;
    if (declared !== full && !absent) {
      const alt = s.field.optional ? ` (or ${plan.fixedSize} without ${s.name})` : '';
      // QEMU's virtio-msg model sizes GET_DEVICES as 14 + num (QEMU field notes): say so, since
      // the bytes past count/8 are then not bitmap (only `need` bytes are ever decoded).
      const inBytes = s.op === OP_BITMAP && declared === plan.fixedSize + count && count > 0 ? `: ${plan.fixedSize} + ${count}, the ${s.name} counted in bytes, not bits` : '';
      problem(problems, s.countOffset, 'size-mismatch', `${s.count} ${count} needs msg_size ${full}${alt} but msg_size is ${declared}${inBytes}`);
    }
  }
  const avail = len - o;
  if (s.op === OP_WORDS) return readWords(bytes, o, Math.min(count, avail >>> 2));
  const taken = bytes.slice(o, o + Math.min(need, avail));
  if (s.op === OP_BITMAP && count % 8 !== 0 && taken.length === need) {
    // §6.14 (R4): bitmap bits past `count` in the last byte are zero.
    const lastByte = taken[need - 1]!;
    const unused = 0xff & ~((1 << (count % 8)) - 1);
    if ((lastByte & unused) !== 0) {
      problem(problems, o + need - 1, 'reserved-bits', `${s.name} bits past ${s.count} ${count} must be 0, saw ${hexNum(lastByte, 2)} in the last byte`);
    }
  }
  return taken;
}

function readWords(bytes: Uint8Array, offset: number, n: number): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = le32(bytes, offset + 4 * i);
  return out;
}

/**
 * The header alone, for routing and matching: no allocation beyond the result. null when the
 * bytes are shorter than the header. R0: msgSize 40, token 0, kind without direction.
 */
export function decodeHeader(bytes: Uint8Array, rev: Revision): Header | null {
  const h = HEAD[rev];
  if (bytes.length < h.size) return null;
  const type = bytes[0]!;
  const msgId = bytes[1]!;
  const bus = (type & 2) !== 0;
  const t = h.tokenOffset;
  const m = h.msgSizeOffset;
  return {
    type,
    kind: h.events[(bus ? 256 : 0) | msgId] === 1 ? 'event' : (type & 1) !== 0 ? 'response' : 'request',
    bus,
    msgId,
    devNum: le16(bytes, 2),
    token: t < 0 ? 0 : le16(bytes, t),
    msgSize: m < 0 ? R0_FRAME_SIZE : le16(bytes, m),
    headerSize: h.size,
  };
}

// ---- encode -----------------------------------------------------------------------------------

function resolve(rev: Revision, init: MessageInit): Compiled {
  const space = SPACES[rev];
  if (init.name !== undefined) {
    const named = space.byName.get(init.name);
    if (!named) throw new Error(`encode ${rev}: unknown message name ${init.name}`);
    const c = init.bus === undefined ? named[0]! : named.find((x) => x.def.bus === init.bus);
    if (!c) throw new Error(`encode ${rev}: ${init.name} is not a ${init.bus ? 'bus' : 'transport'} message`);
    if (init.msgId !== undefined && init.msgId !== c.def.msgId) {
      throw new Error(`encode ${rev}: ${init.name} is msg_id ${hexNum(c.def.msgId, 2)}, not ${init.msgId}`);
    }
    return c;
  }
  if (init.msgId === undefined) throw new Error(`encode ${rev}: give a name or a msgId`);
  return space.byKey[(init.bus ? 256 : 0) + uint(`encode ${rev}`, 'msgId', init.msgId, 1)]!;
}

function uint(where: string, name: string, v: unknown, size: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > fieldBits(size)) {
    throw new Error(`${where}: ${name} must be an unsigned ${8 * size}-bit integer, got ${String(v)}`);
  }
  return v;
}

function u64(where: string, name: string, v: unknown): bigint {
  const b = typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : v;
  if (typeof b !== 'bigint' || b < 0n || b > 0xffffffffffffffffn) {
    throw new Error(`${where}: ${name} must be an unsigned 64-bit bigint, got ${String(v)}`);
  }
  return b;
}

function byteArray(where: string, name: string, v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new Error(`${where}: ${name} must be a Uint8Array`);
  return v;
}

function wordArray(where: string, name: string, v: unknown): number[] {
  if (!Array.isArray(v)) throw new Error(`${where}: ${name} must be a number[]`);
  return v.map((w, i) => uint(where, `${name}[${i}]`, w, 4));
}

/** Elements / bytes / bits an array value represents, as its count field would say. */
function countFor(s: Step, v: Uint8Array | number[]): number {
  return s.op === OP_BITMAP ? 8 * v.length : v.length;
}

/**
 * Encodes a message byte-exactly. msg_size and the type byte are computed; reserved words
 * default to 0; a count field may be omitted when its array is given. Throws on unknown names,
 * missing or out-of-range fields and counts that disagree with their arrays (programmer errors).
 */
export function encode(rev: Revision, init: MessageInit): Uint8Array<ArrayBuffer> {
  const c = resolve(rev, init);
  const where = `encode ${rev} ${c.def.name} ${init.kind}`;
  const plan = c[init.kind];
  if (!plan) throw new Error(`${where}: ${c.def.name} is ${c.isEvent ? 'an event' : 'not an event'}`);
  const given = init.fields ?? {};
  for (const k of Object.keys(given)) if (!plan.names.has(k)) throw new Error(`${where}: no field ${k}`);

  const values = resolveValues(where, plan, given);
  const h = HEAD[rev];
  const size = h.msgSizeOffset < 0 ? R0_FRAME_SIZE : plan.fixedSize + values.tailLength;
  const devNum = uint(where, 'devNum', init.devNum ?? 0, 2);
  const token = uint(where, 'token', init.token ?? 0, 2);
  if (h.tokenOffset < 0 && token !== 0) throw new Error(`${where}: ${rev} has no token`);
  if (h.msgSizeOffset < 0 && init.msgSize !== undefined) throw new Error(`${where}: R0 frames have no msg_size`);

  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out[0] = init.type === undefined ? (init.kind === 'response' ? 1 : 0) | (c.def.bus ? 2 : 0) : uint(where, 'type', init.type, 1);
  out[1] = c.def.msgId;
  dv.setUint16(2, devNum, true);
  if (h.tokenOffset >= 0) dv.setUint16(h.tokenOffset, token, true);
  if (h.msgSizeOffset >= 0) dv.setUint16(h.msgSizeOffset, uint(where, 'msgSize', init.msgSize ?? size, 2), true);
  for (const s of plan.steps) writeStep(s, values.byName.get(s.name)!, dv, out);
  return out;
}

interface Values {
  byName: Map<string, FieldValue>;
  /** Wire bytes of the variable-length tail. */
  tailLength: number;
}

/** Validates every value against its step; fills reserved words, derivable counts and empty runs. */
function resolveValues(where: string, plan: Plan, given: Record<string, FieldValue>): Values {
  const byName = new Map<string, FieldValue>();
  for (const s of plan.steps) byName.set(s.name, normalize(where, s, given[s.name] ?? defaultFor(s, plan, given)));
  let tailLength = 0;
  for (const s of plan.steps) {
    if (s.op < OP_UUID) continue;
    const wire = runLength(where, s, byName);
    if (s === plan.tail) tailLength = wire;
  }
  return { byName, tailLength };
}

function defaultFor(s: Step, plan: Plan, given: Record<string, FieldValue>): FieldValue | undefined {
  const counted = plan.countOf.get(s.name);
  if (counted) return countFor(counted, (given[counted.name] as Uint8Array | number[] | undefined) ?? []);
  if (s.field.mbz) return 0;
  if (s.op === OP_WORDS && s.count !== null) return [];
  if (s.op === OP_BYTES || s.op === OP_BITMAP) return new Uint8Array(0);
  return undefined;
}

function normalize(where: string, s: Step, v: FieldValue | undefined): FieldValue {
  switch (s.op) {
    case OP_U64: return u64(where, s.name, v);
    case OP_WORDS: return wordArray(where, s.name, v);
    case OP_UUID: case OP_BYTES: case OP_BITMAP: return byteArray(where, s.name, v);
    default: return uint(where, s.name, v, s.field.size);
  }
}

/** Wire bytes of a run; it must agree with its count (an optional tail may be empty). */
function runLength(where: string, s: Step, byName: Map<string, FieldValue>): number {
  const v = byName.get(s.name) as Uint8Array | number[];
  const have = s.op === OP_WORDS ? 4 * v.length : v.length;
  let need: number;
  if (s.count === null) need = s.field.size > 0 ? s.field.size : have;
  else {
    const count = byName.get(s.count) as number;
    // An R0 area holds min(count, size) bytes; a tail exactly what its count says.
    need = s.field.size > 0 ? Math.min(count, s.field.size) : tailBytes(s, count);
    if (have === 0 && s.field.optional) return 0;
  }
  if (have !== need) throw new Error(`${where}: ${s.name} must be ${need} bytes on the wire, got ${have}`);
  return have;
}

function writeStep(s: Step, v: FieldValue, dv: DataView, out: Uint8Array): void {
  const o = s.offset;
  switch (s.op) {
    case OP_U8: out[o] = v as number; break;
    case OP_U16: dv.setUint16(o, v as number, true); break;
    case OP_U24: dv.setUint16(o, (v as number) & 0xffff, true); out[o + 2] = (v as number) >>> 16; break;
    case OP_U32: dv.setUint32(o, v as number, true); break;
    case OP_U64: dv.setBigUint64(o, v as bigint, true); break;
    case OP_WORDS: (v as number[]).forEach((w, i) => dv.setUint32(o + 4 * i, w, true)); break;
    default: out.set(v as Uint8Array, o);
  }
}
