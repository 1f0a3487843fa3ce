/**
 * Statistics over a capture: counts per name, device, direction and problem, latency per request
 * type, throughput and virtqueue occupancy over time; and windowed queries that reduce any span
 * of the capture to a fixed number of buckets (count/sum/min/max), so a chart never pulls
 * millions of records.
 *
 * StatsAccumulator takes records one at a time (the recorder's live blocks, or a journal scan)
 * and allocates little per record: a data view per vq-index record, and memory when a new
 * device or queue first appears or a latency array doubles. Latency percentiles are exact: every latency is kept in a
 * Float64Array per request type and sorted when the result is taken (8 bytes per response).
 * Times are ns relative to the capture start (CaptureMeta.startMonoNs).
 */
import { PROBLEM_CODES, type ProblemCode } from '../protocol/types';
import { forEachRecord, type RecordBlock } from './block';
import { RULES, SEVERITIES, type Severity } from './conformance';
import type { RecordPredicate } from './filter';
import { NAME_SLOTS, nameSlot } from './names';
import { NO_DEV, RECORD_KINDS, timeBase, type RecordKind, type RecordView, type TimeBase } from './record';

export interface Traffic {
  messages: number;
  bytes: number;
}

/** Records of one name (GET_VQUEUE of every revision together, DOORBELL, NO_RESPONSE…). */
export interface NameStats {
  name: string;
  count: number;
  toDevice: number;
  toDriver: number;
  bytes: number;
}

/** Message records of one dev_num; null: messages without a readable header. */
export interface DeviceStats {
  dev: number | null;
  messages: number;
  toDevice: number;
  toDriver: number;
  bytes: number;
}

export interface ProblemStats {
  code: ProblemCode;
  count: number;
}

/** [fromNs, toNs) with toNs null for the open last bucket. */
export interface HistogramBucket {
  fromNs: number;
  toNs: number | null;
  count: number;
}

/** Latency of one request type (the responses that were paired with their request). */
export interface LatencyStats {
  name: string;
  count: number;
  minNs: number;
  meanNs: number;
  /** Exact nearest-rank percentiles. */
  p50Ns: number;
  p90Ns: number;
  p99Ns: number;
  maxNs: number;
  /** Log-scaled buckets (1-2-5 per decade), from the first to the last non-empty one. */
  histogram: HistogramBucket[];
}

/** Message records per time bucket; bucket i covers [originNs + i·bucketNs, originNs + (i+1)·bucketNs). */
export interface Throughput {
  originNs: number;
  bucketNs: number;
  messages: number[];
  bytes: number[];
}

/** What the driver saw of one virtqueue ('vq-index' records), on the throughput's buckets. */
export interface OccupancyStats {
  dev: number | null;
  queue: number;
  samples: number;
  maxInFlight: number;
  lastInFlight: number;
  /** Largest in-flight count seen in each bucket; null where the bucket has no sample. */
  maxPerBucket: (number | null)[];
}

/** Plain JSON: no bigints, no typed arrays. */
export interface TraceStats {
  records: number;
  /** First and last record time; null for an empty capture. */
  firstNs: number | null;
  lastNs: number | null;
  kinds: Record<RecordKind, number>;
  directions: { toDevice: Traffic; toDriver: Traffic };
  /** Most frequent first. */
  names: NameStats[];
  /** By dev_num, headerless messages last. */
  devices: DeviceStats[];
  /** Codes that occurred, in PROBLEM_CODES order. */
  problems: ProblemStats[];
  /** By request name. */
  latency: LatencyStats[];
  throughput: Throughput;
  /** By dev_num, then queue. */
  occupancy: OccupancyStats[];
  /** Conformance findings recorded in the capture, by rule (RULES order) and severity. */
  findings: { rule: string; severity: Severity; count: number }[];
}

export interface StatsOptions {
  /** Times are relative to this (CaptureMeta.startMonoNs); default 0. */
  startMonoNs?: bigint;
  /** Throughput buckets start at this width and grow tenfold whenever more than maxBuckets would be needed (default 1 ms). */
  initialBucketNs?: number;
  /** Default 1000. */
  maxBuckets?: number;
}

const KIND_MESSAGE = RECORD_KINDS.indexOf('message');
// A module-local copy, as in recorder.ts: under a CommonJS transpile every imported binding is a getter call.
const slotOf = nameSlot;
const KIND_VQ_INDEX = RECORD_KINDS.indexOf('vq-index');
const KIND_FINDING = RECORD_KINDS.indexOf('finding');
const DIR_TO_DEVICE = 1;
const DIR_TO_DRIVER = 2;

/** Bucket edges in ns: 1, 2, 5, 10, 20, 50 … 500 s. */
const LATENCY_EDGES: readonly number[] = Array.from({ length: 36 }, (_, i) => [1, 2, 5][i % 3]! * 10 ** Math.floor(i / 3));

/**
 * Time buckets that coarsen as the capture grows: when a record falls beyond maxBuckets the
 * width grows tenfold and existing buckets fold into the wider ones, so sums and maxima stay
 * exact and memory stays bounded however long the capture runs. Boundaries are multiples of
 * the width, so buckets are round numbers of ms or s from the capture start.
 */
class Timeline {
  originNs: number | null = null;
  used = 0;
  /** Sum series (0 when empty) and max series (NaN when empty). */
  private readonly sums: Float64Array[] = [];
  private readonly maxes: Float64Array[] = [];

  constructor(
    public bucketNs: number,
    private readonly maxBuckets: number,
  ) {}

  addSum(): Float64Array {
    const a = new Float64Array(this.maxBuckets);
    this.sums.push(a);
    return a;
  }
  addMax(): Float64Array {
    const a = new Float64Array(this.maxBuckets).fill(NaN);
    this.maxes.push(a);
    return a;
  }

  /** The bucket of time `t`, coarsening first if needed; records before the first one go to bucket 0. */
  index(t: number): number {
    if (this.originNs === null) this.originNs = Math.floor(t / this.bucketNs) * this.bucketNs;
    let i = Math.floor((t - this.originNs) / this.bucketNs);
    while (i >= this.maxBuckets) {
      this.coarsen();
      i = Math.floor((t - this.originNs) / this.bucketNs);
    }
    if (i < 0) i = 0;
    if (i >= this.used) this.used = i + 1;
    return i;
  }

  private coarsen(): void {
    const old = this.bucketNs;
    const origin = this.originNs!;
    this.bucketNs = old * 10;
    this.originNs = Math.floor(origin / this.bucketNs) * this.bucketNs;
    const to = (j: number): number => Math.floor((origin + j * old - this.originNs!) / this.bucketNs);
    for (const a of this.sums) {
      for (let j = 0; j < this.used; j++) {
        const v = a[j]!;
        a[j] = 0;
        a[to(j)]! += v;
      }
    }
    for (const a of this.maxes) {
      for (let j = 0; j < this.used; j++) {
        const v = a[j]!;
        a[j] = NaN;
        const k = to(j);
        if (!(a[k]! >= v)) a[k] = v;
      }
    }
    this.used = to(this.used - 1) + 1;
  }
}

interface Counter {
  count: number;
  toDevice: number;
  toDriver: number;
  bytes: number;
}

interface Occupancy {
  dev: number;
  queue: number;
  samples: number;
  max: number;
  last: number;
  perBucket: Float64Array;
}

const newCounter = (): Counter => ({ count: 0, toDevice: 0, toDriver: 0, bytes: 0 });

function count(c: Counter, dir: number, bytes: number): void {
  c.count++;
  if (dir === DIR_TO_DEVICE) c.toDevice++;
  else if (dir === DIR_TO_DRIVER) c.toDriver++;
  c.bytes += bytes;
}

/** A growable Float64Array: latencies here, the transaction index's columns too. */
export class Samples {
  data = new Float64Array(64);
  n = 0;
  /** Appends `x`; returns its index. */
  push(x: number): number {
    if (this.n === this.data.length) {
      const grown = new Float64Array(this.n * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.n] = x;
    return this.n++;
  }
}

/** Reads vq-index in_flight (record.ts VQ_INDEX_DATA: u16 at data offset 6) without decoding the rest. */
function inFlight(v: RecordView): number {
  const x = v.dataU32(4);
  return x < 0 ? -1 : x >>> 16;
}

export class StatsAccumulator {
  private readonly base: TimeBase;
  private records = 0;
  private firstNs: number | null = null;
  private lastNs: number | null = null;
  private readonly kinds = new Float64Array(RECORD_KINDS.length);
  private readonly names = Array.from({ length: NAME_SLOTS.length }, newCounter);
  private readonly devices = new Map<number, Counter>();
  /** The same counters indexed by dev_num. */
  private readonly deviceByNum: (Counter | undefined)[] = [];
  /** Message records and their bytes by direction code. */
  private readonly dirMessages = new Float64Array(3);
  private readonly dirBytes = new Float64Array(3);
  private readonly problems = new Float64Array(PROBLEM_CODES.length);
  private readonly latency = new Map<string, Samples>();
  private readonly latencyMemo = new Map<string, { n: number; value: LatencyStats }>();
  /** The latency samples of each name slot's name (slots of one name share them). */
  private readonly latencyBySlot: (Samples | undefined)[] = [];
  private readonly timeline: Timeline;
  private readonly tputMessages: Float64Array;
  private readonly tputBytes: Float64Array;
  private readonly occupancy = new Map<number, Occupancy>();
  /** Finding records by RULES index · SEVERITIES.length + SEVERITIES index. */
  private readonly findings = new Map<number, number>();

  constructor(opts: StatsOptions = {}) {
    this.base = timeBase(opts.startMonoNs ?? 0n);
    this.timeline = new Timeline(opts.initialBucketNs ?? 1e6, opts.maxBuckets ?? 1000);
    this.tputMessages = this.timeline.addSum();
    this.tputBytes = this.timeline.addSum();
  }

  add(v: RecordView): void {
    const t = v.relNs(this.base);
    this.records++;
    if (this.firstNs === null || t < this.firstNs) this.firstNs = t;
    if (this.lastNs === null || t > this.lastNs) this.lastNs = t;
    const kind = v.kindCode;
    this.kinds[kind]!++;
    const dir = v.dirCode;
    const size = v.dataLength;
    const slot = slotOf(v);
    count(this.names[slot]!, dir, size);
    for (let p = v.problems, i = 0; p !== 0; p >>>= 1, i++) if (p & 1) this.problems[i]!++;
    if (kind === KIND_MESSAGE) {
      const dev = v.devNum;
      // By index: a Map lookup per message costs more than the rest of the counting.
      let d = this.deviceByNum[dev];
      if (d === undefined) this.devices.set(dev, (d = this.deviceByNum[dev] = newCounter()));
      count(d, dir, size);
      this.dirMessages[dir]!++;
      this.dirBytes[dir]! += size;
      const b = this.timeline.index(t);
      this.tputMessages[b]!++;
      this.tputBytes[b]! += size;
      if (v.pairSeq !== -1) {
        let s = this.latencyBySlot[slot];
        if (s === undefined) {
          const name = NAME_SLOTS[slot]!;
          s = this.latency.get(name);
          if (s === undefined) this.latency.set(name, (s = new Samples()));
          this.latencyBySlot[slot] = s;
        }
        s.push(v.latencyNs);
      }
    } else if (kind === KIND_FINDING) {
      const key = v.msgId * SEVERITIES.length + v.msgType;
      this.findings.set(key, (this.findings.get(key) ?? 0) + 1);
    } else if (kind === KIND_VQ_INDEX) {
      const n = inFlight(v);
      if (n < 0) return;
      const dev = v.devNum;
      const queue = v.channel;
      const key = dev * 0x1_0000 + queue;
      let o = this.occupancy.get(key);
      if (o === undefined) this.occupancy.set(key, (o = { dev, queue, samples: 0, max: 0, last: 0, perBucket: this.timeline.addMax() }));
      o.samples++;
      o.last = n;
      if (n > o.max) o.max = n;
      const b = this.timeline.index(t);
      if (!(o.perBucket[b]! >= n)) o.perBucket[b] = n;
    }
  }

  /** Adds every record of the blocks. */
  addBlocks(blocks: Iterable<RecordBlock>): this {
    forEachRecord(blocks, (v) => this.add(v));
    return this;
  }

  /** The statistics so far (the accumulator keeps accumulating). */
  result(): TraceStats {
    const traffic = (dir: number): Traffic => ({ messages: this.dirMessages[dir]!, bytes: this.dirBytes[dir]! });
    return {
      records: this.records,
      firstNs: this.firstNs,
      lastNs: this.lastNs,
      kinds: Object.fromEntries(RECORD_KINDS.map((k, i) => [k, this.kinds[i]!])) as Record<RecordKind, number>,
      directions: { toDevice: traffic(DIR_TO_DEVICE), toDriver: traffic(DIR_TO_DRIVER) },
      names: this.nameStats(),
      devices: [...this.devices]
        .sort(([a], [b]) => a - b)
        .map(([dev, c]) => ({ dev: dev === NO_DEV ? null : dev, messages: c.count, toDevice: c.toDevice, toDriver: c.toDriver, bytes: c.bytes })),
      problems: PROBLEM_CODES.flatMap((code, i) => (this.problems[i]! > 0 ? [{ code, count: this.problems[i]! }] : [])),
      latency: [...this.latency].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, s]) => this.latencyOf(name, s)),
      throughput: {
        originNs: this.timeline.originNs ?? 0,
        bucketNs: this.timeline.bucketNs,
        messages: Array.from(this.tputMessages.subarray(0, this.timeline.used)),
        bytes: Array.from(this.tputBytes.subarray(0, this.timeline.used)),
      },
      occupancy: [...this.occupancy]
        .sort(([a], [b]) => a - b)
        .map(([, o]) => ({
          dev: o.dev === NO_DEV ? null : o.dev,
          queue: o.queue,
          samples: o.samples,
          maxInFlight: o.max,
          lastInFlight: o.last,
          maxPerBucket: Array.from(o.perBucket.subarray(0, this.timeline.used), (x) => (Number.isNaN(x) ? null : x)),
        })),
      findings: [...this.findings]
        .sort(([a], [b]) => a - b)
        .flatMap(([key, count]) => {
          const rule = RULES[Math.floor(key / SEVERITIES.length)];
          const severity = SEVERITIES[key % SEVERITIES.length];
          return rule && severity ? [{ rule: rule.id, severity, count }] : [];
        }),
    };
  }

  /** A name's latency statistics, computed again only when it has new samples (sorting millions costs a second). */
  private latencyOf(name: string, s: Samples): LatencyStats {
    const memo = this.latencyMemo.get(name);
    if (memo?.n === s.n) return memo.value;
    const value = latencyStats(name, s);
    this.latencyMemo.set(name, { n: s.n, value });
    return value;
  }

  private nameStats(): NameStats[] {
    const byName = new Map<string, NameStats>();
    this.names.forEach((c, slot) => {
      if (c.count === 0) return;
      const name = NAME_SLOTS[slot]!;
      const s = byName.get(name) ?? { name, count: 0, toDevice: 0, toDriver: 0, bytes: 0 };
      s.count += c.count;
      s.toDevice += c.toDevice;
      s.toDriver += c.toDriver;
      s.bytes += c.bytes;
      byName.set(name, s);
    });
    return [...byName.values()].sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : 1));
  }
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Exact percentiles and the log-scaled histogram of the samples (at least one). */
export function latencyStats(name: string, s: Samples): LatencyStats {
  const sorted = s.data.slice(0, s.n).sort();
  let sum = 0;
  for (const x of sorted) sum += x;
  const counts = new Float64Array(LATENCY_EDGES.length + 1);
  let b = 0;
  for (const x of sorted) {
    while (b < LATENCY_EDGES.length && x >= LATENCY_EDGES[b]!) b++;
    counts[b]!++;
  }
  const first = counts.findIndex((c) => c > 0);
  const last = counts.findLastIndex((c) => c > 0);
  const histogram: HistogramBucket[] = [];
  for (let i = first; i <= last; i++) histogram.push({ fromNs: i === 0 ? 0 : LATENCY_EDGES[i - 1]!, toNs: LATENCY_EDGES[i] ?? null, count: counts[i]! });
  return {
    name,
    count: s.n,
    minNs: sorted[0]!,
    meanNs: sum / s.n,
    p50Ns: percentile(sorted, 50),
    p90Ns: percentile(sorted, 90),
    p99Ns: percentile(sorted, 99),
    maxNs: sorted[s.n - 1]!,
    histogram,
  };
}

/** Statistics over whole blocks (a capture read from disk or imported). */
export function computeStats(blocks: Iterable<RecordBlock>, opts: StatsOptions = {}): TraceStats {
  return new StatsAccumulator(opts).addBlocks(blocks).result();
}

// ---- windowed queries ---------------------------------------------------------------------------

/**
 * What a window sums per record: 'messages' counts message records (value 1), 'bytes' their data
 * bytes, 'latency' the latency of paired responses, 'occupancy' vq-index in-flight counts,
 * 'records' counts records of any kind (markers, findings: the timeline's event lanes).
 */
export type WindowSeries = 'messages' | 'bytes' | 'latency' | 'occupancy' | 'records';

export interface WindowQuery {
  /** [fromNs, toNs) relative to startMonoNs. */
  fromNs: number;
  toNs: number;
  /** Number of equal buckets, 1..1,000,000. */
  buckets: number;
  series: WindowSeries;
  /** Only records the filter accepts (compileFilter). */
  filter?: RecordPredicate;
  dev?: number;
  /** The record's channel: bus queue for messages, virtqueue for vq-index. */
  queue?: number;
  startMonoNs?: bigint;
}

/**
 * Per bucket: how many records contributed, the sum, min and max of their values, and the seq of
 * the first of them (null when none): what a click on the bucket jumps to.
 */
export interface WindowResult {
  fromNs: number;
  toNs: number;
  bucketNs: number;
  series: WindowSeries;
  count: number[];
  sum: number[];
  min: (number | null)[];
  max: (number | null)[];
  first: (number | null)[];
}

/** The series value of a record, or -1 when the record is not part of the series. */
const SERIES_VALUE: Readonly<Record<WindowSeries, (v: RecordView) => number>> = {
  messages: (v) => (v.kindCode === KIND_MESSAGE ? 1 : -1),
  bytes: (v) => (v.kindCode === KIND_MESSAGE ? v.dataLength : -1),
  latency: (v) => (v.kindCode === KIND_MESSAGE && v.pairSeq !== -1 ? v.latencyNs : -1),
  occupancy: (v) => (v.kindCode === KIND_VQ_INDEX ? inFlight(v) : -1),
  records: () => 1,
};

/** Reduces the records in [fromNs, toNs) to `buckets` equal buckets of one series. */
export function windowQuery(blocks: Iterable<RecordBlock>, q: WindowQuery): WindowResult {
  if (!(q.toNs > q.fromNs) || !Number.isInteger(q.buckets) || q.buckets < 1 || q.buckets > 1_000_000) {
    throw new RangeError(`windowQuery: expected fromNs < toNs and 1..1000000 whole buckets, saw ${q.fromNs}..${q.toNs} in ${q.buckets} buckets`);
  }
  const n = q.buckets;
  const count = new Float64Array(n);
  const sum = new Float64Array(n);
  const min = new Float64Array(n).fill(Infinity);
  const max = new Float64Array(n).fill(-Infinity);
  const first = new Float64Array(n);
  const base = timeBase(q.startMonoNs ?? 0n);
  const scale = n / (q.toNs - q.fromNs);
  const value = SERIES_VALUE[q.series];
  const { fromNs, toNs, filter, dev, queue } = q;
  forEachRecord(blocks, (v) => {
    const x = value(v);
    if (x < 0) return;
    if ((dev !== undefined && v.devNum !== dev) || (queue !== undefined && v.channel !== queue)) return;
    const t = v.relNs(base);
    if (t < fromNs || t >= toNs) return;
    if (filter !== undefined && !filter(v)) return;
    const b = Math.min(n - 1, Math.floor((t - fromNs) * scale));
    if (count[b] === 0) first[b] = v.seq;
    count[b]!++;
    sum[b]! += x;
    if (x < min[b]!) min[b] = x;
    if (x > max[b]!) max[b] = x;
  });
  const orNull = (a: Float64Array): (number | null)[] => Array.from(a, (x, i) => (count[i] === 0 ? null : x));
  return { fromNs, toNs, bucketNs: (toNs - fromNs) / n, series: q.series, count: Array.from(count), sum: Array.from(sum), min: orNull(min), max: orNull(max), first: orNull(first) };
}

// ---- text ---------------------------------------------------------------------------------------

/** 1234567 → "1,234,567"; fractions to one decimal. */
function num(n: number): string {
  const [int, frac] = (Number.isInteger(n) ? String(n) : n.toFixed(1)).split('.');
  return int!.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + (frac ? '.' + frac : '');
}

/** A duration with three significant digits in the largest fitting unit: 12.3 µs, 1.50 s. */
export function formatNs(ns: number): string {
  const [div, unit] = ns >= 1e9 ? [1e9, 's'] : ns >= 1e6 ? [1e6, 'ms'] : ns >= 1e3 ? [1e3, 'µs'] : [1, 'ns'];
  const x = ns / div;
  return `${div === 1 ? String(Math.round(x)) : x.toPrecision(3)} ${unit}`;
}

/** Mean and peak message and byte rates per second over the throughput buckets; null when there are none. */
export function throughputRates(t: Throughput): { meanMessages: number; meanBytes: number; peakMessages: number; peakBytes: number } | null {
  if (t.messages.length === 0) return null;
  const seconds = (t.messages.length * t.bucketNs) / 1e9;
  const perSecond = 1e9 / t.bucketNs;
  return {
    meanMessages: t.messages.reduce((a, b) => a + b, 0) / seconds,
    meanBytes: t.bytes.reduce((a, b) => a + b, 0) / seconds,
    peakMessages: Math.max(...t.messages) * perSecond,
    peakBytes: Math.max(...t.bytes) * perSecond,
  };
}

/** Columns padded to their widest cell; the first column left-aligned, the others right-aligned. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const BARS = '▁▂▃▄▅▆▇█';

/** A histogram as one line of bars between its first and last bucket edges. */
function sparkline(h: HistogramBucket[]): string {
  const top = Math.max(...h.map((b) => b.count));
  const bars = h.map((b) => (b.count === 0 ? ' ' : BARS[Math.min(BARS.length - 1, Math.floor((b.count / top) * (BARS.length - 1)))]!)).join('');
  const last = h[h.length - 1]!;
  return `${formatNs(h[0]!.fromNs)} ${bars} ${last.toNs === null ? '∞' : formatNs(last.toNs)}`;
}

/** The stats as aligned text tables for the CLI's `stats` command. */
export function formatStats(s: TraceStats): string {
  const out: string[] = [];
  const span = s.firstNs === null || s.lastNs === null ? 0 : s.lastNs - s.firstNs;
  out.push(`records     ${num(s.records)}` + (s.firstNs === null ? '' : ` from ${formatNs(s.firstNs)} to ${formatNs(s.lastNs!)} (${formatNs(span)})`));
  out.push(`kinds       ${RECORD_KINDS.filter((k) => s.kinds[k] > 0).map((k) => `${k} ${num(s.kinds[k])}`).join(', ') || 'none'}`);
  const { toDevice, toDriver } = s.directions;
  out.push(`to device   ${num(toDevice.messages)} messages, ${num(toDevice.bytes)} bytes`);
  out.push(`to driver   ${num(toDriver.messages)} messages, ${num(toDriver.bytes)} bytes`);
  const r = throughputRates(s.throughput);
  if (r !== null) {
    out.push(
      `throughput  mean ${num(Math.round(r.meanMessages))} msg/s, ${num(Math.round(r.meanBytes))} B/s; ` +
        `peak ${num(Math.round(r.peakMessages))} msg/s, ${num(Math.round(r.peakBytes))} B/s (${formatNs(s.throughput.bucketNs)} buckets)`,
    );
  }
  if (s.names.length > 0) {
    out.push('', table(['name', 'count', 'to device', 'to driver', 'bytes'], s.names.map((n) => [n.name, num(n.count), num(n.toDevice), num(n.toDriver), num(n.bytes)])));
  }
  if (s.devices.length > 0) {
    out.push('', table(['device', 'messages', 'to device', 'to driver', 'bytes'], s.devices.map((d) => [d.dev === null ? 'none' : `dev ${d.dev}`, num(d.messages), num(d.toDevice), num(d.toDriver), num(d.bytes)])));
  }
  out.push('', s.problems.length === 0 ? 'problems    none' : table(['problem', 'records'], s.problems.map((p) => [p.code, num(p.count)])));
  if (s.latency.length > 0) {
    const rows = s.latency.map((l) => [l.name, num(l.count), formatNs(l.minNs), formatNs(l.meanNs), formatNs(l.p50Ns), formatNs(l.p90Ns), formatNs(l.p99Ns), formatNs(l.maxNs), sparkline(l.histogram)]);
    out.push('', table(['latency', 'count', 'min', 'mean', 'p50', 'p90', 'p99', 'max', 'histogram'], rows));
  }
  if (s.findings.length > 0) {
    out.push('', table(['finding', 'severity', 'records'], s.findings.map((f) => [f.rule, f.severity, num(f.count)])));
  }
  if (s.occupancy.length > 0) {
    const rows = s.occupancy.map((o) => [o.dev === null ? 'none' : `dev ${o.dev}`, String(o.queue), num(o.samples), num(o.maxInFlight), num(o.lastInFlight)]);
    out.push('', table(['virtqueue', 'queue', 'samples', 'max in flight', 'last in flight'], rows));
  }
  return out.join('\n') + '\n';
}
