/**
 * The measured side of analysis.bench.ts: opens the journal named on the command line and fills
 * the Statistics, Expert and Transactions views as the service answers them — from the analysis
 * saved with the capture (main/host/trace/analysisFile.ts), and, for comparison, by the pass a
 * capture without one (an import, a damaged file) still runs.
 */
import { TraceStore } from '../../main/host/service/traceStore';
import { readAnalysisFile } from '../../main/host/trace/analysisFile';
import { openJournal } from '../../main/host/trace/journal';
import { EVENT_LANE_FILTERS } from '../../src/trace/events';

const PAGE = 100;

function ms(t0: number): number {
  return Math.round((performance.now() - t0) * 10) / 10;
}

const dir = process.argv[3]!;
let t = performance.now();
const o = openJournal(dir);
if (!o.ok) throw new Error(o.error);
const source = o.value;
const analysis = readAnalysisFile(dir, source.fingerprint!());
if (!analysis?.ok) throw new Error(`no usable saved analysis: ${analysis?.error ?? 'none'}`);
const store = new TraceStore(source, { analysis });
const openMs = ms(t);

t = performance.now();
const stats = store.stats();
if (!stats.ok) throw new Error(stats.error);
const index = store.transactions();
const queueLatency = index.queueLatency();
const statisticsFillMs = ms(t);

t = performance.now();
const expert = store.expert();
const expertMs = ms(t);

/** A page of the view, timed as the service builds it (rows decoded for the table). */
function page(s: TraceStore, kind: 'requests' | 'virtqueue', from: number | undefined): number {
  const t0 = performance.now();
  const p = s.transactionPage(kind, from, PAGE);
  if (p.rows.length !== PAGE) throw new Error(`page of ${kind} from ${from}: ${p.rows.length} rows`);
  return ms(t0);
}
function pages(s: TraceStore): number[] {
  const times: number[] = [];
  const x = s.transactions();
  for (const kind of ['requests', 'virtqueue'] as const) {
    const total = kind === 'requests' ? x.requests : x.operations;
    for (const from of [0, Math.floor(total / 2), undefined, Math.floor(total / 3), Math.floor((total * 9) / 10)]) times.push(page(s, kind, from));
  }
  return times;
}
const saved = pages(store);

/**
 * The Timeline's three event lanes at each of ZOOMS zoom steps (the whole capture, then halving
 * about its middle): ms of the slowest step. `spell` gives the filter as sent: the lane's own
 * text is read from the event index; a parenthesised copy is an ordinary filter, which scans.
 */
function zoomSteps(s: TraceStore, steps: number, spell: (f: string) => string): number {
  const lastNs = s.info().lastNs ?? 1;
  let worst = 0;
  for (let z = 0; z < steps; z++) {
    const half = lastNs / 2 ** (z + 1);
    const t0 = performance.now();
    for (const f of Object.values(EVENT_LANE_FILTERS)) {
      const w = s.window({ fromNs: Math.floor(lastNs / 2 - half), toNs: Math.ceil(lastNs / 2 + half), buckets: 1200, series: 'records', filter: spell(f) });
      if (!w.ok) throw new Error(w.error);
    }
    worst = Math.max(worst, ms(t0));
  }
  return worst;
}
const zoomStepMaxMs = zoomSteps(store, 12, (f) => f);
const zoomStepScanMs = zoomSteps(store, 1, (f) => `(${f})`);

// Without the saved analysis: the first view opened reads the capture once for all three.
const pass = new TraceStore(source);
t = performance.now();
const recomputed = pass.stats();
pass.transactions().queueLatency();
const statisticsPassMs = ms(t);
if (JSON.stringify(recomputed) !== JSON.stringify(stats) || JSON.stringify(pass.expert()) !== JSON.stringify(expert)) {
  throw new Error('the saved analysis differs from the pass over the capture');
}
// The Expert view opened first, on a store of its own.
const fresh = new TraceStore(source);
t = performance.now();
fresh.expert();
const expertPassMs = ms(t);
const passPages = pages(pass);

const all = [...saved, ...passPages];
process.stdout.write(
  JSON.stringify({
    count: store.count,
    openMs,
    statisticsFillMs,
    expertMs,
    statisticsPassMs,
    expertPassMs,
    zoomStepMaxMs,
    zoomStepScanMs,
    requests: index.requests,
    operations: index.operations,
    opP50Ns: queueLatency[0]?.p50Ns ?? -1,
    expertGroups: expert.groups.length,
    expertChecked: expert.checked,
    pageMaxMs: Math.max(...all),
    pageMedianMs: [...all].sort((a, b) => a - b)[Math.floor(all.length / 2)]!,
  }),
);
