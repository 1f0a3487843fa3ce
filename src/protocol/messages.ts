/**
 * The virtio-msg message table: the one source of truth for header layouts, message ids, names,
 * kinds and payload layouts of every revision (docs/protocol.md §4–§6, §6R2, §6R1, §12.4;
 * R0 from OpenAMP lib/include/openamp/virtio_msg.h, all structs packed). The codec, the
 * Wireshark dissector generator and UI labels derive from MESSAGES / HEADERS; nothing else lists
 * a layout.
 *
 * Layouts are written below as ordered field lists; every layout in every revision is packed
 * (alignment padding is an explicit reserved word), so absolute offsets follow from the header
 * size and the field sizes and are stored resolved in the exported table.
 */
import type { MessageKind, Revision } from './types';
import { hexNum } from '../util/hex';

/**
 * Wire types: integers little-endian; u24 is R0's 3-byte config offset; uuid is 16 raw bytes;
 * u32[], bytes and bitmap take their element / byte / bit count from the field named `count`
 * (or, without `count`, bytes run to the end of the message).
 */
export type FieldType = 'u8' | 'u16' | 'u24' | 'u32' | 'u64' | 'uuid' | 'u32[]' | 'bytes' | 'bitmap';

/** A named bit range inside an integer field (flags words). */
export interface BitField {
  name: string;
  shift: number;
  width: number;
  /** The values the protocol defines for this range; any other value is a bad field. */
  values?: Readonly<Record<number, string>>;
}

export interface FieldDef {
  /** The protocol's snake_case name. */
  name: string;
  type: FieldType;
  /** Absolute offset from the first header byte. */
  offset: number;
  /**
   * Bytes on the wire. 0 for a variable-length tail. A u32[] without `count` holds size/4 words;
   * a bytes field with `count` and a non-zero size is a fixed area (R0 config data) holding
   * `count` bytes, the unused rest zero.
   */
  size: number;
  /** The earlier field holding this field's element count (u32[]), byte length (bytes) or bit count (bitmap). */
  count?: string;
  /** A tail that may be absent (msg_size = fixed size) even when `count` is non-zero. */
  optional?: boolean;
  /** A reserved word: must be zero. */
  mbz?: boolean;
  /** Named bit ranges; bits outside them are reserved and must be zero. */
  bits?: readonly BitField[];
  /** The values the protocol defines; other values below `implFrom` are bad fields. */
  values?: Readonly<Record<number, string>>;
  /** First implementation-defined value (always acceptable). */
  implFrom?: number;
  /** The value must be a multiple of this. */
  multipleOf?: number;
  /** Device status bits (docs/protocol.md Appendix C): shown in hex with their names. */
  deviceStatus?: boolean;
}

export interface Layout {
  /** In wire order; at most the last one is a variable-length tail. */
  fields: readonly FieldDef[];
  /** Header plus every fixed-size field: the smallest valid msg_size. */
  fixedSize: number;
  /** msg_size may exceed fixedSize without a problem (FF-A bus messages padded to the bus minimum). */
  extensible: boolean;
}

export type MessageFamily = 'virtio-msg' | 'ff-a' | 'openamp' | 'impl' | 'reserved';

export interface MessageDef {
  revision: Revision;
  /** `type` bit1: the bus namespace. */
  bus: boolean;
  msgId: number;
  name: string;
  family: MessageFamily;
  /** ['event'] for one-way events, else ['request', 'response']. */
  kinds: readonly MessageKind[];
  layouts: Readonly<Partial<Record<MessageKind, Layout>>>;
  /** Where the layout comes from (docs/protocol.md section or source). */
  ref: string;
  /** Another layout a known peer sends under this id instead, told apart by its msg_size (decoded, and flagged). */
  seen?: Readonly<Partial<Record<MessageKind, SeenLayout>>>;
}

export interface SeenLayout {
  layout: Layout;
  /** Whose layout it is, for the problem that names the mismatch. */
  who: string;
}

export interface HeaderDef {
  size: number;
  fields: readonly FieldDef[];
  /** -1 where the revision has no such field (R0, R2 token; R0 msg_size). */
  tokenOffset: number;
  msgSizeOffset: number;
}

/** R0 messages are always this long, padded with zeros (§4.3). */
export const R0_FRAME_SIZE = 40;

export const HEADER_SIZE: Readonly<Record<Revision, number>> = { r0: 4, r2: 6, r3: 8, r4: 8 };

/** The revision tables' maximum msg_size (§8; R2/R3 say 65536, which no le16 can carry). */
export const MAX_MSG_SIZE: Readonly<Record<Revision, number>> = { r0: R0_FRAME_SIZE, r2: 65536, r3: 65536, r4: 65535 };

/** The smallest maximum message size a bus must advertise (§8). */
export const MIN_BUS_MSG_SIZE: Readonly<Record<Revision, number>> = { r0: R0_FRAME_SIZE, r2: 44, r3: 44, r4: 52 };

/** What a bus needs in practice: R3's fixed messages reach 48 bytes although the table says 44 (§18.3). */
export const PRACTICAL_MIN_BUS_MSG_SIZE: Readonly<Record<Revision, number>> = { r0: R0_FRAME_SIZE, r2: 44, r3: 48, r4: 52 };

// ---- field notation ---------------------------------------------------------------------------

type FieldSpec = Omit<FieldDef, 'offset'>;
type Extra = Partial<Omit<FieldSpec, 'name' | 'type' | 'size'>>;
type Fields = readonly FieldSpec[];

const SIZE = { u8: 1, u16: 2, u24: 3, u32: 4, u64: 8, uuid: 16 } as const;
const int =
  (type: keyof typeof SIZE) =>
  (name: string, extra: Extra = {}): FieldSpec => ({ name, type, size: SIZE[type], ...extra });
const u8 = int('u8');
const u16 = int('u16');
const u24 = int('u24');
const u32 = int('u32');
const u64 = int('u64');
const status = (name: string): FieldSpec => u32(name, { deviceStatus: true });
const uuid = int('uuid');
const rsv8 = (name: string): FieldSpec => u8(name, { mbz: true });
const rsv32 = (name: string): FieldSpec => u32(name, { mbz: true });
const words = (name: string, count: string): FieldSpec => ({ name, type: 'u32[]', size: 0, count });
const bytes = (name: string, count: string, extra: Extra = {}): FieldSpec => ({ name, type: 'bytes', size: 0, count, ...extra });
/** R0 fixed area of `size` bytes holding `count` of them. */
const area = (name: string, count: string, size: number): FieldSpec => ({ name, type: 'bytes', size, count });
const bitmap = (name: string, count: string): FieldSpec => ({ name, type: 'bitmap', size: 0, count });
/** Opaque payload of messages whose layout is unknown: the rest of the message. */
const OPAQUE: Fields = [{ name: 'payload', type: 'bytes', size: 0 }];
const NONE: Fields = [];

/** Per-revision variants (R2+ tables); a plain list applies to every revision of its table. */
type Modern = Exclude<Revision, 'r0'>;
type LayoutSpec = Fields | Readonly<Record<Modern, Fields>>;

interface MsgSpec {
  id: number;
  name: string;
  ref: string;
  family?: MessageFamily;
  /** Layouts present: request + response, or event. */
  request?: LayoutSpec;
  response?: LayoutSpec;
  event?: LayoutSpec;
  /** Layouts a known peer sends instead, on the revisions it does so (MessageDef.seen). */
  seen?: Partial<Record<MessageKind, { layout: Partial<Record<Modern, Fields>>; who: string }>>;
}

const upTo = (r2r3: Fields, r4: Fields): LayoutSpec => ({ r2: r2r3, r3: r2r3, r4 });

// ---- R2 / R3 / R4 transport messages (§5.1, §6, §6R2) -----------------------------------------

const VQ_ADDRS: Fields = [u64('desc_addr'), u64('driver_addr'), u64('device_addr')];
const FEATURE_BLOCKS: Fields = [u32('block_index'), u32('num_blocks'), words('features', 'num_blocks')];
const CONFIG_RANGE: Fields = [u32('offset'), u32('length')];
const CONFIG_DATA: Fields = [u32('generation'), ...CONFIG_RANGE, bytes('data', 'length')];
const DEVICE_INFO_R2R3: Fields = [
  u32('device_id'),
  u32('vendor_id'),
  u32('num_feature_bits', { multipleOf: 32 }),
  u32('config_size'),
  u32('max_virtqueues'),
  u16('admin_vq_start'),
  u16('admin_vq_count'),
];

// §6.8 R4 SET_VQUEUE flags: bits 1:0 state op, bits 5:2 "ignore" bits, bits 31:6 MBZ.
const SET_VQUEUE_FLAGS_R4 = u32('flags', {
  bits: [
    { name: 'state_op', shift: 0, width: 2, values: { 0: 'keep disabled', 1: 'enable', 2: 'keep current' } },
    { name: 'size_ignore', shift: 2, width: 1 },
    { name: 'desc_addr_ignore', shift: 3, width: 1 },
    { name: 'driver_addr_ignore', shift: 4, width: 1 },
    { name: 'device_addr_ignore', shift: 5, width: 1 },
  ],
});

const TRANSPORT: readonly MsgSpec[] = [
  {
    id: 0x02, name: 'GET_DEVICE_INFO', ref: '§6.1, §6R2', request: NONE,
    response: upTo(DEVICE_INFO_R2R3, [
      u32('device_id'), u32('vendor_id'), uuid('device_uuid'), u32('num_feature_blocks'),
      u32('config_size'), u32('max_virtqueues'), u32('admin_vq_start'), u32('admin_vq_count'),
    ]),
  },
  { id: 0x03, name: 'GET_DEVICE_FEATURES', ref: '§6.2', request: FEATURE_BLOCKS.slice(0, 2), response: FEATURE_BLOCKS },
  { id: 0x04, name: 'SET_DRIVER_FEATURES', ref: '§6.3', request: FEATURE_BLOCKS, response: NONE },
  { id: 0x05, name: 'GET_CONFIG', ref: '§6.4', request: CONFIG_RANGE, response: CONFIG_DATA },
  {
    // §6.5: a rejected write (R3) or length 0 answers without data; R4 omits the echo when 0.
    id: 0x06, name: 'SET_CONFIG', ref: '§6.5', request: CONFIG_DATA,
    response: [u32('generation'), ...CONFIG_RANGE, bytes('data', 'length', { optional: true })],
  },
  { id: 0x07, name: 'GET_DEVICE_STATUS', ref: '§6.6', request: NONE, response: [status('status')] },
  { id: 0x08, name: 'SET_DEVICE_STATUS', ref: '§6.6', request: [status('status')], response: [status('status')] },
  {
    // §6R2: the R2 vqueue messages have no alignment word.
    id: 0x09, name: 'GET_VQUEUE', ref: '§6.7, §6R2', request: [u32('index')],
    response: {
      r2: [u32('index'), u32('max_size'), u32('cur_size'), ...VQ_ADDRS],
      r3: [u32('index'), u32('max_size'), u32('cur_size'), rsv32('reserved'), ...VQ_ADDRS],
      r4: [u32('index'), u32('max_size'), u32('cur_size'), u32('flags', { bits: [{ name: 'enabled', shift: 0, width: 1 }] }), ...VQ_ADDRS],
    },
  },
  {
    id: 0x0a, name: 'SET_VQUEUE', ref: '§6.8, §6R2', response: NONE,
    request: {
      r2: [u32('index'), rsv32('reserved'), u32('size'), ...VQ_ADDRS],
      r3: [u32('index'), rsv32('reserved0'), u32('size'), rsv32('reserved1'), ...VQ_ADDRS],
      r4: [u32('index'), SET_VQUEUE_FLAGS_R4, u32('size'), rsv32('reserved1'), ...VQ_ADDRS],
    },
  },
  { id: 0x0b, name: 'RESET_VQUEUE', ref: '§6.9', request: [u32('index')], response: NONE },
  {
    id: 0x0c, name: 'GET_SHM', ref: '§6.10, §6R2',
    request: upTo([u32('index')], [u32('shmid')]),
    response: upTo([u32('index'), u32('length'), u32('address')], [u32('shmid'), rsv32('reserved'), u64('length'), u64('address')]),
  },
  {
    // §6.11: data is present iff msg_size = 24 + length.
    id: 0x40, name: 'EVENT_CONFIG', ref: '§6.11',
    event: [status('device_status'), u32('generation'), ...CONFIG_RANGE, bytes('data', 'length', { optional: true })],
  },
  {
    // §10.1: with VIRTIO_F_NOTIFICATION_DATA bits 30:0 = next_off, bit 31 = next_wrap.
    id: 0x41, name: 'EVENT_AVAIL', ref: '§6.12, §10.1',
    event: [u32('vq_index'), u32('next_offset', { bits: [{ name: 'next_off', shift: 0, width: 31 }, { name: 'next_wrap', shift: 31, width: 1 }] })],
  },
  { id: 0x42, name: 'EVENT_USED', ref: '§6.13', event: [u32('vq_index')] },
];

// ---- R2 / R3 / R4 bus messages (§5.2, §6.14–§6.16, §12.4) -------------------------------------

const DEVICE_COUNT_R3 = u16('count', { multipleOf: 8 });
const busState = (added: string): FieldSpec =>
  u16('device_bus_state', { values: { 1: added, 2: 'REMOVED' }, implFrom: 0x8000 });
/**
 * FF-A layouts (§12.4): R2 buses use the Linux RFC's uapi structs ([K-FFA b],
 * include/uapi/linux/virtio_msg_ffa.h of the FF-A bus patch), R3/R4 buses generation (c).
 */
const ffa = (r2: Fields, c: Fields): LayoutSpec => ({ r2, r3: c, r4: c });
/** VIRTIO_MSG_FFA_RESULT_ERROR / _BUSY; 0 is success (§12.4). */
const RESULT_WORD = u16('result', { bits: [{ name: 'error', shift: 0, width: 1 }, { name: 'busy', shift: 1, width: 1 }] });
const FFA_DIRECT_INDIRECT: readonly BitField[] = [
  { name: 'direct_msg_rx', shift: 0, width: 1 },
  { name: 'direct_msg_tx', shift: 1, width: 1 },
  { name: 'indirect_msg_rx', shift: 2, width: 1 },
  { name: 'indirect_msg_tx', shift: 3, width: 1 },
];
/** VIRTIO_MSG_FFA_FEATURE_*_SUPP of the RFC header; (c) adds notification and FIFO delivery. */
const FFA_FEATURES_R2 = u32('features', { bits: FFA_DIRECT_INDIRECT });
const FFA_FEATURES_C = u32('bus_features', {
  bits: [...FFA_DIRECT_INDIRECT, { name: 'notification_rx', shift: 4, width: 1 }, { name: 'notification_tx', shift: 5, width: 1 }, { name: 'fifo', shift: 6, width: 1 }],
});
/** VIRTIO_MSG_FFA_BUS_VERSION_1_0. */
const FFA_VERSION_R2 = { values: { 1: '1.0' } } as const;
/** The RFC's bus_ffa_version / bus_ffa_version_resp: the same words, named for who sends them. */
const ffaVersionR2 = (version: string): Fields => [u32(version, FFA_VERSION_R2), u32('vmsg_revision'), u32('vmsg_features'), FFA_FEATURES_R2, u16('area_num')];
const RESULT: Fields = [RESULT_WORD];
const AREA_RESULT: Fields = [u16('area_id'), RESULT_WORD];

const BUS: readonly MsgSpec[] = [
  {
    // §6.14: the R4 response moved next_offset before count and dropped the multiple-of-8 rule.
    id: 0x02, name: 'GET_DEVICES', ref: '§6.14, §6R2',
    request: { r2: [u16('offset'), u16('count')], r3: [u16('offset'), DEVICE_COUNT_R3], r4: [u16('offset'), u16('count')] },
    response: {
      r2: [u16('offset'), u16('count'), u16('next_offset'), bitmap('bitmap', 'count')],
      r3: [u16('offset'), DEVICE_COUNT_R3, u16('next_offset'), bitmap('bitmap', 'count')],
      r4: [u16('offset'), u16('next_offset'), u16('count'), bitmap('bitmap', 'count')],
    },
  },
  { id: 0x03, name: 'PING', ref: '§6.15', request: [u32('data')], response: [u32('data')] },
  {
    id: 0x40, name: 'EVENT_DEVICE', ref: '§6.16',
    event: { r2: [u16('device_number'), busState('READY')], r3: [u16('device_number'), busState('READY')], r4: [u16('device_number'), busState('ADDED')] },
  },
  {
    id: 0x80, name: 'BUS_VERSION', ref: '§12.4', family: 'ff-a',
    request: ffa(ffaVersionR2('driver_version'), [u32('bus_version'), u32('transport_revision')]),
    response: ffa(ffaVersionR2('device_version'), [u32('bus_version'), u32('transport_revision'), u32('transport_features'), FFA_FEATURES_C, u16('area_num')]),
    // OP-TEE's 2025 FF-A binding (core/arch/arm/kernel/virtio_msg_ffa.c, struct msg_version_req)
    // takes the RFC's 18-byte request under the 8-byte header (msg_size 26); its response is (c)'s.
    seen: { request: { layout: { r3: ffaVersionR2('driver_version'), r4: ffaVersionR2('driver_version') }, who: "OP-TEE 2025's request (the RFC's bus_ffa_version, docs/protocol.md §12.4 (b))" } },
  },
  // The area messages are the same in every generation since the RFC.
  {
    id: 0x81, name: 'AREA_SHARE', ref: '§12.4', family: 'ff-a',
    request: [u16('area_id'), u64('mem_handle'), u64('tag'), u32('count'), u32('attr')], response: AREA_RESULT,
  },
  { id: 0x82, name: 'AREA_UNSHARE', ref: '§12.4', family: 'ff-a', request: [u16('area_id')], response: AREA_RESULT },
  // The RFC header gives RESET and EVENT_POLL no payload struct: their bytes stay opaque on R2.
  { id: 0x83, name: 'RESET', ref: '§12.4', family: 'ff-a', request: ffa(OPAQUE, NONE), response: ffa(OPAQUE, RESULT) },
  { id: 0x84, name: 'EVENT_POLL', ref: '§12.4, layout not published', family: 'ff-a', request: OPAQUE, response: OPAQUE },
  {
    id: 0x85, name: 'EVENT_CONFIGURE', ref: '§12.4 (c)', family: 'ff-a',
    request: ffa(OPAQUE, [
      u8('type', { values: { 0: 'poll', 1: 'FF-A notification', 2: 'indirect message', 3: 'FIFO' } }),
      rsv8('reserved'),
      u16('notify_id'),
    ]),
    response: ffa(OPAQUE, RESULT),
  },
  {
    id: 0x86, name: 'FIFO_CONFIGURE', ref: '§12.4 (c)', family: 'ff-a',
    request: ffa(OPAQUE, [u64('mem_handle'), u16('page_count'), u16('notify_id')]),
    response: ffa(OPAQUE, [RESULT_WORD, u16('notify_id')]),
  },
  { id: 0x87, name: 'ERROR', ref: '§12.4 (c), layout not published', family: 'ff-a', request: OPAQUE, response: OPAQUE },
  { id: 0xc0, name: 'AREA_RELEASE', ref: '§12.4', family: 'ff-a', event: [u16('area_id')] },
];

// ---- R0 (pre-spec OpenAMP, §4.3, §5.3, docs/amp-bus.md §3.2) ---------------------------------------
// Request and response share the id. Where OpenAMP defines no response struct the device
// echoes the request buffer (docs/amp-bus.md §3.2), so the response layout is the request's.

const R0_CONFIG: Fields = [u24('offset'), u8('size'), area('data', 'size', 32)];
const R0_FEATURES: Fields = [u32('index'), { name: 'features', type: 'u32[]', size: 32 }];
const R0_SET_VQUEUE: Fields = [u32('index'), rsv32('unused'), u32('size'), u64('descriptor_addr'), u64('driver_addr'), u64('device_addr')];
const R0_REF = 'OpenAMP virtio_msg.h, §6R1';

const R0_MESSAGES: readonly MsgSpec[] = [
  { id: 0x01, name: 'CONNECT', ref: R0_REF, request: NONE, response: NONE },
  { id: 0x02, name: 'DISCONNECT', ref: R0_REF, request: NONE, response: NONE },
  { id: 0x03, name: 'DEVICE_INFO', ref: R0_REF, request: NONE, response: [u32('version'), u32('device_id'), u32('vendor_id')] },
  { id: 0x04, name: 'GET_FEATURES', ref: R0_REF, request: [u32('index')], response: R0_FEATURES },
  { id: 0x05, name: 'SET_FEATURES', ref: R0_REF, request: R0_FEATURES, response: R0_FEATURES },
  { id: 0x06, name: 'GET_CONFIG', ref: R0_REF, request: R0_CONFIG.slice(0, 2), response: R0_CONFIG },
  { id: 0x07, name: 'SET_CONFIG', ref: R0_REF, request: R0_CONFIG, response: R0_CONFIG },
  { id: 0x08, name: 'GET_CONFIG_GEN', ref: R0_REF, request: NONE, response: [u32('generation')] },
  { id: 0x09, name: 'GET_DEVICE_STATUS', ref: R0_REF, request: NONE, response: [status('status')] },
  { id: 0x0a, name: 'SET_DEVICE_STATUS', ref: R0_REF, request: [status('status')], response: [status('status')] },
  { id: 0x0b, name: 'GET_VQUEUE', ref: R0_REF, request: [u32('index')], response: [u32('index'), u32('max_size')] },
  { id: 0x0c, name: 'SET_VQUEUE', ref: R0_REF, request: R0_SET_VQUEUE, response: R0_SET_VQUEUE },
  { id: 0x0d, name: 'RESET_VQUEUE', ref: R0_REF, request: [u32('index')], response: [u32('index')] },
  { id: 0x10, name: 'EVENT_CONFIG', ref: R0_REF, event: [u64('status'), u24('offset'), u8('size'), area('data', 'size', 16)] },
  { id: 0x11, name: 'EVENT_AVAIL', ref: R0_REF, event: [u32('vq_idx'), u64('next_offset'), u64('next_wrap')] },
  { id: 0x12, name: 'EVENT_USED', ref: R0_REF, event: [u32('vq_idx')] },
];

// ---- headers (§4) -----------------------------------------------------------------------------

const TYPE = u8('type', { bits: [{ name: 'response', shift: 0, width: 1 }, { name: 'bus', shift: 1, width: 1 }] });
const TOKEN_HEADER: Fields = [TYPE, u8('msg_id'), u16('dev_num'), u16('token'), u16('msg_size')];

function header(rev: Revision, fields: Fields): HeaderDef {
  const resolved = place(0, fields);
  const at = (name: string): number => resolved.find((f) => f.name === name)?.offset ?? -1;
  return { size: HEADER_SIZE[rev], fields: resolved, tokenOffset: at('token'), msgSizeOffset: at('msg_size') };
}

// ---- resolution -------------------------------------------------------------------------------

function place(start: number, fields: Fields): FieldDef[] {
  let offset = start;
  return fields.map((f) => {
    const def = { ...f, offset };
    offset += f.size;
    return def;
  });
}

const isFields = (spec: LayoutSpec): spec is Fields => Array.isArray(spec);

function layout(rev: Revision, spec: LayoutSpec, extensible: boolean): Layout {
  const fields = isFields(spec) ? spec : spec[rev as Modern];
  return { fields: place(HEADER_SIZE[rev], fields), fixedSize: HEADER_SIZE[rev] + fields.reduce((n, f) => n + f.size, 0), extensible };
}


/** The name of an id the table does not define (types.ts VirtioMsg.name). */
function unlistedName(rev: Revision, bus: boolean, id: number): { name: string; family: MessageFamily } {
  if (rev === 'r0' || id < 0x80) return { name: `RESERVED_${hexNum(id, 2)}`, family: 'reserved' };
  const what = id & 0x40 ? 'EVENT' : 'REQUEST';
  return { name: `${bus ? 'BUS_' : ''}IMPL_${what}_${hexNum(id, 2)}`, family: 'impl' };
}

/** R0 events are 0x10–0x12 (§5.3); R2+ events have msg_id bit 6 set (0x40–0x7F, 0xC0–0xFF, §5). */
function isEventId(rev: Revision, bus: boolean, id: number): boolean {
  return rev === 'r0' ? !bus && id >= 0x10 && id <= 0x12 : (id & 0x40) !== 0;
}

function build(rev: Revision): MessageDef[] {
  const spaces: [boolean, readonly MsgSpec[]][] = rev === 'r0' ? [[false, R0_MESSAGES]] : [[false, TRANSPORT], [true, BUS]];
  const defs: MessageDef[] = [];
  for (const [bus, specs] of spaces) {
    for (const s of specs) {
      const family = s.family ?? (rev === 'r0' ? 'openamp' : 'virtio-msg');
      const ext = family === 'ff-a';
      const layouts: Partial<Record<MessageKind, Layout>> = {};
      if (s.request) layouts.request = layout(rev, s.request, ext);
      if (s.response) layouts.response = layout(rev, s.response, ext);
      if (s.event) layouts.event = layout(rev, s.event, ext);
      const kinds: MessageKind[] = s.event ? ['event'] : ['request', 'response'];
      const seen: Partial<Record<MessageKind, SeenLayout>> = {};
      for (const [kind, alt] of Object.entries(s.seen ?? {}) as [MessageKind, NonNullable<MsgSpec['seen']>[MessageKind]][]) {
        const fields = rev === 'r0' ? undefined : alt!.layout[rev];
        if (fields) seen[kind] = { layout: layout(rev, fields, false), who: alt!.who };
      }
      defs.push({ revision: rev, bus, msgId: s.id, name: s.name, family, kinds, layouts, ref: s.ref, ...(Object.keys(seen).length > 0 ? { seen } : {}) });
    }
  }
  return defs;
}

/** Every message each revision defines, transport namespace first, ids ascending. */
export const MESSAGES: Readonly<Record<Revision, readonly MessageDef[]>> = {
  r0: build('r0'),
  r2: build('r2'),
  r3: build('r3'),
  r4: build('r4'),
};

export const HEADERS: Readonly<Record<Revision, HeaderDef>> = {
  r0: header('r0', [TYPE, u8('id'), u16('dev_id')]),
  r2: header('r2', [TYPE, u8('msg_id'), u16('dev_num'), u16('msg_size')]),
  r3: header('r3', TOKEN_HEADER),
  r4: header('r4', TOKEN_HEADER),
};

function fullSpace(rev: Revision): MessageDef[] {
  const all: MessageDef[] = [];
  for (const d of MESSAGES[rev]) all[(d.bus ? 256 : 0) + d.msgId] = d;
  for (let key = 0; key < 512; key++) {
    if (all[key]) continue;
    const bus = key >= 256;
    const id = key & 0xff;
    const event = isEventId(rev, bus, id);
    const opaque = layout(rev, OPAQUE, false);
    const layouts = event ? { event: opaque } : { request: opaque, response: opaque };
    const kinds: MessageKind[] = event ? ['event'] : ['request', 'response'];
    all[key] = { revision: rev, bus, msgId: id, ...unlistedName(rev, bus, id), kinds, layouts, ref: '§5' };
  }
  return all;
}

const SPACE: Readonly<Record<Revision, readonly MessageDef[]>> = {
  r0: fullSpace('r0'),
  r2: fullSpace('r2'),
  r3: fullSpace('r3'),
  r4: fullSpace('r4'),
};

/**
 * What a flags word says, by name: each set one-bit range by its name, each non-zero wider range
 * as `name=value` (the value's name where the protocol defines one), each set bit no range
 * covers as `bit<i>`. FF-A result 3 → ['error', 'busy']; R4 SET_VQUEUE flags 1 → ['state_op=enable'].
 */
export function flagNames(f: FieldDef, value: number): string[] {
  const out: string[] = [];
  let covered = 0;
  for (const b of f.bits ?? []) {
    const mask = (2 ** b.width - 1) * 2 ** b.shift;
    covered += mask;
    const sub = Math.floor(value / 2 ** b.shift) % 2 ** b.width;
    if (sub === 0) continue;
    out.push(b.width === 1 && !b.values ? b.name : `${b.name}=${b.values?.[sub] ?? sub}`);
  }
  for (let i = 0; i < 32; i++) {
    const bit = 2 ** i;
    if (Math.floor(value / bit) % 2 === 1 && Math.floor(covered / bit) % 2 === 0) out.push(`bit${i}`);
  }
  return out;
}

/** The definition of any (namespace, id): listed messages, else a RESERVED_/IMPL_ entry with an opaque payload. */
export function lookupMessage(rev: Revision, bus: boolean, msgId: number): MessageDef {
  return SPACE[rev][(bus ? 256 : 0) + (msgId & 0xff)]!;
}

/**
 * The layout a message of `msgSize` bytes decodes with: its kind's, or a known peer's other
 * request layout when msg_size is that layout's size and not the table's (MessageDef.seen; the
 * rule codec.ts decode applies with its compiled plans).
 */
export function decodedLayout(def: MessageDef, kind: MessageKind, msgSize: number): Layout | undefined {
  const table = def.layouts[kind];
  const seen = kind === 'request' ? def.seen?.request?.layout : undefined;
  return seen !== undefined && msgSize === seen.fixedSize && msgSize !== table?.fixedSize ? seen : table;
}
