/**
 * The Trace view's detail (main/host/service/rows.ts toDetail): values named where the protocol
 * names them, the revision and the wall-clock time, from records encoded by the codec.
 */
import { describe, expect, it } from 'vitest';

import { toDetail } from '../../main/host/service/rows';
import { forEachRecord, fromRecords } from '../../src/trace/block';
import type { RecordDetail } from '../../src/api/workbench';
import { SampleBuilder, sampleMeta, START_WALL_NS, type MessageSpec } from '../unit/trace/sample';

/** The detail of each record of `specs`, as trace.record answers it. */
function details(specs: MessageSpec[]): RecordDetail[] {
  const b = new SampleBuilder();
  for (const s of specs) b.message(s);
  const out: RecordDetail[] = [];
  let i = 0;
  forEachRecord(fromRecords(b.records), (v) => void out.push(toDetail(v, i++, sampleMeta())));
  return out;
}

const meaning = (d: RecordDetail, name: string): string | undefined => d.fields.find((f) => f.name === name)?.meaning;

describe('toDetail', () => {
  it('names device status bits, the header type and msg_id, and says the revision and wall time', () => {
    const [req, resp] = details([
      { rev: 'r2', dir: 'driver-to-device', init: { name: 'SET_DEVICE_STATUS', kind: 'request', devNum: 0, fields: { status: 0x0f } } },
      { rev: 'r2', dir: 'device-to-driver', init: { name: 'SET_DEVICE_STATUS', kind: 'response', devNum: 0, fields: { status: 0 } } },
    ]);
    expect(meaning(req!, 'status')).toBe('ACKNOWLEDGE | DRIVER | DRIVER_OK | FEATURES_OK');
    expect(meaning(resp!, 'status')).toBe('0 (reset)');
    expect(meaning(req!, 'type')).toBe('request');
    expect(meaning(req!, 'msg_id')).toBe('SET_DEVICE_STATUS');
    expect(req!.revision).toBe('r2');
    // The sample's records are 1 µs apart from the capture start (its wall time START_WALL_NS).
    expect(BigInt(resp!.wallNs) - BigInt(req!.wallNs)).toBe(BigInt(resp!.row.timeNs - req!.row.timeNs));
    expect(BigInt(req!.wallNs)).toBe(START_WALL_NS + BigInt(req!.row.timeNs));
  });

  it('names feature bits from their block, a device type and a vendor id as letters', () => {
    const [features, info, bus] = details([
      { rev: 'r3', dir: 'device-to-driver', init: { name: 'GET_DEVICE_FEATURES', kind: 'response', devNum: 2, token: 7, fields: { block_index: 0, num_blocks: 2, features: [0x3000_0000, 0x0000_0001] } } },
      {
        rev: 'r4',
        dir: 'device-to-driver',
        init: {
          name: 'GET_DEVICE_INFO',
          kind: 'response',
          devNum: 1,
          token: 1,
          // "QEMU" little-endian.
          fields: { device_id: 34, vendor_id: 0x554d_4551, device_uuid: new Uint8Array(16), num_feature_blocks: 2, config_size: 8, max_virtqueues: 1, admin_vq_start: 0, admin_vq_count: 0 },
        },
      },
      { rev: 'r4', dir: 'driver-to-device', init: { name: 'PING', kind: 'request', bus: true, token: 2, fields: { data: 5 } } },
    ]);
    expect(meaning(features!, 'features')).toBe('VIRTIO_F_INDIRECT_DESC, VIRTIO_F_EVENT_IDX, VIRTIO_F_VERSION_1');
    expect(meaning(info!, 'device_id')).toBe('I2C adapter');
    expect(meaning(info!, 'vendor_id')).toBe('"QEMU"');
    expect(meaning(info!, 'config_size')).toBeUndefined();
    expect(meaning(bus!, 'type')).toBe('request, bus message');
  });

  it('names nothing a non-printable vendor id or a record without a header', () => {
    const [info] = details([
      {
        rev: 'r4',
        dir: 'device-to-driver',
        init: { name: 'GET_DEVICE_INFO', kind: 'response', devNum: 1, token: 1, fields: { device_id: 4, vendor_id: 0x1af4, device_uuid: new Uint8Array(16), num_feature_blocks: 1, config_size: 0, max_virtqueues: 1, admin_vq_start: 0, admin_vq_count: 0 } },
      },
    ]);
    expect(meaning(info!, 'vendor_id')).toBeUndefined();
    expect(meaning(info!, 'device_id')).toBe('entropy source');
    const b = new SampleBuilder();
    b.marker('bookmark', 'here');
    let marker: RecordDetail | null = null;
    forEachRecord(fromRecords(b.records), (v) => void (marker = toDetail(v, 0, sampleMeta())));
    expect(marker!).toMatchObject({ revision: null, fields: [], text: 'here' });
  });
});

describe('toDetail problems', () => {
  it('places a problem found in the bytes at its byte, and one the endpoint noted at none', () => {
    const [orphan] = details([{ rev: 'r4', dir: 'device-to-driver', init: { name: 'GET_CONFIG', kind: 'response', devNum: 1, token: 9, fields: { generation: 1, offset: 0, length: 0, data: new Uint8Array(0) } } }]);
    expect(orphan!.problems).toEqual([{ offset: null, code: 'unmatched-response', reason: 'response answers no outstanding request' }]);
    const [short] = details([{ rev: 'r4', dir: 'driver-to-device', bytes: Uint8Array.of(0, 0x0c, 1, 0, 5, 0, 24, 0, 0, 0) }]);
    expect(short!.problems.length).toBeGreaterThan(0);
    expect(short!.problems.every((p) => typeof p.offset === 'number')).toBe(true);
  });
});
