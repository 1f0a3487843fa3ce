/**
 * Byte-exact vectors, both ways: every hex vector of docs/protocol.md §15 (TV-1…TV-19 as
 * present, K-1, K-2, K-5, K-6), plus hand-derived vectors pinning the layouts §15 does not cover
 * (R2 vqueue messages of §6R2, R0 from OpenAMP virtio_msg.h, FF-A generation (c) of §12.4).
 */
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../../src/protocol/index';
import type { Direction, FieldValue, MessageInit, MessageKind, Revision } from '../../../src/protocol/index';
import { parseHex } from '../../../src/util/hex';

interface Vector {
  id: string;
  revs: Revision[];
  hex: string;
  name: string;
  kind: MessageKind;
  bus?: boolean;
  devNum: number;
  token: number;
  /** In wire order. */
  fields: Record<string, FieldValue>;
  /** Decode with a direction (R0 echo without the response bit). */
  direction?: Direction;
  /** The raw type byte when it is not what kind + bus give. */
  type?: number;
}

const QEMU = 0x554d4551;
const ADDRS = { desc_addr: 0x40000000n, driver_addr: 0x40001000n, device_addr: 0x40002000n };
const ZERO_ADDRS = { desc_addr: 0n, driver_addr: 0n, device_addr: 0n };
const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
/** R0 frames are 40 bytes, zero padded. */
const r0 = (hex: string): string => hex + ' 00'.repeat(40 - hex.trim().split(/\s+/).length);

const R3R4: Revision[] = ['r3', 'r4'];
const D1 = { devNum: 1, token: 1 };

const VECTORS: Vector[] = [
  // §15.1
  { id: 'TV-1', revs: R3R4, hex: '00 02 01 00 01 00 08 00', name: 'GET_DEVICE_INFO', kind: 'request', ...D1, fields: {} },
  {
    id: 'TV-2a', revs: ['r4'], name: 'GET_DEVICE_INFO', kind: 'response', ...D1,
    hex: '01 02 01 00 01 00 34 00 22 00 00 00 51 45 4D 55 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00',
    fields: { device_id: 34, vendor_id: QEMU, device_uuid: new Uint8Array(16), num_feature_blocks: 2, config_size: 0, max_virtqueues: 1, admin_vq_start: 0, admin_vq_count: 0 },
  },
  {
    id: 'TV-2b', revs: ['r3'], name: 'GET_DEVICE_INFO', kind: 'response', ...D1,
    hex: '01 02 01 00 01 00 20 00 22 00 00 00 51 45 4D 55 40 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00',
    fields: { device_id: 34, vendor_id: QEMU, num_feature_bits: 64, config_size: 0, max_virtqueues: 1, admin_vq_start: 0, admin_vq_count: 0 },
  },
  { id: 'TV-3', revs: R3R4, hex: '00 03 01 00 01 00 10 00 00 00 00 00 02 00 00 00', name: 'GET_DEVICE_FEATURES', kind: 'request', ...D1, fields: { block_index: 0, num_blocks: 2 } },
  {
    id: 'TV-4', revs: R3R4, hex: '01 03 01 00 01 00 18 00 00 00 00 00 02 00 00 00 01 00 00 00 01 00 00 00',
    name: 'GET_DEVICE_FEATURES', kind: 'response', ...D1, fields: { block_index: 0, num_blocks: 2, features: [1, 1] },
  },
  {
    id: 'TV-5 request', revs: R3R4, hex: '00 04 01 00 01 00 18 00 00 00 00 00 02 00 00 00 01 00 00 00 01 00 00 00',
    name: 'SET_DRIVER_FEATURES', kind: 'request', ...D1, fields: { block_index: 0, num_blocks: 2, features: [1, 1] },
  },
  { id: 'TV-5 response', revs: R3R4, hex: '01 04 01 00 01 00 08 00', name: 'SET_DRIVER_FEATURES', kind: 'response', ...D1, fields: {} },
  { id: 'TV-6 request', revs: R3R4, hex: '00 08 01 00 01 00 0C 00 0B 00 00 00', name: 'SET_DEVICE_STATUS', kind: 'request', ...D1, fields: { status: 0x0b } },
  { id: 'TV-6 response', revs: R3R4, hex: '01 08 01 00 01 00 0C 00 0B 00 00 00', name: 'SET_DEVICE_STATUS', kind: 'response', ...D1, fields: { status: 0x0b } },
  { id: 'TV-6 reset', revs: R3R4, hex: '00 08 01 00 01 00 0C 00 00 00 00 00', name: 'SET_DEVICE_STATUS', kind: 'request', ...D1, fields: { status: 0 } },
  { id: 'TV-7 request', revs: R3R4, hex: '00 09 01 00 01 00 0C 00 00 00 00 00', name: 'GET_VQUEUE', kind: 'request', ...D1, fields: { index: 0 } },
  ...(['r3', 'r4'] as const).map((rev): Vector => ({
    id: `TV-7 response ${rev}`, revs: [rev], name: 'GET_VQUEUE', kind: 'response', ...D1,
    hex: '01 09 01 00 01 00 30 00 00 00 00 00 00 01 00 00' + ' 00'.repeat(32),
    fields: { index: 0, max_size: 256, cur_size: 0, [rev === 'r3' ? 'reserved' : 'flags']: 0, ...ZERO_ADDRS },
  })),
  {
    id: 'TV-8a', revs: ['r4'], name: 'SET_VQUEUE', kind: 'request', ...D1,
    hex: '00 0A 01 00 01 00 30 00 00 00 00 00 01 00 00 00 00 01 00 00 00 00 00 00 00 00 00 40 00 00 00 00 00 10 00 40 00 00 00 00 00 20 00 40 00 00 00 00',
    fields: { index: 0, flags: 1, size: 256, reserved1: 0, ...ADDRS },
  },
  {
    id: 'TV-8b', revs: ['r3'], name: 'SET_VQUEUE', kind: 'request', ...D1,
    hex: '00 0A 01 00 01 00 30 00 00 00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 40 00 00 00 00 00 10 00 40 00 00 00 00 00 20 00 40 00 00 00 00',
    fields: { index: 0, reserved0: 0, size: 256, reserved1: 0, ...ADDRS },
  },
  { id: 'TV-8 response', revs: R3R4, hex: '01 0A 01 00 01 00 08 00', name: 'SET_VQUEUE', kind: 'response', ...D1, fields: {} },
  {
    id: 'TV-9', revs: ['r4'], name: 'GET_VQUEUE', kind: 'response', ...D1,
    hex: '01 09 01 00 01 00 30 00 00 00 00 00 00 01 00 00 00 01 00 00 01 00 00 00 00 00 00 40 00 00 00 00 00 10 00 40 00 00 00 00 00 20 00 40 00 00 00 00',
    fields: { index: 0, max_size: 256, cur_size: 256, flags: 1, ...ADDRS },
  },
  { id: 'TV-10 plain', revs: R3R4, hex: '00 41 01 00 00 00 10 00 00 00 00 00 00 00 00 00', name: 'EVENT_AVAIL', kind: 'event', devNum: 1, token: 0, fields: { vq_index: 0, next_offset: 0 } },
  {
    id: 'TV-10 notification data', revs: R3R4, hex: '00 41 01 00 00 00 10 00 00 00 00 00 05 00 00 80',
    name: 'EVENT_AVAIL', kind: 'event', devNum: 1, token: 0, fields: { vq_index: 0, next_offset: 0x80000005 },
  },
  { id: 'TV-11', revs: R3R4, hex: '00 42 01 00 00 00 0C 00 00 00 00 00', name: 'EVENT_USED', kind: 'event', devNum: 1, token: 0, fields: { vq_index: 0 } },
  { id: 'TV-15 request', revs: R3R4, hex: '02 02 00 00 01 00 0C 00 00 00 10 00', name: 'GET_DEVICES', kind: 'request', bus: true, devNum: 0, token: 1, fields: { offset: 0, count: 16 } },
  {
    id: 'TV-15 response r4', revs: ['r4'], hex: '03 02 00 00 01 00 10 00 00 00 00 00 10 00 25 00',
    name: 'GET_DEVICES', kind: 'response', bus: true, devNum: 0, token: 1, fields: { offset: 0, next_offset: 0, count: 16, bitmap: bytes(0x25, 0) },
  },
  {
    id: 'TV-15 response r3', revs: ['r3'], hex: '03 02 00 00 01 00 10 00 00 00 10 00 00 00 25 00',
    name: 'GET_DEVICES', kind: 'response', bus: true, devNum: 0, token: 1, fields: { offset: 0, count: 16, next_offset: 0, bitmap: bytes(0x25, 0) },
  },
  { id: 'TV-16 request', revs: R3R4, hex: '02 03 00 00 07 00 0C 00 EF BE AD DE', name: 'PING', kind: 'request', bus: true, devNum: 0, token: 7, fields: { data: 0xdeadbeef } },
  { id: 'TV-16 response', revs: R3R4, hex: '03 03 00 00 07 00 0C 00 EF BE AD DE', name: 'PING', kind: 'response', bus: true, devNum: 0, token: 7, fields: { data: 0xdeadbeef } },
  {
    id: 'TV-17', revs: R3R4, hex: '02 40 00 00 00 00 0C 00 05 00 01 00',
    name: 'EVENT_DEVICE', kind: 'event', bus: true, devNum: 0, token: 0, fields: { device_number: 5, device_bus_state: 1 },
  },
  { id: 'TV-18 request r3', revs: ['r3'], hex: '00 0C 01 00 01 00 0C 00 00 00 00 00', name: 'GET_SHM', kind: 'request', ...D1, fields: { index: 0 } },
  { id: 'TV-18 request r4', revs: ['r4'], hex: '00 0C 01 00 01 00 0C 00 00 00 00 00', name: 'GET_SHM', kind: 'request', ...D1, fields: { shmid: 0 } },
  {
    id: 'TV-18 response r4', revs: ['r4'], name: 'GET_SHM', kind: 'response', ...D1,
    hex: '01 0C 01 00 01 00 20 00 00 00 00 00 00 00 00 00 00 00 10 00 00 00 00 00 00 00 00 80 00 00 00 00',
    fields: { shmid: 0, reserved: 0, length: 0x100000n, address: 0x80000000n },
  },
  {
    id: 'TV-18 response r3', revs: ['r3'], hex: '01 0C 01 00 01 00 14 00 00 00 00 00 00 00 10 00 00 00 00 80',
    name: 'GET_SHM', kind: 'response', ...D1, fields: { index: 0, length: 0x100000, address: 0x80000000 },
  },
  { id: 'TV-19 request', revs: R3R4, hex: '00 0B 01 00 01 00 0C 00 00 00 00 00', name: 'RESET_VQUEUE', kind: 'request', ...D1, fields: { index: 0 } },
  { id: 'TV-19 response', revs: R3R4, hex: '01 0B 01 00 01 00 08 00', name: 'RESET_VQUEUE', kind: 'response', ...D1, fields: {} },

  // §15.2, R2 (6-byte header, no token)
  { id: 'K-1', revs: ['r2'], hex: '00 02 01 00 06 00', name: 'GET_DEVICE_INFO', kind: 'request', devNum: 1, token: 0, fields: {} },
  {
    id: 'K-2', revs: ['r2'], hex: '01 02 01 00 1E 00 22 00 00 00 51 45 4D 55 40 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00',
    name: 'GET_DEVICE_INFO', kind: 'response', devNum: 1, token: 0,
    fields: { device_id: 34, vendor_id: QEMU, num_feature_bits: 64, config_size: 0, max_virtqueues: 1, admin_vq_start: 0, admin_vq_count: 0 },
  },
  { id: 'K-5', revs: ['r2'], hex: '00 41 01 00 0E 00 00 00 00 00 00 00 00 00', name: 'EVENT_AVAIL', kind: 'event', devNum: 1, token: 0, fields: { vq_index: 0, next_offset: 0 } },
  {
    id: 'K-6', revs: ['r2'], hex: '03 02 00 00 0E 00 00 00 10 00 00 00 25 00',
    name: 'GET_DEVICES', kind: 'response', bus: true, devNum: 0, token: 0, fields: { offset: 0, count: 16, next_offset: 0, bitmap: bytes(0x25, 0) },
  },

  // §6R2: the R2 vqueue messages are packed (8-byte fields at 18/26/34).
  {
    id: 'R2 GET_VQUEUE response', revs: ['r2'], name: 'GET_VQUEUE', kind: 'response', devNum: 1, token: 0,
    hex: '01 09 01 00 2A 00 00 00 00 00 00 01 00 00 00 01 00 00 00 00 00 40 00 00 00 00 00 10 00 40 00 00 00 00 00 20 00 40 00 00 00 00',
    fields: { index: 0, max_size: 256, cur_size: 256, ...ADDRS },
  },
  {
    id: 'R2 SET_VQUEUE request', revs: ['r2'], name: 'SET_VQUEUE', kind: 'request', devNum: 1, token: 0,
    hex: '00 0A 01 00 2A 00 01 00 00 00 00 00 00 00 40 00 00 00 00 00 00 40 00 00 00 00 00 10 00 40 00 00 00 00 00 20 00 40 00 00 00 00',
    fields: { index: 1, reserved: 0, size: 64, ...ADDRS },
  },
  {
    id: 'R2 GET_CONFIG response', revs: ['r2'], hex: '01 05 01 00 14 00 03 00 00 00 04 00 00 00 02 00 00 00 AA BB',
    name: 'GET_CONFIG', kind: 'response', devNum: 1, token: 0, fields: { generation: 3, offset: 4, length: 2, data: bytes(0xaa, 0xbb) },
  },

  // §6.5 / §6.11: optional data, present and absent.
  {
    id: 'SET_CONFIG response without echo', revs: R3R4, hex: '01 06 01 00 01 00 14 00 05 00 00 00 00 00 00 00 04 00 00 00',
    name: 'SET_CONFIG', kind: 'response', ...D1, fields: { generation: 5, offset: 0, length: 4, data: new Uint8Array(0) },
  },
  {
    id: 'EVENT_CONFIG with data', revs: R3R4, hex: '00 40 01 00 00 00 1A 00 0F 00 00 00 02 00 00 00 08 00 00 00 02 00 00 00 50 00',
    name: 'EVENT_CONFIG', kind: 'event', devNum: 1, token: 0, fields: { device_status: 0x0f, generation: 2, offset: 8, length: 2, data: bytes(0x50, 0) },
  },

  // §12.4 (c): FF-A bus messages, packed.
  {
    id: 'FF-A BUS_VERSION request', revs: R3R4, hex: '02 80 00 00 01 00 10 00 00 00 01 00 01 00 00 00',
    name: 'BUS_VERSION', kind: 'request', bus: true, devNum: 0, token: 1, fields: { bus_version: 0x10000, transport_revision: 1 },
  },
  {
    id: 'FF-A AREA_SHARE request', revs: ['r4'], hex: '02 81 00 00 02 00 22 00 03 00 88 77 66 55 44 33 22 11 01 00 00 00 00 00 00 00 10 00 00 00 01 00 00 00',
    name: 'AREA_SHARE', kind: 'request', bus: true, devNum: 0, token: 2,
    fields: { area_id: 3, mem_handle: 0x1122334455667788n, tag: 1n, count: 16, attr: 1 },
  },

  // R0 (OpenAMP virtio_msg.h): 4-byte header, 40-byte frames, absolute offsets.
  { id: 'R0 CONNECT', revs: ['r0'], hex: r0('00 01 00 00'), name: 'CONNECT', kind: 'request', devNum: 0, token: 0, fields: {} },
  {
    id: 'R0 DEVICE_INFO response', revs: ['r0'], hex: r0('01 03 00 00 01 00 00 00 22 00 00 00 51 45 4D 55'),
    name: 'DEVICE_INFO', kind: 'response', devNum: 0, token: 0, fields: { version: 1, device_id: 34, vendor_id: QEMU },
  },
  {
    id: 'R0 GET_FEATURES echo (no response bit)', revs: ['r0'], hex: r0('00 04 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 80'),
    name: 'GET_FEATURES', kind: 'response', type: 0x00, direction: 'device-to-driver', devNum: 0, token: 0,
    fields: { index: 0, features: [1, 0, 0, 0, 0x80000000, 0, 0, 0] },
  },
  { id: 'R0 GET_CONFIG request', revs: ['r0'], hex: r0('00 06 01 00 04 00 00 02'), name: 'GET_CONFIG', kind: 'request', devNum: 1, token: 0, fields: { offset: 4, size: 2 } },
  {
    id: 'R0 SET_CONFIG request', revs: ['r0'], hex: r0('00 07 01 00 04 01 02 03 AA BB CC'),
    name: 'SET_CONFIG', kind: 'request', devNum: 1, token: 0, fields: { offset: 0x020104, size: 3, data: bytes(0xaa, 0xbb, 0xcc) },
  },
  {
    id: 'R0 SET_VQUEUE request', revs: ['r0'],
    hex: '00 0C 01 00 01 00 00 00 00 00 00 00 10 00 00 00 00 00 00 40 00 00 00 00 00 10 00 40 00 00 00 00 00 20 00 40 00 00 00 00',
    name: 'SET_VQUEUE', kind: 'request', devNum: 1, token: 0,
    fields: { index: 1, unused: 0, size: 16, descriptor_addr: 0x40000000n, driver_addr: 0x40001000n, device_addr: 0x40002000n },
  },
  {
    id: 'R0 EVENT_CONFIG', revs: ['r0'], hex: r0('00 10 01 00 0F 00 00 00 00 00 00 00 02 01 00 02 01 02'),
    name: 'EVENT_CONFIG', kind: 'event', devNum: 1, token: 0, fields: { status: 0x0fn, offset: 0x000102, size: 2, data: bytes(1, 2) },
  },
  {
    id: 'R0 EVENT_AVAIL', revs: ['r0'], hex: r0('00 11 01 00 01 00 00 00 05 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00'),
    name: 'EVENT_AVAIL', kind: 'event', devNum: 1, token: 0, fields: { vq_idx: 1, next_offset: 5n, next_wrap: 1n },
  },
  { id: 'R0 EVENT_USED', revs: ['r0'], hex: r0('00 12 01 00 01 00 00 00'), name: 'EVENT_USED', kind: 'event', devNum: 1, token: 0, fields: { vq_idx: 1 } },
];

describe.each(VECTORS.flatMap((v) => v.revs.map((rev) => [`${v.id} (${rev})`, rev, v] as const)))('%s', (_, rev, v) => {
  const wire = parseHex(v.hex)!;
  const bus = v.bus ?? false;

  it('decodes every field with no problems', () => {
    const { msg, problems } = decode(wire, rev, v.direction ? { direction: v.direction } : {});
    expect(problems).toEqual([]);
    expect(msg).toEqual({
      revision: rev,
      type: v.type ?? (v.kind === 'response' ? 1 : 0) | (bus ? 2 : 0),
      kind: v.kind,
      bus,
      msgId: wire[1],
      name: v.name,
      devNum: v.devNum,
      token: v.token,
      msgSize: rev === 'r0' ? 40 : wire.length,
      fields: v.fields,
    });
    expect(Object.keys(msg!.fields)).toEqual(Object.keys(v.fields));
  });

  it('encodes to the same bytes', () => {
    const type = v.type === undefined ? {} : { type: v.type };
    expect(encode(rev, { name: v.name, kind: v.kind, bus, devNum: v.devNum, token: v.token, fields: v.fields, ...type })).toEqual(wire);
  });
});

describe('encode defaults', () => {
  it('computes counts from arrays and fills reserved words', () => {
    expect(encode('r3', { name: 'SET_DRIVER_FEATURES', kind: 'request', devNum: 1, token: 1, fields: { block_index: 0, features: [1, 1] } })).toEqual(
      parseHex('00 04 01 00 01 00 18 00 00 00 00 00 02 00 00 00 01 00 00 00 01 00 00 00'),
    );
    expect(encode('r3', { name: 'SET_VQUEUE', kind: 'request', devNum: 1, token: 1, fields: { index: 0, size: 256, ...ADDRS } })).toEqual(
      parseHex('00 0A 01 00 01 00 30 00 00 00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 40 00 00 00 00 00 10 00 40 00 00 00 00 00 20 00 40 00 00 00 00'),
    );
  });

  it('encodes by msg_id, with the IMPL name and an opaque payload', () => {
    const wire = encode('r4', { msgId: 0x85, kind: 'request', devNum: 2, token: 3, fields: { payload: bytes(1, 2, 3) } });
    expect(wire).toEqual(parseHex('00 85 02 00 03 00 0B 00 01 02 03'));
    expect(decode(wire, 'r4')).toEqual({
      msg: expect.objectContaining({ name: 'IMPL_REQUEST_0x85', kind: 'request', fields: { payload: bytes(1, 2, 3) } }),
      problems: [],
    });
    expect(encode('r4', { name: 'BUS_IMPL_EVENT_0xc5', kind: 'event' })).toEqual(parseHex('02 c5 00 00 00 00 08 00'));
  });

  it('takes a msgSize override for malformed test messages', () => {
    expect(encode('r3', { name: 'EVENT_USED', kind: 'event', devNum: 1, fields: { vq_index: 0 }, msgSize: 16 })).toEqual(parseHex('00 42 01 00 00 00 10 00 00 00 00 00'));
  });

  it.each<[string, MessageInit]>([
    ['an unknown name', { name: 'GET_DEVICE_INFOS', kind: 'request' }],
    ['a kind the message does not have', { name: 'EVENT_USED', kind: 'request', fields: { vq_index: 0 } }],
    ['a missing field', { name: 'GET_VQUEUE', kind: 'request' }],
    ['an unknown field', { name: 'EVENT_USED', kind: 'event', fields: { vq_idx: 0 } }],
    ['an out-of-range u32', { name: 'EVENT_USED', kind: 'event', fields: { vq_index: 2 ** 32 } }],
    ['a negative u64', { name: 'GET_SHM', kind: 'response', fields: { shmid: 0, length: -1n, address: 0n } }],
    ['a count disagreeing with its array', { name: 'GET_DEVICE_FEATURES', kind: 'response', fields: { block_index: 0, num_blocks: 3, features: [1] } }],
    ['a short uuid', { name: 'GET_DEVICE_INFO', kind: 'response', fields: { device_id: 1, vendor_id: 0, device_uuid: new Uint8Array(4), num_feature_blocks: 1, config_size: 0, max_virtqueues: 1, admin_vq_start: 0, admin_vq_count: 0 } }],
    ['a name in the wrong namespace', { name: 'GET_DEVICES', kind: 'request', bus: false, fields: { offset: 0, count: 8 } }],
  ])('throws for %s', (_, init) => {
    expect(() => encode('r4', init)).toThrow();
  });

  it('throws for a token on a revision without one', () => {
    expect(() => encode('r2', { name: 'EVENT_USED', kind: 'event', token: 1, fields: { vq_index: 0 } })).toThrow(/no token/);
  });
});
