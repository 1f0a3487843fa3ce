/**
 * Codec throughput: decode and decodeHeader over a realistic mix of R3/R4 traffic (mostly
 * notifications, some control-plane requests and responses). Target: decode ≥ 5,000,000 msg/s.
 * Run with the others: npm run bench.
 */
import { decode, decodeHeader, encode, type MessageInit, type Revision } from '../../src/protocol/index';

export async function run(): Promise<Record<string, number | string>> {

  const DECODES = 3_000_000;
  const WARMUP = 300_000;
  const data = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i);
  const addrs = { desc_addr: 0x40000000n, driver_addr: 0x40001000n, device_addr: 0x40002000n };

  /** [revision, message, weight]: a running device exchanges mostly EVENT_AVAIL / EVENT_USED. */
  const mix: [Revision, MessageInit, number][] = [
    ['r4', { name: 'EVENT_AVAIL', kind: 'event', devNum: 1, fields: { vq_index: 0, next_offset: 0 } }, 6],
    ['r4', { name: 'EVENT_USED', kind: 'event', devNum: 1, fields: { vq_index: 0 } }, 6],
    ['r3', { name: 'EVENT_AVAIL', kind: 'event', devNum: 2, fields: { vq_index: 1, next_offset: 0x80000005 } }, 4],
    ['r3', { name: 'EVENT_USED', kind: 'event', devNum: 2, fields: { vq_index: 1 } }, 4],
    ['r4', { name: 'GET_CONFIG', kind: 'request', devNum: 1, token: 1, fields: { offset: 0, length: 8 } }, 1],
    ['r4', { name: 'GET_CONFIG', kind: 'response', devNum: 1, token: 1, fields: { generation: 3, offset: 0, length: 8, data: data(8) } }, 1],
    ['r4', { name: 'SET_DEVICE_STATUS', kind: 'request', devNum: 1, token: 1, fields: { status: 0x0f } }, 1],
    ['r4', { name: 'SET_DEVICE_STATUS', kind: 'response', devNum: 1, token: 1, fields: { status: 0x0f } }, 1],
    ['r4', { name: 'GET_DEVICE_FEATURES', kind: 'response', devNum: 1, token: 1, fields: { block_index: 0, num_blocks: 2, features: [1, 1] } }, 1],
    ['r4', { name: 'GET_VQUEUE', kind: 'response', devNum: 1, token: 1, fields: { index: 0, max_size: 256, cur_size: 256, flags: 1, ...addrs } }, 1],
    ['r3', { name: 'SET_VQUEUE', kind: 'request', devNum: 2, token: 1, fields: { index: 0, size: 256, ...addrs } }, 1],
    [
      'r4',
      {
        name: 'GET_DEVICE_INFO', kind: 'response', devNum: 1, token: 1,
        fields: { device_id: 34, vendor_id: 0x554d4551, device_uuid: new Uint8Array(16), num_feature_blocks: 2, config_size: 0, max_virtqueues: 1, admin_vq_start: 0, admin_vq_count: 0 },
      },
      1,
    ],
    ['r3', { name: 'EVENT_CONFIG', kind: 'event', devNum: 2, fields: { device_status: 0x0f, generation: 4, offset: 0, length: 0 } }, 1],
    ['r4', { name: 'GET_DEVICES', kind: 'response', bus: true, token: 1, fields: { offset: 0, next_offset: 0, count: 16, bitmap: new Uint8Array([0x25, 0]) } }, 1],
    ['r4', { name: 'PING', kind: 'request', bus: true, token: 7, fields: { data: 0xdeadbeef } }, 1],
  ];

  const frames: Uint8Array[] = [];
  const revs: Revision[] = [];
  for (const [rev, init, weight] of mix) {
    const b = encode(rev, init);
    for (let i = 0; i < weight; i++) {
      frames.push(b);
      revs.push(rev);
    }
  }
  const k = frames.length;

  const rate = (n: number, fn: (i: number) => number): { perSecond: number; ms: number; sink: number } => {
    let sink = 0;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) sink += fn(i);
    const ms = performance.now() - t0;
    return { perSecond: Math.round((n / ms) * 1000), ms: Math.round(ms), sink };
  };
  const full = (i: number): number => {
    const d = decode(frames[i % k]!, revs[i % k]!);
    return d.problems.length + (d.msg ? d.msg.msgSize : 0);
  };
  const head = (i: number): number => decodeHeader(frames[i % k]!, revs[i % k]!)!.msgSize;

  rate(WARMUP, full);
  rate(WARMUP, head);
  const d = rate(DECODES, full);
  const h = rate(DECODES, head);
  if (d.sink === 0 || h.sink === 0) throw new Error('benchmark produced no results');
  return {
    mix: `${k} frames of ${mix.length} R3/R4 messages, 20 of them EVENT_AVAIL/EVENT_USED`,
    decodes: DECODES,
    decodePerSecond: d.perSecond,
    decodeMs: d.ms,
    decodeTarget: 5_000_000,
    decodeMeetsTarget: d.perSecond >= 5_000_000 ? 'yes' : 'no',
    decodeHeaders: DECODES,
    decodeHeaderPerSecond: h.perSecond,
    decodeHeaderMs: h.ms,
  };
}
