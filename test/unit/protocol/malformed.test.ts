/**
 * Malformed messages: every ProblemCode decode produces, with its byte offset and a reason that
 * names what was expected and what was seen; fields are still filled as far as the bytes go.
 */
import { describe, expect, it } from 'vitest';
import { decode, decodeHeader, encode } from '../../../src/protocol/index';
import type { Decoded, DecodeOptions, ProblemCode, Revision } from '../../../src/protocol/index';
import { parseHex } from '../../../src/util/hex';

const hex = (s: string): Uint8Array => parseHex(s)!;
const r0 = (s: string): Uint8Array => {
  const b = new Uint8Array(40);
  b.set(hex(s));
  return b;
};
const TV2A = hex('01 02 01 00 01 00 34 00 22 00 00 00 51 45 4D 55' + ' 00'.repeat(16) + ' 02 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00');
const TV2B = hex('01 02 01 00 01 00 20 00 22 00 00 00 51 45 4D 55 40 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00');
const TV8A = hex('00 0A 01 00 01 00 30 00 00 00 00 00 01 00 00 00 00 01 00 00 00 00 00 00 00 00 00 40 00 00 00 00 00 10 00 40 00 00 00 00 00 20 00 40 00 00 00 00');

/** One problem with this code at `offset`, its reason mentioning every expected and seen text. */
function expectProblem(d: Decoded, code: ProblemCode, offset: number, ...mentions: string[]): void {
  const found = d.problems.filter((p) => p.code === code && p.offset === offset);
  expect(found, JSON.stringify(d.problems)).toHaveLength(1);
  for (const m of mentions) expect(found[0]!.reason).toContain(m);
}

function patched(wire: Uint8Array, at: number, ...values: number[]): Uint8Array {
  const b = wire.slice();
  b.set(values, at);
  return b;
}

const dec = (rev: Revision, bytes: Uint8Array, opts: DecodeOptions = {}): Decoded => decode(bytes, rev, opts);

describe('truncated', () => {
  it('header shorter than the revision header: no message', () => {
    const d = dec('r3', hex('00 02 01'));
    expect(d.msg).toBeNull();
    expectProblem(d, 'truncated', 3, '8 bytes', '3 received');
    expect(dec('r2', hex('00 02 01 00 06')).msg).toBeNull();
    expect(dec('r0', hex('00 01 00')).problems[0]).toMatchObject({ code: 'truncated', offset: 3 });
  });

  it('fixed payload shorter than the layout: fills what the bytes reach', () => {
    // An R3 GET_DEVICE_INFO response read as R4 (whose response is 52 bytes).
    const d = dec('r4', TV2B);
    expectProblem(d, 'truncated', 32, 'needs 52 bytes', 'only 32 available');
    expect(d.msg!.fields).toEqual({ device_id: 34, vendor_id: 0x554d4551, device_uuid: TV2B.slice(16, 32) });
  });

  it('R0 frame shorter than 40 bytes', () => {
    const d = dec('r0', hex('01 03 00 00 01 00 00 00 22 00 00 00'));
    expectProblem(d, 'truncated', 12, '40 bytes', '12 received');
    expect(d.msg!.fields).toEqual({ version: 1, device_id: 34 });
  });
});

describe('size-mismatch', () => {
  it('msg_size larger than the bytes received', () => {
    const d = dec('r4', TV2A.subarray(0, 48));
    expectProblem(d, 'size-mismatch', 6, 'msg_size 0x0034 (52) but 48 bytes received');
    expectProblem(d, 'truncated', 48, 'needs 52 bytes', 'only 48 available');
    expect(d.msg!.fields['max_virtqueues']).toBe(1);
  });

  it('R2 msg_size sits at offset 4', () => {
    expectProblem(dec('r2', hex('00 42 01 00 0C 00 00 00 00 00')), 'size-mismatch', 4, '(12) but 10 bytes received');
  });

  it('msg_size smaller than the header', () => {
    expectProblem(dec('r3', hex('00 42 01 00 00 00 04 00 00 00 00 00')), 'size-mismatch', 6, '(4) is smaller than the 8-byte header');
  });

  it('a fixed-size message with a larger msg_size', () => {
    const whole = dec('r3', hex('00 42 01 00 00 00 10 00 03 00 00 00 00 00 00 00'));
    expectProblem(whole, 'size-mismatch', 12, 'EVENT_USED event is 12 bytes but msg_size is 16');
    expect(whole.msg!.fields).toEqual({ vq_index: 3 });
  });

  it('GET_DEVICE_FEATURES num_blocks disagreeing with msg_size', () => {
    // num_blocks 3 but only 2 feature words (msg_size 24).
    const d = dec('r4', hex('01 03 01 00 01 00 18 00 00 00 00 00 03 00 00 00 01 00 00 00 01 00 00 00'));
    expectProblem(d, 'size-mismatch', 12, 'num_blocks 3 needs msg_size 28', 'msg_size is 24');
    expect(d.msg!.fields['features']).toEqual([1, 1]);
  });

  it('GET_DEVICES count disagreeing with the bitmap length', () => {
    const d = dec('r4', hex('03 02 00 00 01 00 10 00 00 00 00 00 18 00 25 00'));
    expectProblem(d, 'size-mismatch', 12, 'count 24 needs msg_size 17', 'msg_size is 16');
    expect(d.msg!.fields['bitmap']).toEqual(hex('25 00'));
  });

  it("QEMU's GET_DEVICES (num = MAX(count, 32), msg_size = 14 + num): only count/8 bitmap bytes are decoded", () => {
    // QEMU field notes, requested count 32: 03 02 0000 0000 2e00 | 0000 2000 0000 | 01 00 00 00 …,
    // then 28 bytes of QEMU's stack (garbage, here 0xa5) inside msg_size 46, zero padding to the slot.
    const slot = new Uint8Array(64);
    slot.set(hex('03 02 00 00 00 00 2e 00 00 00 20 00 00 00 01 00 00 00'));
    slot.fill(0xa5, 18, 46);
    const d = dec('r3', slot, { maxSize: 64 });
    expect(d.msg!.msgSize).toBe(46);
    expect(d.msg!.fields['bitmap']).toEqual(hex('01 00 00 00'));
    expect(d.problems).toEqual([{ offset: 10, code: 'size-mismatch', reason: 'count 32 needs msg_size 18 but msg_size is 46: 14 + 32, the bitmap counted in bytes, not bits' }]);
    // Requested count 272: 03 02 0000 0000 1e01 | 0000 1001 0000 | 01 00 00 00 …: msg_size 286
    // cannot fit the 64-byte slot it arrives in (why the driver asks for 32).
    const big = new Uint8Array(64);
    big.set(hex('03 02 00 00 00 00 1e 01 00 00 10 01 00 00 01 00 00 00'));
    big.fill(0xa5, 18);
    const b = dec('r3', big, { maxSize: 64 });
    expect(b.msg!.msgSize).toBe(286);
    expectProblem(b, 'oversize', 6, 'msg_size 0x011e (286) exceeds the bus maximum 64');
    expectProblem(b, 'size-mismatch', 6, 'msg_size 0x011e (286) but 64 bytes received');
    expectProblem(b, 'size-mismatch', 10, 'count 272 needs msg_size 48 but msg_size is 286: 14 + 272, the bitmap counted in bytes, not bits');
  });

  it('EVENT_CONFIG length disagreeing with its data', () => {
    const d = dec('r3', hex('00 40 01 00 00 00 1A 00 0F 00 00 00 02 00 00 00 00 00 00 00 04 00 00 00 AA BB'));
    expectProblem(d, 'size-mismatch', 20, 'length 4 needs msg_size 28 (or 24 without data)', 'msg_size is 26');
    expect(d.msg!.fields['data']).toEqual(hex('AA BB'));
  });

  it('EVENT_CONFIG without data is fine whatever its length', () => {
    expect(dec('r4', hex('00 40 01 00 00 00 18 00 0F 00 00 00 02 00 00 00 00 00 00 00 04 00 00 00')).problems).toEqual([]);
  });
});

describe('oversize', () => {
  it('msg_size above the bus maximum', () => {
    expectProblem(dec('r4', TV2A, { maxSize: 48 }), 'oversize', 6, 'msg_size 0x0034 (52)', 'bus maximum 48');
    expect(dec('r4', TV2A, { maxSize: 52 }).problems).toEqual([]);
  });

  it('R0 frames against a bus maximum below 40', () => {
    expectProblem(dec('r0', r0('00 01 00 00'), { maxSize: 32 }), 'oversize', 0, '(40)', 'maximum 32');
  });
});

describe('reserved-bits', () => {
  it('type bits 2–7', () => {
    const d = dec('r3', patched(hex('00 42 01 00 00 00 0C 00 00 00 00 00'), 0, 0x04));
    expectProblem(d, 'reserved-bits', 0, 'type 0x04', 'must be 0, saw 0x04');
    expect(d.msg).toMatchObject({ name: 'EVENT_USED', kind: 'event', bus: false });
  });

  it('R3 SET_VQUEUE reserved0 and reserved1', () => {
    const d = dec('r3', TV8A);
    expectProblem(d, 'reserved-bits', 12, 'reserved0 must be 0, saw 0x00000001');
    const both = dec('r3', patched(TV8A, 20, 0x10));
    expect(both.problems.map((p) => [p.code, p.offset])).toEqual([['reserved-bits', 12], ['reserved-bits', 20]]);
    expect(both.problems[1]!.reason).toContain('reserved1 must be 0, saw 0x00000010');
  });

  it('R4 SET_VQUEUE flags bits 31:6', () => {
    const d = dec('r4', patched(TV8A, 12, 0x41));
    expectProblem(d, 'reserved-bits', 12, 'flags reserved bits 0xffffffc0 must be 0, saw 0x00000041');
    expect(d.msg!.fields['flags']).toBe(0x41);
  });

  it('R4 GET_VQUEUE flags bits 31:1 and GET_SHM reserved', () => {
    const vq = encode('r4', { name: 'GET_VQUEUE', kind: 'response', fields: { index: 0, max_size: 8, cur_size: 8, flags: 3, desc_addr: 0n, driver_addr: 0n, device_addr: 0n } });
    expectProblem(dec('r4', vq), 'reserved-bits', 20, 'saw 0x00000003');
    const shm = encode('r4', { name: 'GET_SHM', kind: 'response', fields: { shmid: 0, reserved: 9, length: 0n, address: 0n } });
    expectProblem(dec('r4', shm), 'reserved-bits', 12, 'reserved must be 0, saw 0x00000009');
  });

  it('R4 GET_DEVICES bitmap bits past count', () => {
    expectProblem(dec('r4', hex('03 02 00 00 01 00 10 00 00 00 00 00 0C 00 FF FF')), 'reserved-bits', 15, 'count 12', 'saw 0xff');
  });

  it('R0 unused payload bytes and unused config data bytes', () => {
    expectProblem(dec('r0', patched(r0('00 03 01 00'), 20, 0x5a)), 'reserved-bits', 20, 'must be zero', 'byte 20 is 0x5a');
    const d = dec('r0', r0('01 06 01 00 00 00 00 02 AA BB 00 00 00 CC'));
    expectProblem(d, 'reserved-bits', 13, 'data bytes past size 2', 'byte 13 is 0xcc');
    expect(d.msg!.fields['data']).toEqual(hex('AA BB'));
  });
});

describe('unknown-id', () => {
  it.each([
    ['r3', '00 0D 01 00 01 00 08 00', 'RESERVED_0x0d', 'transport'],
    ['r4', '02 41 00 00 00 00 08 00', 'RESERVED_0x41', 'bus'],
    ['r2', '00 3F 01 00 06 00', 'RESERVED_0x3f', 'transport'],
  ] as const)('%s %s', (rev, wire, name, space) => {
    const d = dec(rev, hex(wire));
    expectProblem(d, 'unknown-id', 1, `msg_id ${name.slice(9)}`, `${rev} ${space} namespace`);
    expect(d.msg!.name).toBe(name);
  });

  it('R0 ids outside 0x01–0x0D and 0x10–0x12', () => {
    const d = dec('r0', r0('00 13 00 00'));
    expectProblem(d, 'unknown-id', 1, 'msg_id 0x13');
    expect(d.msg!.name).toBe('RESERVED_0x13');
  });

  it('implementation-defined ids are named, not unknown', () => {
    expect(dec('r3', hex('00 85 01 00 01 00 0A 00 01 02'))).toEqual({
      msg: expect.objectContaining({ name: 'IMPL_REQUEST_0x85', kind: 'request', fields: { payload: hex('01 02') } }),
      problems: [],
    });
    expect(dec('r4', hex('00 C1 01 00 00 00 08 00')).msg).toMatchObject({ name: 'IMPL_EVENT_0xc1', kind: 'event' });
    expect(dec('r4', hex('02 90 00 00 01 00 08 00')).msg).toMatchObject({ name: 'BUS_IMPL_REQUEST_0x90', kind: 'request' });
    expect(dec('r4', hex('02 C5 00 00 00 00 08 00')).msg).toMatchObject({ name: 'BUS_IMPL_EVENT_0xc5', kind: 'event' });
    expect(dec('r4', hex('02 C0 00 00 00 00 0A 00 03 00')).msg).toMatchObject({ name: 'AREA_RELEASE', kind: 'event', fields: { area_id: 3 } });
  });
});

describe('bad-field', () => {
  it('bus message with dev_num ≠ 0', () => {
    const d = dec('r4', hex('02 03 05 00 07 00 0C 00 EF BE AD DE'));
    expectProblem(d, 'bad-field', 2, 'dev_num 0', 'saw 5');
    expect(d.msg!.fields).toEqual({ data: 0xdeadbeef });
  });

  it('R3 GET_DEVICES count not a multiple of 8 (R4 allows it)', () => {
    const req = hex('02 02 00 00 01 00 0C 00 00 00 0C 00');
    expectProblem(dec('r3', req), 'bad-field', 10, 'multiple of 8', 'saw 12');
    expect(dec('r4', req).problems).toEqual([]);
  });

  it.each([
    [3, 'r3', 'READY'],
    [0, 'r4', 'ADDED'],
    [0x7fff, 'r4', 'ADDED'],
  ] as const)('EVENT_DEVICE state %d (%s)', (state, rev, one) => {
    const d = dec(rev, patched(hex('02 40 00 00 00 00 0C 00 05 00 01 00'), 10, state & 0xff, state >> 8));
    expectProblem(d, 'bad-field', 10, `device_bus_state 0x${state.toString(16).padStart(4, '0')} is reserved`, `1 ${one}`, '0x8000');
  });

  it('EVENT_DEVICE implementation-defined states are fine', () => {
    expect(dec('r4', hex('02 40 00 00 00 00 0C 00 05 00 01 80')).problems).toEqual([]);
  });

  it('R4 SET_VQUEUE state op 3', () => {
    expectProblem(dec('r4', patched(TV8A, 12, 0x03)), 'bad-field', 12, 'flags.state_op 3 is reserved', '2 keep current');
  });

  it('R0 GET_CONFIG size beyond the 32-byte data field', () => {
    const d = dec('r0', r0('01 06 01 00 00 00 00 28 01 02 03'));
    expectProblem(d, 'bad-field', 7, 'size 40', '32-byte data');
    expect((d.msg!.fields['data'] as Uint8Array).length).toBe(32);
  });

  it('R3 num_feature_bits not a multiple of 32', () => {
    expectProblem(dec('r3', patched(TV2B, 16, 48)), 'bad-field', 16, 'multiple of 32', 'saw 48');
  });

  it('FF-A EVENT_CONFIGURE delivery type', () => {
    expectProblem(dec('r4', hex('02 85 00 00 01 00 0C 00 07 00 01 00')), 'bad-field', 8, 'type 0x07 is reserved', '3 FIFO');
  });
});

describe('event-response', () => {
  it.each([
    ['r4', hex('01 42 01 00 00 00 0C 00 00 00 00 00'), 'EVENT_USED (0x42)'],
    ['r0', r0('01 12 01 00'), 'EVENT_USED (0x12)'],
  ] as const)('%s', (rev, wire, what) => {
    const d = dec(rev, wire);
    expectProblem(d, 'event-response', 0, what, 'type 0x01 has the response bit');
    expect(d.msg!.kind).toBe('event');
  });
});

describe('trailing-bytes', () => {
  const slot = (msg: Uint8Array, size = 64): Uint8Array => {
    const b = new Uint8Array(size);
    b.set(msg);
    return b;
  };
  const used = hex('00 42 01 00 00 00 0C 00 02 00 00 00');

  it('zero padding after msg_size (a queue slot) is fine', () => {
    expect(dec('r4', slot(used))).toEqual({ msg: expect.objectContaining({ msgSize: 12, fields: { vq_index: 2 } }), problems: [] });
    expect(dec('r0', slot(r0('00 12 01 00 02'))).problems).toEqual([]);
  });

  it('non-zero bytes after msg_size', () => {
    const d = dec('r4', patched(slot(used), 40, 0x77));
    expectProblem(d, 'trailing-bytes', 40, '52 bytes after msg_size 0x000c (12)', 'byte 40 is 0x77');
    expect(d.msg!.fields).toEqual({ vq_index: 2 });
  });
});

describe('R0 direction', () => {
  const echo = r0('00 0B 01 00 00 00 00 00 00 01');
  it('a device→driver non-event is a response even without the response bit (OpenAMP echo)', () => {
    expect(dec('r0', echo, { direction: 'device-to-driver' })).toEqual({
      msg: expect.objectContaining({ name: 'GET_VQUEUE', kind: 'response', type: 0, fields: { index: 0, max_size: 256 } }),
      problems: [],
    });
  });

  it('without a direction it is the request, and the response field is unused bytes', () => {
    const d = dec('r0', echo);
    expect(d.msg).toMatchObject({ kind: 'request', fields: { index: 0 } });
    expectProblem(d, 'reserved-bits', 9, 'byte 9 is 0x01');
  });

  it('encode can build the echo with a type override', () => {
    expect(encode('r0', { name: 'GET_VQUEUE', kind: 'response', type: 0, devNum: 1, fields: { index: 0, max_size: 256 } })).toEqual(echo);
  });
});

describe('decodeHeader', () => {
  it.each([
    ['r4', hex('01 02 01 00 01 00 34 00'), { type: 1, kind: 'response', bus: false, msgId: 2, devNum: 1, token: 1, msgSize: 52, headerSize: 8 }],
    ['r3', hex('03 02 00 00 07 00 10 00'), { type: 3, kind: 'response', bus: true, msgId: 2, devNum: 0, token: 7, msgSize: 16, headerSize: 8 }],
    ['r2', hex('00 41 01 00 0E 00'), { type: 0, kind: 'event', bus: false, msgId: 0x41, devNum: 1, token: 0, msgSize: 14, headerSize: 6 }],
    ['r0', hex('00 11 02 00'), { type: 0, kind: 'event', bus: false, msgId: 0x11, devNum: 2, token: 0, msgSize: 40, headerSize: 4 }],
    ['r0', hex('01 04 02 00'), { type: 1, kind: 'response', bus: false, msgId: 4, devNum: 2, token: 0, msgSize: 40, headerSize: 4 }],
    ['r0', hex('00 04 02 00'), { type: 0, kind: 'request', bus: false, msgId: 4, devNum: 2, token: 0, msgSize: 40, headerSize: 4 }],
    ['r4', hex('01 C2 00 00 00 00 08 00'), { type: 1, kind: 'event', bus: false, msgId: 0xc2, devNum: 0, token: 0, msgSize: 8, headerSize: 8 }],
  ] as const)('%s %#', (rev, bytes, header) => {
    expect(decodeHeader(bytes, rev)).toEqual(header);
  });

  it('is null below the header size', () => {
    expect(decodeHeader(hex('00 02 01 00 01 00 08'), 'r4')).toBeNull();
    expect(decodeHeader(hex('00 02 01'), 'r0')).toBeNull();
  });
});

describe('FF-A bus messages', () => {
  it('may be padded to the bus minimum size (kernel FF-A buses send VIRTIO_MSG_MIN_SIZE)', () => {
    const reset = new Uint8Array(44);
    reset.set(hex('03 83 00 00 01 00 2C 00 01 00'));
    expect(dec('r3', reset)).toEqual({ msg: expect.objectContaining({ name: 'RESET', kind: 'response', fields: { result: 1 } }), problems: [] });
  });

  it('are short of the RFC layout in R2 when sent in the generation (c) shape (test/unit/protocol/ffa.test.ts has the R2 vectors)', () => {
    const d = dec('r2', hex('02 80 00 00 0E 00 00 00 01 00 01 00 00 00'));
    expect(d.msg).toMatchObject({ name: 'BUS_VERSION', fields: { driver_version: 0x10000, vmsg_revision: 1 } });
    expect(d.problems.map((p) => p.code)).toContain('truncated');
  });
});
