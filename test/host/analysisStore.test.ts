/**
 * The trace store's analysis answers through the service: trace.transactions pages requests (with
 * their response or NO_RESPONSE marker, latency) and virtqueue operations as trace rows, growing
 * with a live capture without rescanning; trace.expert groups findings; trace.window says which
 * record each bucket starts with.
 */
import { describe, expect, it } from 'vitest';

import { TraceStore } from '../../main/host/service/traceStore';
import { fromRecords } from '../../src/trace/block';
import { EVENT_LANE_FILTERS } from '../../src/trace/events';
import { memorySource } from '../../src/trace/source';
import { sampleMeta, SampleBuilder } from '../unit/trace/sample';

const NS = 12_345;

function capture(): SampleBuilder {
  const b = new SampleBuilder();
  b.message({ rev: 'r4', dir: 'driver-to-device', init: { name: 'GET_CONFIG', kind: 'request', devNum: 1, token: 5, fields: { offset: 0, length: 4 } } }); // 0
  b.message({ rev: 'r4', dir: 'device-to-driver', init: { name: 'GET_CONFIG', kind: 'response', devNum: 1, token: 5, fields: { generation: 1, offset: 0, length: 4, data: Uint8Array.of(1, 2, 3, 4) } } }); // 1
  b.message({ rev: 'r4', dir: 'driver-to-device', init: { name: 'GET_DEVICE_STATUS', kind: 'request', devNum: 1, token: 6 } }); // 2
  b.marker('no-response', 'GET_DEVICE_STATUS timed out', 1, 2); // 3
  b.vqIndex(1, 0, 1, 0); // 4
  b.message({ rev: 'r4', dir: 'driver-to-device', init: { name: 'EVENT_AVAIL', kind: 'event', devNum: 1, fields: { vq_index: 0, next_offset: 0 } } }); // 5
  b.message({ rev: 'r4', dir: 'device-to-driver', init: { name: 'EVENT_USED', kind: 'event', devNum: 1, fields: { vq_index: 0 } } }); // 6
  b.vqIndex(1, 0, 1, 1); // 7
  return b;
}

describe('TraceStore analysis', () => {
  it('pages request transactions and virtqueue operations as rows', () => {
    const b = capture();
    const store = new TraceStore(memorySource('mem', sampleMeta(), [], fromRecords(b.records)));
    const req = store.transactionPage('requests', 0, 10);
    expect(req.total).toBe(2);
    expect(req.rows.map((r) => r.kind === 'request' && [r.name, r.outcome, r.request?.seq, r.end.seq, r.latencyNs])).toEqual([
      ['GET_CONFIG', 'answered', 0, 1, NS],
      ['GET_DEVICE_STATUS', 'no-response', 2, 3, null],
    ]);
    expect(store.transactionPage('requests', 1, 10).rows).toHaveLength(1);
    // Without `from`: the last page, in pages of `n` from the first row.
    const last = store.transactionPage('requests', undefined, 1);
    expect([last.from, last.rows.map((r) => r.kind === 'request' && r.end.seq)]).toEqual([1, [3]]);
    const ops = store.transactionPage('virtqueue', 0, 10);
    expect(ops.rows.map((r) => r.kind === 'virtqueue' && [r.dev, r.queue, r.avail.seq, r.eventUsed?.seq, r.usedEntry?.seq, r.entries, r.latencyNs])).toEqual([[1, 0, 5, 6, 7, 1, 2 * NS]]);
  });

  it('reports the Expert groups and the first record of each window bucket', () => {
    const b = capture();
    const store = new TraceStore(memorySource('mem', sampleMeta(), [], fromRecords(b.records)));
    const e = store.expert();
    expect(e.groups.map((g) => [g.severity, g.rule, g.items.map((i) => i.seq)])).toEqual([['error', 'request-answered', [3]]]);
    const w = store.window({ fromNs: 0, toNs: 8 * NS, buckets: 4, series: 'records', filter: 'kind == marker || kind == vq-index' });
    expect(w.ok && w.value.first).toEqual([null, 3, 4, 7]);
    expect(w.ok && w.value.count).toEqual([0, 1, 1, 1]);
  });

  it('answers the Timeline event lanes from the analysis pass: a zoom step reads no block, and gives what the scan gives', () => {
    const records = Array.from({ length: 20 }, () => capture().records).flat().map((r, i) => ({ ...r, seq: i, pairSeq: r.pairSeq === null ? null : r.pairSeq + i - r.seq, monoNs: r.monoNs + BigInt(i) * 1000n }));
    const blocks = Array.from({ length: records.length / 8 }, (_, k) => fromRecords(records.slice(8 * k, 8 * k + 8))[0]!);
    let reads = 0;
    const inner = memorySource('mem', sampleMeta(), [], blocks);
    const source = Object.create(inner) as typeof inner;
    source.read = (k, transient) => (reads++, inner.read(k, transient));
    const store = new TraceStore(source);
    store.stats();
    reads = 0;
    const lane = (fromNs: number, toNs: number) => store.window({ fromNs, toNs, buckets: 7, series: 'records', filter: EVENT_LANE_FILTERS.noResponse });
    const zooms = [lane(0, 200 * NS), lane(20 * NS, 60 * NS), lane(41 * NS, 44 * NS)];
    expect(reads).toBe(0);
    // The same filter with a different spelling is not an event lane: it scans, and agrees.
    const scanned = (fromNs: number, toNs: number) => store.window({ fromNs, toNs, buckets: 7, series: 'records', filter: 'msg==NO_RESPONSE' });
    expect([scanned(0, 200 * NS), scanned(20 * NS, 60 * NS), scanned(41 * NS, 44 * NS)]).toEqual(zooms);
    expect(reads).toBeGreaterThan(0);
    expect(zooms[0]!.ok && zooms[0]!.value.count.reduce((a, b) => a + b)).toBe(20);
  });

  it('prepares its analysis in slices, resumable: a view asking half-way gets what a direct pass gives', async () => {
    // The capture 30 times over, seqs and pairs renumbered.
    const records = Array.from({ length: 30 }, () => capture().records).flat().map((r, i) => ({ ...r, seq: i, pairSeq: r.pairSeq === null ? null : r.pairSeq + i - r.seq, monoNs: r.monoNs + BigInt(i) * 1000n }));
    // One block per 8 records: a slice of 0 ms is one block.
    const blocks = Array.from({ length: records.length / 8 }, (_, k) => fromRecords(records.slice(8 * k, 8 * k + 8))[0]!);
    const direct = new TraceStore(memorySource('mem', sampleMeta(), [], blocks));
    const sliced = new TraceStore(memorySource('mem', sampleMeta(), [], blocks));
    let slices = 0;
    await sliced.prepare(() => ++slices <= 3, 0);
    expect(sliced.prepared).toBe(false);
    expect(sliced.expert()).toEqual(direct.expert());
    expect(sliced.prepared).toBe(true);
    const again = new TraceStore(memorySource('mem', sampleMeta(), [], blocks));
    await again.prepare(() => true, 0);
    expect(again.prepared).toBe(true);
    expect(again.stats()).toEqual(direct.stats());
    expect(again.transactionPage('virtqueue', 0, 100)).toEqual(direct.transactionPage('virtqueue', 0, 100));
    expect(direct.transactions().operations).toBe(30);
  });
});
