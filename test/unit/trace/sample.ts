/**
 * Realistic trace records for exporter/importer tests: real messages of every revision encoded
 * with the codec (requests paired with responses, events, bus messages, implementation-defined
 * ids), malformed ones, doorbells, vq-index records and markers. Shared by the trace tests.
 */
import fc from 'fast-check';
import { decode, encode, type MessageInit, type Revision } from '../../../src/protocol/index';
import { ruleIndex, SEVERITIES, type RuleId, type Severity } from '../../../src/trace/conformance';
import { CAPTURE_FORMAT, type CaptureMeta } from '../../../src/trace/meta';
import { DIRECTION_CODES, encodeVqIndex, MARKER_KINDS, problemMask, RECORD_FLAGS, RECORD_KINDS, REVISION_CODES, type MarkerKind, type TraceRecord } from '../../../src/trace/record';

export const START_WALL_NS = 1_763_700_000_123_456_789n;
export const START_MONO_NS = 5_000_000_000n;

export function sampleMeta(over: Partial<CaptureMeta> = {}): CaptureMeta {
  return {
    format: CAPTURE_FORMAT,
    app: 'amp-workbench 0.1.0',
    board: 'sim-qemu-amp-pci',
    boardDescription: 'QEMU virtio-msg-amp-pci (simulated)',
    revision: 'r4',
    queueFormat: 'vmamp-shmem-v1',
    link: 'sim-qemu-amp-pci (worker thread)',
    startWallNs: START_WALL_NS,
    startMonoNs: START_MONO_NS,
    notes: ['bring-up of i2c dev 1'],
    ...over,
  };
}

/** A message (or raw bytes) as sent in direction `dir`; header fields filled from the bytes. */
export interface MessageSpec {
  rev: Revision;
  dir: 'driver-to-device' | 'device-to-driver';
  init?: MessageInit;
  bytes?: Uint8Array;
  problems?: number;
}

const addrs = { desc_addr: 0x4000_0000n, driver_addr: 0x4000_1000n, device_addr: 0x4000_2000n };

/** Requests with their responses (paired), then events, bus messages and malformed frames. */
export const MESSAGE_SPECS: readonly MessageSpec[] = [
  // R4 (PATCH v2): token header
  { rev: 'r4', dir: 'driver-to-device', init: { name: 'GET_VQUEUE', kind: 'request', devNum: 1, token: 3, fields: { index: 0 } } },
  { rev: 'r4', dir: 'device-to-driver', init: { name: 'GET_VQUEUE', kind: 'response', devNum: 1, token: 3, fields: { index: 0, max_size: 256, cur_size: 128, flags: 1, ...addrs } } },
  { rev: 'r4', dir: 'driver-to-device', init: { name: 'SET_VQUEUE', kind: 'request', devNum: 1, token: 4, fields: { index: 0, flags: 1, size: 128, reserved1: 0, ...addrs } } },
  { rev: 'r4', dir: 'driver-to-device', init: { name: 'GET_CONFIG', kind: 'request', devNum: 1, token: 5, fields: { offset: 0, length: 4 } } },
  { rev: 'r4', dir: 'device-to-driver', init: { name: 'GET_CONFIG', kind: 'response', devNum: 1, token: 5, fields: { generation: 2, offset: 0, length: 4, data: Uint8Array.of(0x50, 0, 0x19, 0) } } },
  { rev: 'r4', dir: 'device-to-driver', init: { name: 'EVENT_USED', kind: 'event', devNum: 1, fields: { vq_index: 0 } } },
  { rev: 'r4', dir: 'driver-to-device', init: { name: 'EVENT_AVAIL', kind: 'event', devNum: 1, fields: { vq_index: 0, next_offset: 0x8000_0005 } } },
  { rev: 'r4', dir: 'driver-to-device', init: { name: 'GET_DEVICES', kind: 'request', bus: true, token: 1, fields: { offset: 0, count: 16 } } },
  { rev: 'r4', dir: 'device-to-driver', init: { name: 'GET_DEVICES', kind: 'response', bus: true, token: 1, fields: { offset: 0, next_offset: 0, count: 16, bitmap: Uint8Array.of(0x07, 0) } } },
  { rev: 'r4', dir: 'driver-to-device', init: { msgId: 0x85, kind: 'request', devNum: 1, token: 9, fields: { payload: Uint8Array.of(1, 2, 3, 4) } } },
  // R3 (PATCH v1)
  { rev: 'r3', dir: 'driver-to-device', init: { name: 'GET_DEVICE_FEATURES', kind: 'request', devNum: 2, token: 7, fields: { block_index: 0, num_blocks: 2 } } },
  { rev: 'r3', dir: 'device-to-driver', init: { name: 'GET_DEVICE_FEATURES', kind: 'response', devNum: 2, token: 7, fields: { block_index: 0, num_blocks: 2, features: [0x0000_0001, 0x0000_0001] } } },
  { rev: 'r3', dir: 'device-to-driver', init: { name: 'EVENT_CONFIG', kind: 'event', devNum: 2, fields: { device_status: 0x0f, generation: 4, offset: 0, length: 0 } } },
  { rev: 'r3', dir: 'driver-to-device', init: { name: 'PING', kind: 'request', bus: true, token: 0x1234, fields: { data: 0xdead_beef } } },
  // R2 (Linux RFC): no token
  { rev: 'r2', dir: 'driver-to-device', init: { name: 'SET_DEVICE_STATUS', kind: 'request', devNum: 0, fields: { status: 0x0f } } },
  { rev: 'r2', dir: 'device-to-driver', init: { name: 'SET_DEVICE_STATUS', kind: 'response', devNum: 0, fields: { status: 0x0f } } },
  { rev: 'r2', dir: 'driver-to-device', init: { name: 'GET_SHM', kind: 'request', devNum: 0, fields: { index: 1 } } },
  // R0 (OpenAMP prototype): 40-byte frames, the device echoes requests
  { rev: 'r0', dir: 'driver-to-device', init: { name: 'GET_VQUEUE', kind: 'request', devNum: 0, fields: { index: 1 } } },
  { rev: 'r0', dir: 'device-to-driver', init: { name: 'GET_VQUEUE', kind: 'response', type: 0, devNum: 0, fields: { index: 1, max_size: 64 } } },
  { rev: 'r0', dir: 'driver-to-device', init: { name: 'SET_VQUEUE', kind: 'request', devNum: 0, fields: { index: 1, size: 64, descriptor_addr: 0x3000_0000n, driver_addr: 0x3000_0400n, device_addr: 0x3000_0800n } } },
  { rev: 'r0', dir: 'device-to-driver', init: { name: 'EVENT_USED', kind: 'event', devNum: 0, fields: { vq_idx: 1 } } },
  // malformed: msg_size larger than the bytes, unknown id, a headerless stub, an event with the response bit
  { rev: 'r4', dir: 'driver-to-device', init: { name: 'GET_CONFIG', kind: 'request', devNum: 1, token: 6, fields: { offset: 0, length: 4 }, msgSize: 0x34 } },
  { rev: 'r3', dir: 'device-to-driver', init: { msgId: 0x0d, kind: 'request', devNum: 2, token: 8 } },
  { rev: 'r2', dir: 'device-to-driver', bytes: Uint8Array.of(0x01, 0x09, 0x00) },
  { rev: 'r4', dir: 'device-to-driver', init: { name: 'EVENT_USED', kind: 'event', type: 1, devNum: 1, fields: { vq_index: 0 } } },
];

const NS_PER_RECORD = 12_345n;

/** Builds records with gap-free seq from 0, pairing each response with the latest open request of the same (rev, dev, id, token). */
export class SampleBuilder {
  readonly records: TraceRecord[] = [];
  private readonly open = new Map<string, number>();

  constructor(private readonly seqBase = 0) {}

  private base(kind: TraceRecord['kind']): TraceRecord {
    const i = this.records.length;
    const mono = START_MONO_NS + BigInt(i) * NS_PER_RECORD;
    return {
      kind, dir: null, rev: null, seq: this.seqBase + i, monoNs: mono, wallNs: START_WALL_NS + (mono - START_MONO_NS),
      channel: 0, devNum: null, msgType: 0, msgId: 0, token: 0, problems: 0, flags: 0, pairSeq: null, latencyNs: 0n, data: new Uint8Array(0),
    };
  }

  message(s: MessageSpec): TraceRecord {
    const data = s.bytes ?? encode(s.rev, s.init!);
    const r = this.base('message');
    r.dir = s.dir;
    r.rev = s.rev;
    r.channel = s.dir === 'driver-to-device' ? 0 : 1;
    r.data = data;
    // As the recorder does: the codec's findings plus what the endpoint flags.
    r.problems = (problemMask(decode(data, s.rev, { direction: s.dir }).problems.map((p) => p.code)) | (s.problems ?? 0)) >>> 0;
    const header = s.rev === 'r0' ? 4 : s.rev === 'r2' ? 6 : 8;
    if (data.length < header) {
      r.flags = RECORD_FLAGS.noHeader;
    } else {
      r.msgType = data[0]!;
      r.msgId = data[1]!;
      r.devNum = data[2]! | (data[3]! << 8);
      r.token = s.rev === 'r3' || s.rev === 'r4' ? data[4]! | (data[5]! << 8) : 0;
      const kind = s.init?.kind ?? 'request';
      r.flags = RECORD_FLAGS[kind] | (r.msgType & 2 ? RECORD_FLAGS.bus : 0);
      const key = `${s.rev}/${r.devNum}/${r.msgType & 2}/${r.msgId}/${r.token}`;
      if (kind === 'request') this.open.set(key, this.records.length);
      if (kind === 'response') {
        const req = this.open.get(key);
        if (req === undefined) r.problems |= problemMask(['unmatched-response']);
        else {
          this.open.delete(key);
          r.pairSeq = this.records[req]!.seq;
          r.latencyNs = r.monoNs - this.records[req]!.monoNs;
        }
      }
    }
    this.records.push(r);
    return r;
  }

  doorbell(dir: 'driver-to-device' | 'device-to-driver'): TraceRecord {
    const r = { ...this.base('doorbell'), dir, channel: dir === 'driver-to-device' ? 0 : 1 };
    this.records.push(r);
    return r;
  }

  vqIndex(devNum: number, vq: number, availIdx: number, usedIdx: number): TraceRecord {
    const inFlight = (availIdx - usedIdx) & 0xffff;
    const r = { ...this.base('vq-index'), devNum, channel: vq, data: encodeVqIndex({ availIdx, usedIdx, lastSeenUsed: usedIdx, inFlight }) };
    this.records.push(r);
    return r;
  }

  marker(kind: MarkerKind, text: string, devNum: number | null = null, pairSeq: number | null = null): TraceRecord {
    const r = { ...this.base('marker'), msgId: MARKER_KINDS.indexOf(kind), devNum, pairSeq, data: new TextEncoder().encode(text) };
    this.records.push(r);
    return r;
  }

  /** A finding record as the recorder writes it (conformance.ts: msgId rule, msgType severity, pairSeq the offending record). */
  finding(rule: RuleId, severity: Severity, pairSeq: number, devNum: number | null, text: string): TraceRecord {
    const r = { ...this.base('finding'), msgId: ruleIndex(rule), msgType: SEVERITIES.indexOf(severity), devNum, pairSeq, data: new TextEncoder().encode(text) };
    this.records.push(r);
    return r;
  }

  queueState(text: string): TraceRecord {
    const r = { ...this.base('queue-state'), data: new TextEncoder().encode(text) };
    this.records.push(r);
    return r;
  }
}

/** Every record kind, every revision, malformed messages and an unanswered request. */
export function sampleRecords(): TraceRecord[] {
  const b = new SampleBuilder();
  b.marker('attach', 'sim-qemu-amp-pci');
  for (const s of MESSAGE_SPECS) {
    b.message(s);
    if (s.dir === 'driver-to-device') b.doorbell('driver-to-device');
  }
  b.doorbell('device-to-driver');
  b.vqIndex(1, 0, 7, 5);
  b.queueState('driver-to-device: head 3 tail 3');
  b.marker('bookmark', 'first i2c transfer — ok ✓', 1);
  const lost = b.message({ rev: 'r4', dir: 'driver-to-device', init: { name: 'GET_DEVICE_STATUS', kind: 'request', devNum: 1, token: 0x22 } });
  lost.problems = problemMask(['no-response']);
  const timeout = b.marker('no-response', 'GET_DEVICE_STATUS dev 1 token 0x0022 after 1000 ms', 1, lost.seq);
  b.finding('request-answered', 'error', timeout.seq, 1, `GET_DEVICE_STATUS dev 1 (record ${lost.seq}) got no response before its timeout`);
  b.finding('vqueue-unconfigured-size', 'info', 2, 1, 'GET_VQUEUE response for queue 0 of dev 1 reports cur_size 128 before any SET_VQUEUE; expected 0 (known qemu deviation: "quoted", ✓)');
  b.marker('detach', '');
  return b.records;
}

/**
 * A device session as the exporters must show it (Perfetto, JSONL, CSV tests): device types
 * learned from GET_DEVICE_INFO / DEVICE_INFO, two requests in flight answered out of order, an
 * unanswered request with its no-response marker, a token-fallback response, a request still
 * open when the capture ends, virtqueue indexes around EVENT_AVAIL / EVENT_USED, a message of
 * unknown revision, and marker texts that need quoting (comma, quote, newline, non-ASCII).
 */
export function sessionRecords(): TraceRecord[] {
  const b = new SampleBuilder();
  const d2d = 'driver-to-device';
  const d2h = 'device-to-driver';
  b.marker('attach', 'sim-qemu-amp-pci, revision r4');
  b.queueState('ready: layout valid, peer attached');
  b.message({ rev: 'r4', dir: d2d, init: { name: 'GET_DEVICES', kind: 'request', bus: true, token: 1, fields: { offset: 0, count: 16 } } });
  b.doorbell(d2d);
  b.doorbell(d2h);
  b.message({ rev: 'r4', dir: d2h, init: { name: 'GET_DEVICES', kind: 'response', bus: true, token: 1, fields: { offset: 0, next_offset: 0, count: 16, bitmap: Uint8Array.of(0x0a, 0) } } });
  b.message({ rev: 'r4', dir: d2d, init: { name: 'GET_DEVICE_INFO', kind: 'request', devNum: 1, token: 2 } });
  b.message({
    rev: 'r4', dir: d2h,
    init: {
      name: 'GET_DEVICE_INFO', kind: 'response', devNum: 1, token: 2,
      fields: { device_id: 34, vendor_id: 0x554d_4551, device_uuid: new Uint8Array(16), num_feature_blocks: 2, config_size: 4, max_virtqueues: 1, admin_vq_start: 0, admin_vq_count: 0 },
    },
  });
  // Two requests in flight, answered out of order: their slices overlap without nesting.
  b.message({ rev: 'r4', dir: d2d, init: { name: 'GET_VQUEUE', kind: 'request', devNum: 1, token: 3, fields: { index: 0 } } });
  b.message({ rev: 'r4', dir: d2d, init: { name: 'GET_CONFIG', kind: 'request', devNum: 1, token: 4, fields: { offset: 0, length: 4 } } });
  b.message({ rev: 'r4', dir: d2h, init: { name: 'GET_CONFIG', kind: 'response', devNum: 1, token: 4, fields: { generation: 1, offset: 0, length: 4, data: Uint8Array.of(1, 2, 3, 4) } } });
  b.message({ rev: 'r4', dir: d2h, init: { name: 'GET_VQUEUE', kind: 'response', devNum: 1, token: 3, fields: { index: 0, max_size: 256, cur_size: 0, flags: 0, ...addrs } } });
  b.vqIndex(1, 0, 1, 0);
  b.message({ rev: 'r4', dir: d2d, init: { name: 'EVENT_AVAIL', kind: 'event', devNum: 1, fields: { vq_index: 0, next_offset: 0x8000_0001 } } });
  b.message({ rev: 'r4', dir: d2h, init: { name: 'EVENT_USED', kind: 'event', devNum: 1, fields: { vq_index: 0 } } });
  b.vqIndex(1, 0, 1, 1);
  const lost = b.message({ rev: 'r4', dir: d2d, init: { name: 'SET_DEVICE_STATUS', kind: 'request', devNum: 1, token: 5, fields: { status: 0x0f } } });
  lost.problems = problemMask(['no-response']);
  b.marker('no-response', 'SET_DEVICE_STATUS dev 1 token 0x0005 (record 16) not answered within 1000 ms', 1, lost.seq).problems = problemMask(['no-response']);
  // The peer answered token 6 with token 7: matched by (dev_num, msg_id), as the recorder does.
  const asked = b.message({ rev: 'r4', dir: d2d, init: { name: 'GET_CONFIG', kind: 'request', devNum: 1, token: 6, fields: { offset: 0, length: 4 } } });
  const fallback = b.message({ rev: 'r4', dir: d2h, init: { name: 'GET_CONFIG', kind: 'response', devNum: 1, token: 7, fields: { generation: 1, offset: 0, length: 4, data: Uint8Array.of(9, 9, 9, 9) } } });
  fallback.pairSeq = asked.seq;
  fallback.latencyNs = fallback.monoNs - asked.monoNs;
  fallback.flags |= RECORD_FLAGS.tokenFallback;
  fallback.problems = (fallback.problems & ~problemMask(['unmatched-response'])) | problemMask(['token-mismatch']);
  b.message({ rev: 'r0', dir: d2d, init: { name: 'DEVICE_INFO', kind: 'request', devNum: 3 } });
  b.message({ rev: 'r0', dir: d2h, init: { name: 'DEVICE_INFO', kind: 'response', type: 0, devNum: 3, fields: { version: 1, device_id: 3, vendor_id: 0x4f50_454e } } });
  b.message({ rev: 'r0', dir: d2h, init: { name: 'EVENT_USED', kind: 'event', devNum: 3, fields: { vq_idx: 0 } } });
  Object.assign(b.message({ rev: 'r4', dir: d2d, bytes: Uint8Array.of(0xde, 0xad, 0xbe, 0xef) }), { rev: null, flags: 0, problems: 0 });
  b.marker('bookmark', 'look here, "really"\nsecond line', 1);
  b.marker('error', 'queue overrun at bus byte 64, head 9 > size 8');
  b.message({ rev: 'r2', dir: d2h, bytes: Uint8Array.of(0x01, 0x09, 0x00) });
  b.marker('note', 'µs – ok ✓');
  b.marker('dropped', '12 records lost while the trace sink failed');
  b.marker('reset', 'bus reset');
  b.message({ rev: 'r4', dir: d2d, init: { name: 'GET_DEVICE_STATUS', kind: 'request', devNum: 1, token: 8 } });
  b.marker('detach', '');
  return b.records;
}

const anyU64 = fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn });

/** Any record the binary layout can hold, not only what the recorder writes (round-trip properties). */
export function arbRecord(): fc.Arbitrary<TraceRecord> {
  return fc.record({
    kind: fc.constantFrom(...RECORD_KINDS),
    dir: fc.constantFrom(...DIRECTION_CODES),
    rev: fc.constantFrom(...REVISION_CODES),
    seq: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    monoNs: anyU64,
    wallNs: anyU64,
    channel: fc.integer({ min: 0, max: 0xffff }),
    devNum: fc.option(fc.integer({ min: 0, max: 0xfffe }), { nil: null }),
    msgType: fc.integer({ min: 0, max: 0xff }),
    msgId: fc.integer({ min: 0, max: 0xff }),
    token: fc.integer({ min: 0, max: 0xffff }),
    problems: fc.nat({ max: 0xffff_ffff }),
    flags: fc.nat({ max: 0xffff_ffff }),
    pairSeq: fc.option(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), { nil: null }),
    latencyNs: anyU64,
    data: fc.uint8Array({ maxLength: 64 }),
  });
}
