/**
 * The Timeline's event lanes and their index. Each lane is a filter (filter.ts) over the records
 * drawn as events — markers and bookmarks, errors and findings, NO_RESPONSE; the analysis pass
 * (main/host/service/traceStore.ts) adds every record to an EventIndex, which keeps each lane's
 * records as times and seqs, so a window of a lane (a zoom step) reads only the events in it
 * instead of scanning the capture per lane.
 *
 * Memory: 16 bytes per event record per lane.
 */
import { compileFilter, type RecordPredicate } from './filter';
import { RECORD_KINDS, timeBase, type RecordView, type TimeBase } from './record';
import { Samples, type WindowResult } from './stats';

/** The lanes, by the filter that says which records each draws. */
export const EVENT_LANE_FILTERS = {
  marks: 'kind == marker && !(msg in {NO_RESPONSE, ERROR, DROPPED})',
  errors: 'msg in {ERROR, DROPPED} || (kind == finding && severity != info) || problem',
  noResponse: 'msg == NO_RESPONSE',
} as const;
const FILTERS: readonly string[] = Object.values(EVENT_LANE_FILTERS);

const KIND_MARKER = RECORD_KINDS.indexOf('marker');
const KIND_FINDING = RECORD_KINDS.indexOf('finding');

/** Which lane `filter` (as sent, trimmed) is, or -1. */
export function eventLane(filter: string): number {
  return FILTERS.indexOf(filter.trim());
}

/** One lane's events as arrays (an analysis saved with its capture). */
export interface EventLaneSnapshot {
  times: Float64Array<ArrayBuffer>;
  seqs: Float64Array<ArrayBuffer>;
}

class Lane {
  times = new Samples();
  seqs = new Samples();
  /** Whether times never went back (records in capture order normally are): windows then binary-search. */
  ordered = true;
  constructor(readonly test: RecordPredicate) {}
}

export class EventIndex {
  private readonly base: TimeBase;
  private readonly lanes: Lane[];

  constructor(startMonoNs = 0n) {
    this.base = timeBase(startMonoNs);
    this.lanes = FILTERS.map((f) => {
      const c = compileFilter(f, { startMonoNs });
      if (!c.ok) throw new Error(`event lane filter "${f}": ${c.error}`);
      return new Lane(c.value.test);
    });
  }

  /** Adds one record (records in capture order). */
  add(v: RecordView): void {
    // Every lane draws markers, findings or records with problems: the rest skip the filters.
    const kind = v.kindCode;
    if (kind !== KIND_MARKER && kind !== KIND_FINDING && v.problems === 0) return;
    const t = v.relNs(this.base);
    for (const l of this.lanes) {
      if (!l.test(v)) continue;
      if (l.times.n > 0 && t < l.times.data[l.times.n - 1]!) l.ordered = false;
      l.times.push(t);
      l.seqs.push(v.seq);
    }
  }

  /** Events in lane `lane`. */
  size(lane: number): number {
    return this.lanes[lane]!.times.n;
  }

  /** Lane `lane` over [fromNs, toNs) in `buckets` buckets, as windowQuery answers its filter with series "records". */
  window(lane: number, fromNs: number, toNs: number, buckets: number): WindowResult {
    const l = this.lanes[lane]!;
    const count = new Array<number>(buckets).fill(0);
    const first = new Array<number | null>(buckets).fill(null);
    const scale = buckets / (toNs - fromNs);
    const times = l.times.data;
    const n = l.times.n;
    let i = l.ordered ? lowerBound(times, n, fromNs) : 0;
    for (; i < n; i++) {
      const t = times[i]!;
      if (t >= toNs) {
        if (l.ordered) break;
        continue;
      }
      if (t < fromNs) continue;
      const b = Math.min(buckets - 1, Math.floor((t - fromNs) * scale));
      if (count[b] === 0) first[b] = l.seqs.data[i]!;
      count[b]!++;
    }
    const one = count.map((c) => (c === 0 ? null : 1));
    return { fromNs, toNs, bucketNs: (toNs - fromNs) / buckets, series: 'records', count, sum: [...count], min: one, max: [...one], first };
  }

  snapshot(): EventLaneSnapshot[] {
    return this.lanes.map((l) => ({ times: l.times.data.slice(0, l.times.n), seqs: l.seqs.data.slice(0, l.seqs.n) }));
  }

  /** An index answering as the one `lanes` was taken from. */
  static restore(lanes: readonly EventLaneSnapshot[], startMonoNs = 0n): EventIndex {
    const index = new EventIndex(startMonoNs);
    index.lanes.forEach((l, i) => {
      const s = lanes[i]!;
      l.times.data = s.times;
      l.times.n = s.times.length;
      l.seqs.data = s.seqs;
      l.seqs.n = s.seqs.length;
      for (let k = 1; k < s.times.length && l.ordered; k++) if (s.times[k]! < s.times[k - 1]!) l.ordered = false;
    });
    return index;
  }
}

/** The first index below `n` whose time is ≥ `t` (times ascending). */
function lowerBound(times: Float64Array, n: number, t: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
