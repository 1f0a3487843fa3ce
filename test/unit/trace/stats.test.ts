/**
 * Stats and windowed queries against values computed by hand on a 13-record capture (records
 * 12,345 ns apart, see SampleBuilder): counts, latency percentiles and histograms, throughput
 * buckets (and their folding when the capture outgrows them), occupancy, windows, the text table.
 */
import { describe, expect, it } from 'vitest';
import { BlockBuilder, forEachRecord, fromRecords } from '../../../src/trace/block';
import { compileFilter } from '../../../src/trace/filter';
import { encodeRecord } from '../../../src/trace/record';
import { computeStats, formatNs, formatStats, StatsAccumulator, windowQuery } from '../../../src/trace/stats';
import { SampleBuilder, sampleRecords, START_MONO_NS } from './sample';

const addrs = { desc_addr: 0x4000_0000n, driver_addr: 0x4000_1000n, device_addr: 0x4000_2000n };

/**
 * t (ns)   seq  record                                   bytes
 *      0     0  ATTACH marker "board"                        5
 *  12345     1  GET_VQUEUE request dev 1 token 3  → dev     12
 *  24690     2  DOORBELL → dev                               0
 *  37035     3  GET_VQUEUE response dev 1 token 3 ← drv     48   latency 24690
 *  49380     4  GET_VQUEUE request dev 1 token 4  → dev     12
 *  61725     5  GET_VQUEUE request dev 2 token 5  → dev     12
 *  74070     6  DOORBELL → dev                               0
 *  86415     7  GET_VQUEUE response dev 2 token 5 ← drv     48   latency 24690
 *  98760     8  GET_VQUEUE response dev 1 token 4 ← drv     48   latency 49380
 * 111105     9  VQ_INDEX dev 1 q0 in flight 2                8
 * 123450    10  VQ_INDEX dev 1 q0 in flight 4                8
 * 135795    11  MALFORMED r2 (3 bytes, truncated) ← drv      3
 * 148140    12  EVENT_USED dev 1 ← drv                      12
 */
function small(): SampleBuilder {
  const b = new SampleBuilder();
  const req = (devNum: number, token: number): void =>
    void b.message({ rev: 'r4', dir: 'driver-to-device', init: { name: 'GET_VQUEUE', kind: 'request', devNum, token, fields: { index: 0 } } });
  const resp = (devNum: number, token: number): void =>
    void b.message({ rev: 'r4', dir: 'device-to-driver', init: { name: 'GET_VQUEUE', kind: 'response', devNum, token, fields: { index: 0, max_size: 256, cur_size: 128, flags: 1, ...addrs } } });
  b.marker('attach', 'board');
  req(1, 3);
  b.doorbell('driver-to-device');
  resp(1, 3);
  req(1, 4);
  req(2, 5);
  b.doorbell('driver-to-device');
  resp(2, 5);
  resp(1, 4);
  b.vqIndex(1, 0, 7, 5);
  b.vqIndex(1, 0, 9, 5);
  b.message({ rev: 'r2', dir: 'device-to-driver', bytes: Uint8Array.of(0x01, 0x09, 0x00) });
  b.message({ rev: 'r4', dir: 'device-to-driver', init: { name: 'EVENT_USED', kind: 'event', devNum: 1, fields: { vq_index: 0 } } });
  return b;
}

const blocks = fromRecords(small().records);
const opts = { startMonoNs: START_MONO_NS, initialBucketNs: 50_000 };

describe('computeStats', () => {
  const s = computeStats(blocks, opts);

  it('counts records, kinds, directions, names, devices and problems', () => {
    expect(s.records).toBe(13);
    expect(s.firstNs).toBe(0);
    expect(s.lastNs).toBe(148_140);
    expect(s.kinds).toEqual({ message: 8, doorbell: 2, 'queue-state': 0, 'vq-index': 2, marker: 1, finding: 0, buffer: 0 });
    expect(s.directions).toEqual({ toDevice: { messages: 3, bytes: 36 }, toDriver: { messages: 5, bytes: 159 } });
    expect(s.names).toEqual([
      { name: 'GET_VQUEUE', count: 6, toDevice: 3, toDriver: 3, bytes: 180 },
      { name: 'DOORBELL', count: 2, toDevice: 2, toDriver: 0, bytes: 0 },
      { name: 'VQ_INDEX', count: 2, toDevice: 0, toDriver: 0, bytes: 16 },
      { name: 'ATTACH', count: 1, toDevice: 0, toDriver: 0, bytes: 5 },
      { name: 'EVENT_USED', count: 1, toDevice: 0, toDriver: 1, bytes: 12 },
      { name: 'MALFORMED', count: 1, toDevice: 0, toDriver: 1, bytes: 3 },
    ]);
    expect(s.devices).toEqual([
      { dev: 1, messages: 5, toDevice: 2, toDriver: 3, bytes: 132 },
      { dev: 2, messages: 2, toDevice: 1, toDriver: 1, bytes: 60 },
      { dev: null, messages: 1, toDevice: 0, toDriver: 1, bytes: 3 },
    ]);
    expect(s.problems).toEqual([{ code: 'truncated', count: 1 }]);
  });

  it('gives latency per request type with exact percentiles', () => {
    expect(s.latency).toEqual([
      {
        name: 'GET_VQUEUE',
        count: 3,
        minNs: 24_690,
        meanNs: 32_920,
        p50Ns: 24_690,
        p90Ns: 49_380,
        p99Ns: 49_380,
        maxNs: 49_380,
        histogram: [{ fromNs: 20_000, toNs: 50_000, count: 3 }],
      },
    ]);
  });

  it('buckets throughput and occupancy on one time grid', () => {
    expect(s.throughput).toEqual({ originNs: 0, bucketNs: 50_000, messages: [3, 3, 2], bytes: [72, 108, 15] });
    expect(s.occupancy).toEqual([{ dev: 1, queue: 0, samples: 2, maxInFlight: 4, lastInFlight: 4, maxPerBucket: [null, null, 4] }]);
  });

  it('folds buckets tenfold when the capture outgrows maxBuckets, keeping sums and maxima exact', () => {
    const folded = computeStats(blocks, { ...opts, maxBuckets: 2 });
    expect(folded.throughput).toEqual({ originNs: 0, bucketNs: 500_000, messages: [8], bytes: [195] });
    expect(folded.occupancy[0]!.maxPerBucket).toEqual([4]);
    // 10 µs buckets, at most 10: the 12th bucket forces 100 µs buckets.
    const fine = computeStats(blocks, { ...opts, initialBucketNs: 10_000, maxBuckets: 10 });
    expect(fine.throughput).toEqual({ originNs: 0, bucketNs: 100_000, messages: [6, 2], bytes: [180, 15] });
    expect(fine.occupancy[0]!.maxPerBucket).toEqual([null, 4]);
  });

  it('is plain JSON', () => {
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });

  it('accumulates incrementally: record by record, with results taken midway, equals one pass', () => {
    const acc = new StatsAccumulator(opts);
    // Small blocks, so the records arrive in several.
    const builder = new BlockBuilder(256);
    for (const r of small().records) builder.append(encodeRecord(r));
    let n = 0;
    forEachRecord(builder.blocks(), (v) => {
      acc.add(v);
      if (++n === 6) expect(acc.result().records).toBe(6);
    });
    expect(acc.result()).toEqual(s);
  });
});

describe('latency histogram and percentiles', () => {
  it('puts latencies into 1-2-5 buckets, edges inclusive below, with the empty buckets between', () => {
    const b = new SampleBuilder();
    const latencies = [0, 1, 3, 1_500, 2_000_000_000];
    for (const l of latencies) {
      const r = b.message({ rev: 'r4', dir: 'device-to-driver', init: { name: 'PING', kind: 'response', bus: true, token: 1, fields: { data: 1 } } });
      r.pairSeq = 0;
      r.latencyNs = BigInt(l);
    }
    const [ping] = computeStats(fromRecords(b.records)).latency;
    expect(ping!.histogram.map((h) => [h.fromNs, h.toNs, h.count])).toEqual([
      [0, 1, 1],
      [1, 2, 1],
      [2, 5, 1],
      ...[5, 10, 20, 50, 100, 200, 500].map((from, i, a) => [from, a[i + 1] ?? 1000, 0]),
      [1000, 2000, 1],
      ...[2000, 5000, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7, 2e7, 5e7, 1e8, 2e8, 5e8, 1e9].map((from, i, a) => [from, a[i + 1] ?? 2e9, 0]),
      [2e9, 5e9, 1],
    ]);
    expect(ping!.minNs).toBe(0);
    expect(ping!.maxNs).toBe(2e9);
  });

  it('gives nearest-rank percentiles over 1..100 µs', () => {
    const b = new SampleBuilder();
    for (let i = 100; i >= 1; i--) {
      const r = b.message({ rev: 'r3', dir: 'device-to-driver', init: { name: 'GET_CONFIG', kind: 'response', devNum: 1, token: i, fields: { generation: 0, offset: 0, length: 0, data: new Uint8Array(0) } } });
      r.pairSeq = 0;
      r.latencyNs = BigInt(i * 1000);
    }
    const [l] = computeStats(fromRecords(b.records)).latency;
    expect(l).toMatchObject({ name: 'GET_CONFIG', count: 100, minNs: 1000, meanNs: 50_500, p50Ns: 50_000, p90Ns: 90_000, p99Ns: 99_000, maxNs: 100_000 });
  });
});

describe('windowQuery', () => {
  const q = { startMonoNs: START_MONO_NS, fromNs: 0, toNs: 150_000, buckets: 3 };

  it('reduces messages, bytes, latency and occupancy to per-bucket count/sum/min/max', () => {
    expect(windowQuery(blocks, { ...q, series: 'messages' })).toEqual({
      fromNs: 0, toNs: 150_000, bucketNs: 50_000, series: 'messages',
      count: [3, 3, 2], sum: [3, 3, 2], min: [1, 1, 1], max: [1, 1, 1], first: [1, 5, 11],
    });
    // Every record, markers and doorbells too, each bucket naming its first.
    expect(windowQuery(blocks, { ...q, series: 'records' })).toMatchObject({ count: [5, 4, 4], first: [0, 5, 9] });
    expect(windowQuery(blocks, { ...q, series: 'bytes' })).toMatchObject({ count: [3, 3, 2], sum: [72, 108, 15], min: [12, 12, 3], max: [48, 48, 12] });
    expect(windowQuery(blocks, { ...q, series: 'latency' })).toMatchObject({ count: [1, 2, 0], sum: [24_690, 74_070, 0], min: [24_690, 24_690, null], max: [24_690, 49_380, null] });
    expect(windowQuery(blocks, { ...q, series: 'occupancy' })).toMatchObject({ count: [0, 0, 2], sum: [0, 0, 6], min: [null, null, 2], max: [null, null, 4] });
  });

  it('narrows by dev, queue and filter', () => {
    expect(windowQuery(blocks, { ...q, series: 'messages', dev: 2 }).count).toEqual([0, 2, 0]);
    expect(windowQuery(blocks, { ...q, series: 'messages', queue: 1 }).count).toEqual([1, 2, 2]);
    const f = compileFilter('dir == in && !problem');
    if (!f.ok) throw new Error(f.error);
    expect(windowQuery(blocks, { ...q, series: 'bytes', filter: f.value.test }).sum).toEqual([48, 96, 12]);
  });

  it('takes [fromNs, toNs): the record at toNs is out, the one at fromNs in', () => {
    const w = windowQuery(blocks, { startMonoNs: START_MONO_NS, fromNs: 37_035, toNs: 98_760, buckets: 2, series: 'messages' });
    expect(w.bucketNs).toBe(30_862.5);
    expect(w.count).toEqual([3, 1]);
  });

  it('rejects an empty window or a bad bucket count', () => {
    expect(() => windowQuery(blocks, { ...q, toNs: 0, series: 'messages' })).toThrow(RangeError);
    expect(() => windowQuery(blocks, { ...q, buckets: 0, series: 'messages' })).toThrow(/1\.\.1000000 whole buckets, saw 0\.\.150000 in 0 buckets/);
  });
});

describe('findings', () => {
  it('counts recorded conformance findings by rule and severity, and shows them as a table', () => {
    const s = computeStats(fromRecords(sampleRecords()), opts);
    expect(s.findings).toEqual([
      { rule: 'request-answered', severity: 'error', count: 1 },
      { rule: 'vqueue-unconfigured-size', severity: 'info', count: 1 },
    ]);
    expect(formatStats(s)).toContain('\nfinding                   severity  records\nrequest-answered             error        1\nvqueue-unconfigured-size      info        1\n');
  });
});

describe('formatStats', () => {
  it('renders aligned tables', () => {
    expect(formatStats(computeStats(blocks, opts))).toBe(
      [
        'records     13 from 0 ns to 148 µs (148 µs)',
        'kinds       message 8, doorbell 2, vq-index 2, marker 1',
        'to device   3 messages, 36 bytes',
        'to driver   5 messages, 159 bytes',
        'throughput  mean 53,333 msg/s, 1,300,000 B/s; peak 60,000 msg/s, 2,160,000 B/s (50.0 µs buckets)',
        '',
        'name        count  to device  to driver  bytes',
        'GET_VQUEUE      6          3          3    180',
        'DOORBELL        2          2          0      0',
        'VQ_INDEX        2          0          0     16',
        'ATTACH          1          0          0      5',
        'EVENT_USED      1          0          1     12',
        'MALFORMED       1          0          1      3',
        '',
        'device  messages  to device  to driver  bytes',
        'dev 1          5          2          3    132',
        'dev 2          2          1          1     60',
        'none           1          0          1      3',
        '',
        'problem    records',
        'truncated        1',
        '',
        'latency     count      min     mean      p50      p90      p99      max          histogram',
        'GET_VQUEUE      3  24.7 µs  32.9 µs  24.7 µs  49.4 µs  49.4 µs  49.4 µs  20.0 µs █ 50.0 µs',
        '',
        'virtqueue  queue  samples  max in flight  last in flight',
        'dev 1          0        2              4               4',
        '',
      ].join('\n'),
    );
  });

  it('formats durations with three significant digits', () => {
    expect([formatNs(7), formatNs(12_345), formatNs(1_500_000), formatNs(2e9)]).toEqual(['7 ns', '12.3 µs', '1.50 ms', '2.00 s']);
  });
});
