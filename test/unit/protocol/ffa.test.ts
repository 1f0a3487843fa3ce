/**
 * FF-A bus messages on R2 buses, byte-exact both ways: vectors derived by hand from the uapi
 * structs of the Linux RFC's FF-A bus patch (seed 003, include/uapi/linux/virtio_msg_ffa.h:
 * bus_ffa_version, bus_ffa_version_resp, bus_area_share, bus_area_share_resp, bus_area_unshare,
 * bus_area_unshare_resp, bus_area_release; all packed, little-endian) behind the 6-byte R2
 * header (type, msg_id, dev_num le16, msg_size le16). docs/protocol.md §12.4.
 */
import { describe, expect, it } from 'vitest';
import { decode, encode, flagNames, lookupMessage } from '../../../src/protocol/index';
import type { FieldValue, MessageKind } from '../../../src/protocol/index';
import { parseHex } from '../../../src/util/hex';

const hex = (s: string): Uint8Array => parseHex(s)!;

interface Vector {
  id: string;
  hex: string;
  name: string;
  kind: MessageKind;
  fields: Record<string, FieldValue>;
}

const VECTORS: Vector[] = [
  {
    // vmsg_ffa_bus_version(): VERSION_1_0, REVISION_1, VIRTIO_MSG_FEATURES 0, FEATURE_BOTH_SUPP 0xf, AREA_ID_MAX 0xff.
    id: 'BUS_VERSION request as the kernel sends it', name: 'BUS_VERSION', kind: 'request',
    hex: '02 80 00 00 18 00  01 00 00 00  01 00 00 00  00 00 00 00  0F 00 00 00  FF 00',
    fields: { driver_version: 1, vmsg_revision: 1, vmsg_features: 0, features: 0xf, area_num: 0xff },
  },
  {
    id: 'BUS_VERSION response: direct RX and indirect RX, 16 areas', name: 'BUS_VERSION', kind: 'response',
    hex: '03 80 00 00 18 00  01 00 00 00  01 00 00 00  00 00 00 00  05 00 00 00  10 00',
    fields: { device_version: 1, vmsg_revision: 1, vmsg_features: 0, features: 0x5, area_num: 0x10 },
  },
  {
    // 4 MiB of the vmsgffa pool: 1024 pages.
    id: 'AREA_SHARE request', name: 'AREA_SHARE', kind: 'request',
    hex: '02 81 00 00 20 00  01 00  11 22 33 44 55 66 77 88  00 00 00 00 00 00 00 00  00 04 00 00  00 00 00 00',
    fields: { area_id: 1, mem_handle: 0x8877665544332211n, tag: 0n, count: 1024, attr: 0 },
  },
  { id: 'AREA_SHARE response ok', name: 'AREA_SHARE', kind: 'response', hex: '03 81 00 00 0A 00  01 00  00 00', fields: { area_id: 1, result: 0 } },
  { id: 'AREA_UNSHARE request', name: 'AREA_UNSHARE', kind: 'request', hex: '02 82 00 00 08 00  01 00', fields: { area_id: 1 } },
  { id: 'AREA_UNSHARE response busy', name: 'AREA_UNSHARE', kind: 'response', hex: '03 82 00 00 0A 00  01 00  02 00', fields: { area_id: 1, result: 2 } },
  { id: 'AREA_UNSHARE response error', name: 'AREA_UNSHARE', kind: 'response', hex: '03 82 00 00 0A 00  07 00  01 00', fields: { area_id: 7, result: 1 } },
  { id: 'AREA_RELEASE event', name: 'AREA_RELEASE', kind: 'event', hex: '02 C0 00 00 08 00  03 00', fields: { area_id: 3 } },
  // No payload struct in the RFC header: the bytes after the header stay opaque.
  { id: 'RESET request', name: 'RESET', kind: 'request', hex: '02 83 00 00 06 00', fields: { payload: new Uint8Array(0) } },
  { id: 'EVENT_POLL request', name: 'EVENT_POLL', kind: 'request', hex: '02 84 00 00 06 00', fields: { payload: new Uint8Array(0) } },
];

describe('FF-A bus messages on R2 (seed 003 uapi structs)', () => {
  for (const v of VECTORS) {
    it(`${v.id}: decodes`, () => {
      const d = decode(hex(v.hex), 'r2');
      expect(d.problems).toEqual([]);
      expect(d.msg).toMatchObject({ revision: 'r2', name: v.name, kind: v.kind, bus: true, devNum: 0, token: 0, fields: v.fields });
      expect(Object.keys(d.msg!.fields)).toEqual(Object.keys(v.fields));
    });
    it(`${v.id}: encodes`, () => {
      expect(encode('r2', { name: v.name, bus: true, kind: v.kind, fields: v.fields })).toEqual(hex(v.hex));
    });
  }

  it('reads messages padded to VIRTIO_MSG_FFA_BUS_MSG_SIZE (44) without a problem', () => {
    const padded = new Uint8Array(44);
    padded.set(hex('03 81 00 00 2C 00 01 00 00 00'));
    expect(decode(padded, 'r2')).toMatchObject({ msg: { name: 'AREA_SHARE', fields: { area_id: 1, result: 0 } }, problems: [] });
  });

  it('flags result bits the header does not define', () => {
    const d = decode(hex('03 81 00 00 0A 00 01 00 04 00'), 'r2');
    expect(d.problems).toEqual([{ offset: 8, code: 'reserved-bits', reason: 'result reserved bits 0xfffc must be 0, saw 0x0004' }]);
  });

  it('flags feature bits the RFC header does not define', () => {
    const d = decode(hex('03 80 00 00 18 00 01 00 00 00 01 00 00 00 00 00 00 00 13 00 00 00 10 00'), 'r2');
    expect(d.problems).toEqual([{ offset: 18, code: 'reserved-bits', reason: 'features reserved bits 0xfffffff0 must be 0, saw 0x00000013' }]);
  });

  it('flags a driver_version other than VIRTIO_MSG_FFA_BUS_VERSION_1_0', () => {
    const d = decode(hex('02 80 00 00 18 00 02 00 00 00 01 00 00 00 00 00 00 00 0F 00 00 00 FF 00'), 'r2');
    expect(d.problems).toEqual([{ offset: 6, code: 'bad-field', reason: 'driver_version 0x00000002 is reserved (defined: 1 1.0)' }]);
  });

  it('a truncated AREA_SHARE request keeps the fields the bytes reach', () => {
    const d = decode(hex('02 81 00 00 20 00 01 00 11 22 33 44 55 66 77 88'), 'r2');
    expect(d.msg!.fields).toEqual({ area_id: 1, mem_handle: 0x8877665544332211n });
    expect(d.problems.map((p) => p.code)).toEqual(['size-mismatch', 'truncated']);
  });
});

describe('FF-A result and feature bits by name', () => {
  const field = (name: string, kind: MessageKind, f: string) => lookupMessage('r2', true, name === 'BUS_VERSION' ? 0x80 : 0x82).layouts[kind]!.fields.find((x) => x.name === f)!;

  it('names the RFC feature bits', () => {
    expect(flagNames(field('BUS_VERSION', 'request', 'features'), 0xf)).toEqual(['direct_msg_rx', 'direct_msg_tx', 'indirect_msg_rx', 'indirect_msg_tx']);
    expect(flagNames(field('BUS_VERSION', 'response', 'features'), 0x5)).toEqual(['direct_msg_rx', 'indirect_msg_rx']);
  });

  it('names result bits, and a set bit the header does not define by its number', () => {
    expect(flagNames(field('AREA_UNSHARE', 'response', 'result'), 0)).toEqual([]);
    expect(flagNames(field('AREA_UNSHARE', 'response', 'result'), 3)).toEqual(['error', 'busy']);
    expect(flagNames(field('AREA_UNSHARE', 'response', 'result'), 0x12)).toEqual(['busy', 'bit4']);
  });

  it('names the generation (c) bus features on R4', () => {
    const f = lookupMessage('r4', true, 0x80).layouts.response!.fields.find((x) => x.name === 'bus_features')!;
    expect(flagNames(f, 0x71)).toEqual(['direct_msg_rx', 'notification_rx', 'notification_tx', 'fifo']);
  });
});

describe('FF-A messages in the trace summary', () => {
  it('name the flag bits beside the value', async () => {
    const { describeRecord } = await import('../../../src/trace/describe');
    const rec = (h: string) => ({
      kind: 'message' as const, dir: 'device-to-driver' as const, rev: 'r2' as const, seq: 0, monoNs: 0n, wallNs: 0n, channel: 1,
      devNum: 0, msgType: 3, msgId: 0x82, token: 0, problems: 0, flags: 0, pairSeq: null, latencyNs: 0n, data: hex(h),
    });
    expect(describeRecord(rec('03 82 00 00 0A 00 01 00 02 00')).summary).toBe('AREA_UNSHARE area_id=1 result=2(busy)');
    expect(describeRecord(rec('03 80 00 00 18 00 01 00 00 00 01 00 00 00 00 00 00 00 05 00 00 00 10 00')).summary).toBe(
      'BUS_VERSION device_version=1 vmsg_revision=1 vmsg_features=0 features=5(direct_msg_rx|indirect_msg_rx)',
    );
  });
});

describe("BUS_VERSION as OP-TEE 2025 sends it on an 8-byte header (docs/protocol.md §12.4)", () => {
  // core/arch/arm/kernel/virtio_msg_ffa.c: struct msg_version_req {proto_vers, vmsg_rev,
  // vmsg_features, features (le32 each), area_num le16} behind the R3 header: msg_size 8 + 18 = 26.
  // FFA_PROTO_VERSION 0x00010000, VMSG_REVISION 1, features direct RX | indirect RX, 255 areas.
  const OPTEE_2025 = '02 80 00 00 05 00 1A 00  00 00 01 00  01 00 00 00  00 00 00 00  05 00 00 00  FF 00';

  it.each(['r3', 'r4'] as const)('%s: decodes the 18-byte request as it is, and says it is not the 8-byte (c) request the table expects', (rev) => {
    const d = decode(hex(OPTEE_2025), rev);
    expect(d.msg).toMatchObject({ name: 'BUS_VERSION', kind: 'request', token: 5, msgSize: 26 });
    expect(d.msg!.fields).toEqual({ driver_version: 0x10000, vmsg_revision: 1, vmsg_features: 0, features: 5, area_num: 0xff });
    const mismatch = d.problems.find((p) => p.code === 'size-mismatch');
    expect(mismatch).toMatchObject({ offset: 6 });
    expect(mismatch!.reason).toBe(
      `BUS_VERSION request is 16 bytes in ${rev} (bus_version, transport_revision), but msg_size is 26: the 26-byte layout of OP-TEE 2025's request (the RFC's bus_ffa_version, docs/protocol.md §12.4 (b)) (driver_version, vmsg_revision, vmsg_features, features, area_num), decoded as such`,
    );
  });

  it('the (c) request of 8 bytes and the response keep the table layout, with no problem', () => {
    const req = decode(hex('02 80 00 00 05 00 10 00  00 00 01 00  01 00 00 00'), 'r3');
    expect(req.msg!.fields).toEqual({ bus_version: 0x10000, transport_revision: 1 });
    expect(req.problems).toEqual([]);
    // OP-TEE's 2025 response is 18 bytes: (c)'s response layout, word for word.
    const resp = decode(hex('03 80 00 00 05 00 1A 00  00 00 01 00  01 00 00 00  00 00 00 00  21 00 00 00  FF 00'), 'r3');
    expect(resp.msg!.fields).toMatchObject({ bus_version: 0x10000, transport_revision: 1, transport_features: 0, bus_features: 0x21, area_num: 0xff });
    expect(resp.problems).toEqual([]);
  });

  it('on R2 the 18-byte request is the table layout itself', () => {
    const d = decode(hex('02 80 00 00 18 00  01 00 00 00  01 00 00 00  00 00 00 00  05 00 00 00  FF 00'), 'r2');
    expect(d.problems).toEqual([]);
  });
});
