/** The capture source helpers that need no files: the span search and the resident cache's bound. */
import { describe, expect, it } from 'vitest';

import { fromRecords, toRecords } from '../../../src/trace/block';
import { memorySource, ResidentCache, spanIndex, type BlockSpan } from '../../../src/trace/source';
import { sampleMeta, sampleRecords } from './sample';

/** Spans of 10 records each: positions 10k.., seqs 100k.. (a gap of 90 after each), times 1000k..1000k+900. */
const spans: BlockSpan[] = Array.from({ length: 5 }, (_, k) => ({ first: 10 * k, count: 10, firstSeq: 100 * k, minNs: 1000 * k, maxNs: 1000 * k + 900, bytes: 640 }));

describe('spanIndex', () => {
  it('finds the span holding a position, a seq or the first record at or after a time', () => {
    expect(spanIndex(spans, undefined)).toBe(0);
    expect(spanIndex(spans, { position: 0 })).toBe(0);
    expect(spanIndex(spans, { position: 19 })).toBe(1);
    expect(spanIndex(spans, { position: 49 })).toBe(4);
    expect(spanIndex(spans, { position: 50 })).toBe(5);
    expect(spanIndex(spans, { seq: 250 })).toBe(2);
    expect(spanIndex(spans, { seq: 0 })).toBe(0);
    expect(spanIndex(spans, { ns: 950 })).toBe(1);
    expect(spanIndex(spans, { ns: 900 })).toBe(0);
    expect(spanIndex(spans, { ns: 99_999 })).toBe(5);
    expect(spanIndex([], { seq: 3 })).toBe(0);
  });
});

describe('ResidentCache over blocks in memory', () => {
  it('keeps what is read one by one within its budget, and scans keep nothing', () => {
    const recs = sampleRecords();
    const blocks = recs.map((r) => fromRecords([r])[0]!);
    const src = memorySource('mem', sampleMeta(), [], blocks);
    const most = Math.max(...blocks.map((b) => b.bytes.length));
    const cache = new ResidentCache(src, 2 * most);
    expect(toRecords(cache.blocks())).toEqual(recs);
    expect(cache.resident).toBe(0);
    for (let k = 0; k < blocks.length; k++) {
      expect(cache.read(k)).toBe(blocks[k]);
      expect(cache.resident).toBeLessThanOrEqual(3 * most);
    }
    expect(toRecords(cache.blocks({ seq: recs[3]!.seq }))).toEqual(recs.slice(3));
  });
});
