/** The message table's own invariants, its sizes against §6.17, and msgToJson. */
import { describe, expect, it } from 'vitest';
import { HEADERS, HEADER_SIZE, MESSAGES, REVISIONS, decode, lookupMessage, msgToJson } from '../../../src/protocol/index';
import type { MessageKind, Revision } from '../../../src/protocol/index';
import { parseHex } from '../../../src/util/hex';

const layouts = REVISIONS.flatMap((rev) =>
  MESSAGES[rev].flatMap((def) => def.kinds.map((kind) => [`${rev} ${def.bus ? 'bus ' : ''}${def.name} ${kind}`, rev, def.layouts[kind]!] as const)),
);

describe('table invariants', () => {
  it.each(layouts)('%s', (_, rev, layout) => {
    let offset = HEADER_SIZE[rev];
    layout.fields.forEach((f, i) => {
      expect(f.name).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(f.offset).toBe(offset);
      offset += f.size;
      if (f.size === 0) expect(i).toBe(layout.fields.length - 1);
      if (f.count) expect(layout.fields.slice(0, i).find((c) => c.name === f.count)?.type).toMatch(/^u(8|16|32)$/);
    });
    expect(layout.fixedSize).toBe(offset);
    expect(new Set(layout.fields.map((f) => f.name)).size).toBe(layout.fields.length);
    if (rev === 'r0') expect(layout.fixedSize).toBeLessThanOrEqual(40);
  });

  it('one definition per (namespace, id), ids ascending, kinds matching the event ranges', () => {
    for (const rev of REVISIONS) {
      for (const def of MESSAGES[rev]) {
        expect(lookupMessage(rev, def.bus, def.msgId)).toBe(def);
        const event = rev === 'r0' ? def.msgId >= 0x10 && def.msgId <= 0x12 : (def.msgId & 0x40) !== 0;
        expect(def.kinds).toEqual(event ? ['event'] : ['request', 'response']);
      }
    }
  });

  it('headers: msg_size and token positions per §4', () => {
    expect(REVISIONS.map((r) => [HEADERS[r].size, HEADERS[r].tokenOffset, HEADERS[r].msgSizeOffset])).toEqual([
      [4, -1, -1],
      [6, -1, 4],
      [8, 4, 6],
      [8, 4, 6],
    ]);
  });

  it('FF-A bus messages are family ff-a with the 2026 names', () => {
    expect(MESSAGES.r4.filter((d) => d.family === 'ff-a').map((d) => [d.msgId, d.name])).toEqual([
      [0x80, 'BUS_VERSION'], [0x81, 'AREA_SHARE'], [0x82, 'AREA_UNSHARE'], [0x83, 'RESET'], [0x84, 'EVENT_POLL'],
      [0x85, 'EVENT_CONFIGURE'], [0x86, 'FIFO_CONFIGURE'], [0x87, 'ERROR'], [0xc0, 'AREA_RELEASE'],
    ]);
  });
});

/** §6.17 size summary: smallest msg_size [request/event, response] per revision. */
const SIZES: [string, boolean, Record<Exclude<Revision, 'r0'>, [number, number?]>][] = [
  ['GET_DEVICE_INFO', false, { r2: [6, 30], r3: [8, 32], r4: [8, 52] }],
  ['GET_DEVICE_FEATURES', false, { r2: [14, 14], r3: [16, 16], r4: [16, 16] }],
  ['SET_DRIVER_FEATURES', false, { r2: [14, 6], r3: [16, 8], r4: [16, 8] }],
  ['GET_CONFIG', false, { r2: [14, 18], r3: [16, 20], r4: [16, 20] }],
  ['SET_CONFIG', false, { r2: [18, 18], r3: [20, 20], r4: [20, 20] }],
  ['GET_DEVICE_STATUS', false, { r2: [6, 10], r3: [8, 12], r4: [8, 12] }],
  ['SET_DEVICE_STATUS', false, { r2: [10, 10], r3: [12, 12], r4: [12, 12] }],
  ['GET_VQUEUE', false, { r2: [10, 42], r3: [12, 48], r4: [12, 48] }],
  ['SET_VQUEUE', false, { r2: [42, 6], r3: [48, 8], r4: [48, 8] }],
  ['RESET_VQUEUE', false, { r2: [10, 6], r3: [12, 8], r4: [12, 8] }],
  ['GET_SHM', false, { r2: [10, 18], r3: [12, 20], r4: [12, 32] }],
  ['EVENT_CONFIG', false, { r2: [22], r3: [24], r4: [24] }],
  ['EVENT_AVAIL', false, { r2: [14], r3: [16], r4: [16] }],
  ['EVENT_USED', false, { r2: [10], r3: [12], r4: [12] }],
  ['GET_DEVICES', true, { r2: [10, 12], r3: [12, 14], r4: [12, 14] }],
  ['PING', true, { r2: [10, 10], r3: [12, 12], r4: [12, 12] }],
  ['EVENT_DEVICE', true, { r2: [10], r3: [12], r4: [12] }],
];

describe('§6.17 sizes', () => {
  it.each(SIZES.flatMap(([name, bus, revs]) => (['r2', 'r3', 'r4'] as const).map((rev) => [name, rev, bus, revs[rev]] as const)))(
    '%s %s',
    (name, rev, bus, [first, response]) => {
      const { layouts } = MESSAGES[rev].find((d) => d.name === name && d.bus === bus)!;
      if (response === undefined) expect(layouts.event!.fixedSize).toBe(first);
      else expect([layouts.request!.fixedSize, layouts.response!.fixedSize]).toEqual([first, response]);
    },
  );

  it('spot offsets: R4 GET_DEVICE_INFO, R2 GET_VQUEUE, R0 EVENT_AVAIL and GET_CONFIG', () => {
    const at = (rev: Revision, name: string, kind: MessageKind): Record<string, number> =>
      Object.fromEntries(MESSAGES[rev].find((d) => d.name === name && !d.bus)!.layouts[kind]!.fields.map((f) => [f.name, f.offset]));
    expect(at('r4', 'GET_DEVICE_INFO', 'response')).toMatchObject({ device_uuid: 16, num_feature_blocks: 32, admin_vq_count: 48 });
    expect(at('r2', 'GET_VQUEUE', 'response')).toMatchObject({ cur_size: 14, desc_addr: 18, driver_addr: 26, device_addr: 34 });
    expect(at('r0', 'EVENT_AVAIL', 'event')).toEqual({ vq_idx: 4, next_offset: 8, next_wrap: 16 });
    expect(at('r0', 'GET_CONFIG', 'response')).toEqual({ offset: 4, size: 7, data: 8 });
  });
});

describe('msgToJson', () => {
  it('bigint as hex, bytes as hex, numbers and number[] as they are', () => {
    const shm = decode(parseHex('01 0C 01 00 01 00 20 00 00 00 00 00 00 00 00 00 00 00 10 00 00 00 00 00 00 00 00 80 00 00 00 00')!, 'r4').msg!;
    expect(msgToJson(shm)).toEqual({
      revision: 'r4', type: 1, kind: 'response', bus: false, msgId: 0x0c, name: 'GET_SHM', devNum: 1, token: 1, msgSize: 32,
      fields: { shmid: 0, reserved: 0, length: '0x100000', address: '0x80000000' },
    });
    const cfg = decode(parseHex('01 05 01 00 01 00 16 00 03 00 00 00 00 00 00 00 02 00 00 00 0A FF')!, 'r3').msg!;
    expect(msgToJson(cfg).fields).toEqual({ generation: 3, offset: 0, length: 2, data: '0a ff' });
    const feat = decode(parseHex('01 03 01 00 01 00 18 00 00 00 00 00 02 00 00 00 01 00 00 00 01 00 00 00')!, 'r3').msg!;
    expect(JSON.parse(JSON.stringify(msgToJson(feat))).fields.features).toEqual([1, 1]);
  });
});
