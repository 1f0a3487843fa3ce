/**
 * The Timeline's event index (src/trace/events.ts) answers each lane's window exactly as a scan
 * with the lane's filter does (windowQuery), for records of every kind, with or without
 * problems, in time order or not, for any window and bucket count; restored from its snapshot it
 * answers the same.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { fromRecords } from '../../../src/trace/block';
import { EVENT_LANE_FILTERS, EventIndex, eventLane } from '../../../src/trace/events';
import { compileFilter } from '../../../src/trace/filter';
import { RecordView, type TraceRecord } from '../../../src/trace/record';
import { windowQuery } from '../../../src/trace/stats';
import { sampleRecords, sessionRecords } from './sample';

const START = 1_000n;
const POOL: TraceRecord[] = [...sampleRecords(), ...sessionRecords()];
const LANES = Object.values(EVENT_LANE_FILTERS);

function index(records: TraceRecord[]): EventIndex {
  const x = new EventIndex(START);
  const v = new RecordView(new Uint8Array(0));
  for (const b of fromRecords(records)) for (const o of b.offsets) x.add(v.at(b.bytes, o));
  return x;
}

describe('EventIndex', () => {
  it('draws what the lane filters select from the sample captures', () => {
    const x = index(POOL);
    expect(LANES.map((_, lane) => x.size(lane))).toEqual(
      LANES.map((f) => {
        const test = compileFilter(f, { startMonoNs: START });
        if (!test.ok) throw new Error(test.error);
        const v = new RecordView(new Uint8Array(0));
        return fromRecords(POOL).reduce((n, b) => n + Array.from(b.offsets).filter((o) => test.value.test(v.at(b.bytes, o))).length, 0);
      }),
    );
    // Every lane has something to draw in them: the comparison below is not vacuous.
    expect(LANES.every((_, lane) => x.size(lane) > 0)).toBe(true);
    expect(eventLane(` ${EVENT_LANE_FILTERS.noResponse} `)).toBe(2);
    expect(eventLane('kind == marker')).toBe(-1);
  });

  it('answers every window as windowQuery with the lane filter does, before and after a snapshot', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ pick: fc.nat(POOL.length - 1), dt: fc.integer({ min: -300, max: 1000 }) }), { minLength: 1, maxLength: 80 }),
        fc.integer({ min: -500, max: 40_000 }),
        fc.integer({ min: 1, max: 50_000 }),
        fc.integer({ min: 1, max: 64 }),
        (picks, fromNs, span, buckets) => {
          let t = 0;
          const records = picks.map((p, seq) => {
            t = Math.max(0, t + p.dt);
            return { ...POOL[p.pick]!, seq, monoNs: START + BigInt(t) };
          });
          const x = index(records);
          const back = EventIndex.restore(x.snapshot(), START);
          LANES.forEach((f, lane) => {
            const test = compileFilter(f, { startMonoNs: START });
            if (!test.ok) throw new Error(test.error);
            const scan = windowQuery(fromRecords(records), { fromNs, toNs: fromNs + span, buckets, series: 'records', filter: test.value.test, startMonoNs: START });
            expect(x.window(lane, fromNs, fromNs + span, buckets)).toEqual(scan);
            expect(back.window(lane, fromNs, fromNs + span, buckets)).toEqual(scan);
          });
        },
      ),
      { numRuns: 150 },
    );
  });
});
