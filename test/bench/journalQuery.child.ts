/** The measured side of journalQuery.bench.ts: opens the journal named on the command line and queries it as the UI does. */
import { toRow } from '../../main/host/service/rows';
import { TraceStore } from '../../main/host/service/traceStore';
import { openJournal } from '../../main/host/trace/journal';

const SCREEN = 60;

function ms(t0: number): number {
  return Math.round((performance.now() - t0) * 10) / 10;
}

const t0 = performance.now();
const o = openJournal(process.argv[3]!);
if (!o.ok) throw new Error(o.error);
const store = new TraceStore(o.value);
const info = store.info();
const openMs = ms(t0);

/** One screen of rows from `from`, decoded as the table shows them. */
function screen(from: number, filter?: string): number {
  const r = store.rows(from, SCREEN, filter);
  if (!r.ok) throw new Error(r.error);
  for (const p of r.value.positions) toRow(store.at(p)!, p, o.ok ? o.value.meta.startMonoNs : 0n);
  return r.value.total;
}

let t = performance.now();
screen(0);
const firstScreenMs = ms(t);
t = performance.now();
screen(Math.floor(store.count / 2));
const jumpToMiddleMs = ms(t);
t = performance.now();
const matches = screen(0, 'dev == 1');
const filterAllMs = ms(t);
// The first scan checks every chunk's CRC-32C; a second filter reads chunks already checked.
t = performance.now();
screen(0, 'dev == 2');
const filterAgainMs = ms(t);
t = performance.now();
const w = store.window({ fromNs: info.firstNs!, toNs: info.lastNs! + 1, buckets: 1000, series: 'messages' });
if (!w.ok) throw new Error(w.error);
const windowMs = ms(t);
const windowed = w.value.count.reduce((a, n) => a + n, 0);
// A zoomed view: a twentieth of the capture.
const span = (info.lastNs! - info.firstNs!) / 20;
t = performance.now();
store.window({ fromNs: info.firstNs! + 10 * span, toNs: info.firstNs! + 11 * span, buckets: 1000, series: 'messages' });
const windowTwentiethMs = ms(t);

process.stdout.write(JSON.stringify({ count: store.count, openMs, firstScreenMs, jumpToMiddleMs, filterAllMs, matches, filterAgainMs, windowMs, windowed, windowTwentiethMs }));
