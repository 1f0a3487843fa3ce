import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { describeRecord } from '../../../src/trace/describe';
import { MARKER_KINDS } from '../../../src/trace/record';
import { SampleBuilder, sampleRecords, sessionRecords } from './sample';

describe('describeRecord detail', () => {
  it('is what the summary says beyond the name, dev and token (golden)', () => {
    const b = new SampleBuilder();
    const cases = [
      [b.message({ rev: 'r4', dir: 'driver-to-device', init: { name: 'GET_VQUEUE', kind: 'request', devNum: 2, token: 0x24, fields: { index: 1 } } }), 'GET_VQUEUE dev 2 token 0x0024 index=1', 'index=1'],
      [b.message({ rev: 'r4', dir: 'driver-to-device', init: { name: 'GET_DEVICES', kind: 'request', bus: true, token: 1, fields: { offset: 0, count: 16 } } }), 'GET_DEVICES token 0x0001 offset=0 count=16', 'offset=0 count=16'],
      [b.message({ rev: 'r2', dir: 'driver-to-device', init: { name: 'SET_DEVICE_STATUS', kind: 'request', devNum: 0, fields: { status: 0x0f } } }), 'SET_DEVICE_STATUS dev 0 status=0x0f(ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK)', 'status=0x0f(ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK)'],
      [b.message({ rev: 'r4', dir: 'device-to-driver', init: { name: 'GET_DEVICE_STATUS', kind: 'response', devNum: 1, token: 3, fields: { status: 0 } } }), 'GET_DEVICE_STATUS dev 1 token 0x0003 status=0x00(reset)', 'status=0x00(reset)'],
      [b.message({ rev: 'r4', dir: 'device-to-driver', init: { name: 'EVENT_CONFIG', kind: 'event', devNum: 1, fields: { device_status: 0x4f, generation: 2, offset: 0, length: 0 } } }), 'EVENT_CONFIG dev 1 device_status=0x4f(ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK|DEVICE_NEEDS_RESET) generation=2 offset=0 length=0', 'device_status=0x4f(ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK|DEVICE_NEEDS_RESET) generation=2 offset=0 length=0'],
      [b.message({ rev: 'r4', dir: 'device-to-driver', init: { name: 'GET_DEVICE_FEATURES', kind: 'response', devNum: 1, token: 4, fields: { block_index: 0, num_blocks: 2, features: [0x31, 1] } } }), 'GET_DEVICE_FEATURES dev 1 token 0x0004 block_index=0 num_blocks=2 features=[0x00000031,0x00000001]', 'block_index=0 num_blocks=2 features=[0x00000031,0x00000001]'],
      [b.message({ rev: 'r4', dir: 'driver-to-device', init: { name: 'SET_DRIVER_FEATURES', kind: 'request', devNum: 1, token: 5, fields: { block_index: 0, num_blocks: 5, features: [1, 2, 3, 4, 5] } } }), 'SET_DRIVER_FEATURES dev 1 token 0x0005 block_index=0 num_blocks=5 features=[0x00000001,0x00000002,0x00000003,0x00000004,…]', 'block_index=0 num_blocks=5 features=[0x00000001,0x00000002,0x00000003,0x00000004,…]'],
      [b.message({ rev: 'r4', dir: 'driver-to-device', init: { name: 'GET_DEVICE_INFO', kind: 'request', devNum: 1, token: 2 } }), 'GET_DEVICE_INFO dev 1 token 0x0002', ''],
      [b.message({ rev: 'r2', dir: 'device-to-driver', bytes: Uint8Array.of(1, 9, 0) }), 'MALFORMED 3 bytes: r2 header is 6 bytes but 3 received', 'r2 header is 6 bytes but 3 received'],
      [b.doorbell('device-to-driver'), 'DOORBELL device rang driver', 'device rang driver'],
      [b.vqIndex(1, 0, 7, 5), 'VQ_INDEX dev 1 q0 avail.idx 7 used.idx 5 last seen 5 in flight 2', 'q0 avail.idx 7 used.idx 5 last seen 5 in flight 2'],
      [b.queueState('ready: layout valid'), 'QUEUE_STATE ready: layout valid', 'ready: layout valid'],
      [b.marker('bookmark', 'look here \n', 1), 'BOOKMARK dev 1 look here', 'look here'],
      [b.marker('detach', ''), 'DETACH', ''],
    ] as const;
    for (const [record, summary, detail] of cases) expect(describeRecord(record)).toMatchObject({ summary, detail });
    const unknown = { ...b.message({ rev: 'r4', dir: 'driver-to-device', init: { name: 'PING', kind: 'request', bus: true, token: 3, fields: { data: 1 } } }), rev: null };
    expect(describeRecord(unknown)).toMatchObject({ name: 'UNKNOWN', summary: `UNKNOWN ${unknown.data.length} bytes, revision unknown`, detail: 'revision unknown' });
  });

  it('ends every sample summary, which begins with the name', () => {
    for (const r of [...sampleRecords(), ...sessionRecords()]) {
      const d = describeRecord(r);
      expect(d.summary.startsWith(d.name), d.summary).toBe(true);
      if (d.detail !== '') expect(d.summary.endsWith(` ${d.detail}`), `${d.summary} | ${d.detail}`).toBe(true);
      // The dev has a column of its own: a message's detail never repeats it.
      if (r.kind === 'message' && d.msg) expect(d.detail).not.toMatch(/^(dev|token) /);
    }
  });

  it('holds any marker text, trailing space aside, as the summary ends with it', () => {
    fc.assert(
      fc.property(fc.constantFrom(...MARKER_KINDS), fc.string(), fc.option(fc.nat(0xfffe), { nil: null }), (kind, text, dev) => {
        const d = describeRecord(new SampleBuilder().marker(kind, text, dev));
        expect(d.detail).toBe(text.trimEnd());
        expect(d.summary).toBe(`${d.name}${dev === null ? '' : ` dev ${dev}`} ${text}`.trimEnd());
      }),
    );
  });
});
