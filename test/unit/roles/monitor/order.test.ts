import { describe, expect, it } from 'vitest';

import { encode } from '../../../../src/protocol/index';
import { CausalOrder, type Copied } from '../../../../src/roles/monitor/order';

const down = (name: string, devNum: number, kind: 'request' | 'event', fields: Record<string, number> = {}): Copied => ({
  dir: 'driver-to-device',
  bytes: encode('r4', { name, kind, devNum, token: 1, fields }),
});
const up = (name: string, devNum: number, kind: 'response' | 'event', fields: Record<string, number> = {}): Copied => ({
  dir: 'device-to-driver',
  bytes: encode('r4', { name, kind, devNum, token: 1, fields }),
});
const names = (ms: Copied[]) => ms.map((m) => `${m.dir === 'driver-to-device' ? '>' : '<'}${m.bytes[1]!.toString(16)}:${m.bytes[2]}`);

describe('CausalOrder', () => {
  it('puts a response after its request and the next request on the lane after that response', () => {
    const o = new CausalOrder('r4');
    const info = down('GET_DEVICE_STATUS', 1, 'request');
    const infoAnswer = up('GET_DEVICE_STATUS', 1, 'response', { status: 0 });
    const status = down('SET_DEVICE_STATUS', 1, 'request', { status: 1 });
    const statusAnswer = up('SET_DEVICE_STATUS', 1, 'response', { status: 1 });
    expect(names(o.merge([info, status], [infoAnswer, statusAnswer]))).toEqual(['>7:1', '<7:1', '>8:1', '<8:1']);
  });

  it('keeps lanes apart and carries outstanding requests over to the next look', () => {
    const o = new CausalOrder('r4');
    expect(names(o.merge([down('GET_DEVICE_STATUS', 1, 'request')], []))).toEqual(['>7:1']);
    // The answer to the earlier request goes first; device 2's request waits for nobody.
    expect(names(o.merge([down('GET_DEVICE_STATUS', 2, 'request'), down('GET_DEVICE_STATUS', 1, 'request')], [up('GET_DEVICE_STATUS', 1, 'response', { status: 0 })]))).toEqual([
      '<7:1',
      '>7:2',
      '>7:1',
    ]);
  });

  it('puts EVENT_USED after the EVENT_AVAIL it answers, and an earlier one first', () => {
    const o = new CausalOrder('r4');
    const avail = down('EVENT_AVAIL', 3, 'event', { vq_index: 0, next_offset: 0 });
    const used = up('EVENT_USED', 3, 'event', { vq_index: 0 });
    expect(names(o.merge([avail], [used]))).toEqual(['>41:3', '<42:3']);
    o.merge([avail], []);
    expect(names(o.merge([avail], [used]))).toEqual(['<42:3', '>41:3']);
  });
});
