/**
 * RecordView.relNs reads a record's time relative to the capture start from the u64's 32-bit halves
 * without a BigInt. It must give what Number(monoNs − start) gives, including where the low half
 * borrows (times and starts either side of a multiple of 2^32), and windows, stats and the `time`
 * filter must not depend on where the capture sits on the clock.
 */
import { describe, expect, it } from 'vitest';
import { forEachRecord, fromRecords } from '../../../src/trace/block';
import { compileFilter } from '../../../src/trace/filter';
import { RecordView, timeBase, type TraceRecord } from '../../../src/trace/record';
import { computeStats, windowQuery, type WindowSeries } from '../../../src/trace/stats';
import { sampleRecords, START_MONO_NS } from './sample';

const TWO32 = 1n << 32n;

/** The sample with every time moved by `shift` ns and, every third record, 2^32 − 1 ns more. */
function shifted(shift: bigint): TraceRecord[] {
  return sampleRecords().map((r, i) => ({ ...r, monoNs: r.monoNs + shift + BigInt(Math.floor(i / 3)) * (TWO32 - 1n) }));
}

// Starts whose low half sits just below or at a 2^32 boundary, so records cross it.
const STARTS = [START_MONO_NS, 5n * TWO32 - 20_000n, 7n * TWO32 - 1n, 9n * TWO32, (1n << 63n) - 3n * TWO32 + 5n];

describe('RecordView.relNs', () => {
  it('equals Number(monoNs − start) across 2^32 boundaries, before and after the start', () => {
    const v = new RecordView(new Uint8Array(0));
    for (const start of STARTS) {
      const records = shifted(start - START_MONO_NS);
      for (const base of [start, start + 15_000n, start + 3n * TWO32 + 1n, 0n]) {
        const tb = timeBase(base);
        let seen = 0;
        forEachRecord(fromRecords(records), (view) => {
          const r = records[seen++]!;
          expect(v.at(view.raw(), 0).relNs(tb)).toBe(Number(r.monoNs - base));
        });
        expect(seen).toBe(records.length);
      }
    }
  });

  it('rounds like Number() past 2^53 ns', () => {
    const far = { ...sampleRecords()[0]!, monoNs: (1n << 60n) + 12_345n };
    const [block] = fromRecords([far]);
    const v = new RecordView(block!.bytes);
    expect(v.relNs(timeBase(7n))).toBe(Number(far.monoNs - 7n));
  });
});

describe('windows, stats and the time filter wherever the capture sits on the clock', () => {
  const reference = shifted(0n);
  const span = Number(reference[reference.length - 1]!.monoNs - START_MONO_NS) + 1;
  const series: WindowSeries[] = ['messages', 'bytes', 'latency', 'occupancy'];

  function results(start: bigint): unknown {
    const blocks = fromRecords(shifted(start - START_MONO_NS));
    const opts = { startMonoNs: start };
    const inTime = compileFilter(`time in 0ns..${Math.floor(span / 2)}ns`, opts);
    if (!inTime.ok) throw new Error(inTime.error);
    let kept = 0;
    forEachRecord(blocks, (v) => void (inTime.value.test(v) && kept++));
    return {
      windows: series.map((s) => windowQuery(blocks, { fromNs: 0, toNs: span, buckets: 1000, series: s, startMonoNs: start })),
      stats: computeStats(blocks, { ...opts, initialBucketNs: 1e6 }),
      kept,
    };
  }

  it('gives the same windows, stats and filter matches as the capture at the sample start', () => {
    const expected = results(START_MONO_NS);
    for (const start of STARTS.slice(1)) expect(results(start)).toEqual(expected);
  });
});
