/**
 * The measured side of analysis.bench.ts: opens the journal named on the command line and fills
 * the Statistics, Expert and Transactions views as the service answers them.
 */
import { TraceStore } from '../../main/host/service/traceStore';
import { openJournal } from '../../main/host/trace/journal';

const PAGE = 100;

function ms(t0: number): number {
  return Math.round((performance.now() - t0) * 10) / 10;
}

let t = performance.now();
const o = openJournal(process.argv[3]!);
if (!o.ok) throw new Error(o.error);
const source = o.value;
const store = new TraceStore(source);
const openMs = ms(t);

// The first view opened reads the capture once for all three (TraceStore's shared analysis pass).
t = performance.now();
const stats = store.stats();
if (!stats.ok) throw new Error(stats.error);
const index = store.transactions();
const queueLatency = index.queueLatency();
const statisticsFillMs = ms(t);

t = performance.now();
const expert = store.expert();
const expertAfterMs = ms(t);

// The Expert view opened first, on a store of its own.
const fresh = new TraceStore(source);
t = performance.now();
fresh.expert();
const expertFirstMs = ms(t);

/** A page of the view, timed as the service builds it (rows decoded for the table). */
function page(kind: 'requests' | 'virtqueue', from: number | undefined): number {
  const t0 = performance.now();
  const p = store.transactionPage(kind, from, PAGE);
  if (p.rows.length !== PAGE) throw new Error(`page of ${kind} from ${from}: ${p.rows.length} rows`);
  return ms(t0);
}
const pages: number[] = [];
for (const kind of ['requests', 'virtqueue'] as const) {
  const total = kind === 'requests' ? index.requests : index.operations;
  for (const from of [0, Math.floor(total / 2), undefined, Math.floor(total / 3), Math.floor((total * 9) / 10)]) pages.push(page(kind, from));
}

// Opened as the service opens a capture: the pass runs in slices, then the views fill from it.
async function prepared(): Promise<{ prepareMs: number; fillAfterPrepareMs: number }> {
  const warm = new TraceStore(source);
  const t0 = performance.now();
  await warm.prepare(() => true);
  const prepareMs = ms(t0);
  const t1 = performance.now();
  warm.stats();
  warm.transactions().queueLatency();
  warm.expert();
  return { prepareMs, fillAfterPrepareMs: ms(t1) };
}

void prepared().then((warm) => process.stdout.write(
  JSON.stringify({
    ...warm,
    count: store.count,
    openMs,
    statisticsFillMs,
    expertAfterMs,
    expertFirstMs,
    expertMs: Math.max(expertFirstMs, expertAfterMs),
    requests: index.requests,
    operations: index.operations,
    opP50Ns: queueLatency[0]?.p50Ns ?? -1,
    expertGroups: expert.groups.length,
    expertChecked: expert.checked,
    pageMaxMs: Math.max(...pages),
    pageMedianMs: [...pages].sort((a, b) => a - b)[Math.floor(pages.length / 2)]!,
  }),
));
