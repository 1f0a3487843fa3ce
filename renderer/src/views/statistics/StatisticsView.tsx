/**
 * The Statistics view: what `amp-workbench stats` computes (trace.stats, src/trace/stats.ts), as
 * tables: the records and their span, traffic per direction, throughput (mean and peak, messages/s
 * and bytes/s), counts per message name and per device, problems, latency per request type and
 * per virtqueue's operations (workload latency, trace.transactions), virtqueue occupancy and
 * conformance findings. A filter narrows every table to the records it accepts. A name or a
 * device opens the Trace view filtered to it; "Export…" exports the records counted.
 */
import { useEffect, useState, type FormEvent, type ReactNode } from 'react';

import type { WorkbenchApi, WorkbenchResult } from '../../../../src/api/workbench';
import { formatNs, throughputRates } from '../../../../src/trace/stats';
import { ErrorNote } from '../../ui/ErrorNote';
import type { ViewNav } from '../../ui/nav';
import { useTraceTick } from '../../ui/useTraceTick';
import { formatSi } from '../timeline/axes';
import './analysis.css';

type Stats = WorkbenchResult<'trace.stats'>;
type Latency = Stats['latency'][number];
type QueueLatency = WorkbenchResult<'trace.transactions'>['queueLatency'];

const REFRESH_MS = 1000;

const num = (n: number): string => n.toLocaleString('en-US');

interface Row {
  key: string;
  cells: ReactNode[];
}

/** A table of the view: a caption (also its accessible name), a header row unless `head` is empty, rows of cells. */
function Table({ caption, head, rows }: { caption: string; head: readonly string[]; rows: readonly Row[] }) {
  return (
    <table className="analysis-table" aria-label={caption}>
      <caption>{caption}</caption>
      {head.length > 0 ? (
        <thead>
          <tr>
            {head.map((h, i) => (
              <th key={i}>{h}</th>
            ))}
          </tr>
        </thead>
      ) : null}
      <tbody>
        {rows.map((r) => (
          <tr key={r.key}>
            {r.cells.map((c, i) => (
              <td key={i}>{c}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const LATENCY_HEAD = ['name', 'count', 'min', 'mean', 'p50', 'p90', 'p99', 'max'];
const latencyRow = (l: Latency, name: ReactNode): Row => ({
  key: l.name,
  cells: [name, num(l.count), formatNs(l.minNs), formatNs(l.meanNs), formatNs(l.p50Ns), formatNs(l.p90Ns), formatNs(l.p99Ns), formatNs(l.maxNs)],
});
const COUNT_HEAD = ['count', 'to device', 'to driver', 'bytes'];

export function StatisticsView({ api, nav }: { api: WorkbenchApi; nav: ViewNav }) {
  const tick = useTraceTick(api, REFRESH_MS);
  const [draft, setDraft] = useState('');
  const [filter, setFilter] = useState('');
  const [stats, setStats] = useState<Stats | null>(null);
  const [queues, setQueues] = useState<QueueLatency>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    void Promise.all([api.call('trace.stats', filter === '' ? {} : { filter }), api.call('trace.transactions', { kind: 'virtqueue', from: 0, count: 1 })]).then(([s, t]) => {
      if (!live) return;
      // A bad filter clears the tables: old numbers under a new filter would read as its answer.
      setStats(s.ok ? s.result : null);
      setError(s.ok ? null : s.error.message);
      if (t.ok) setQueues(t.result.queueLatency);
    });
    return () => {
      live = false;
    };
  }, [api, tick, filter]);

  const apply = (e: FormEvent): void => {
    e.preventDefault();
    setFilter(draft.trim());
  };
  const r = stats ? throughputRates(stats.throughput) : null;
  /** A name that opens the Trace view filtered to `filter`. */
  const follow = (filter: string, text: string): ReactNode => (
    <button type="button" className="analysis-seq" title={`Show ${filter} in the Trace view`} onClick={() => nav.follow(filter)}>
      {text}
    </button>
  );
  const span = stats && stats.firstNs !== null && stats.lastNs !== null ? stats.lastNs - stats.firstNs : null;

  return (
    <div className="analysis-view statistics-view">
      <form className="analysis-toolbar" onSubmit={apply}>
        <label>
          filter <input value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="all records (e.g. dev == 1)" size={40} aria-label="statistics filter" />
        </label>
        <button type="submit">Apply</button>
        <button type="button" disabled={!stats || stats.records === 0} onClick={() => nav.exportScope(filter === '' ? { label: 'the whole trace' } : { label: `records matching ${filter}`, filter })}>
          Export…
        </button>
      </form>
      {error ? <ErrorNote error={error} /> : null}
      {stats && stats.records === 0 ? <p className="analysis-empty">{filter === '' ? 'No trace yet: connect a board or open a capture.' : `No record matches ${filter}.`}</p> : null}
      {stats && stats.records > 0 ? (
        <>
          <div className="analysis-grid">
            <Table
              caption="Summary"
              head={[]}
              rows={[
                { key: 'records', cells: ['records', num(stats.records)] },
                { key: 'span', cells: ['span', span === null ? '' : `${formatNs(stats.firstNs!)} – ${formatNs(stats.lastNs!)} (${formatNs(span)})`] },
                ...Object.entries(stats.kinds)
                  .filter(([, n]) => n > 0)
                  .map(([k, n]) => ({ key: k, cells: [k, num(n)] })),
              ]}
            />
            <Table
              caption="Traffic"
              head={['direction', 'messages', 'bytes']}
              rows={[
                { key: 'to-device', cells: [follow('dir == to-device', 'driver → device'), num(stats.directions.toDevice.messages), num(stats.directions.toDevice.bytes)] },
                { key: 'to-driver', cells: [follow('dir == to-driver', 'device → driver'), num(stats.directions.toDriver.messages), num(stats.directions.toDriver.bytes)] },
              ]}
            />
            {r ? (
              <Table
                caption={`Throughput (${formatNs(stats.throughput.bucketNs)} buckets)`}
                head={['', 'messages/s', 'bytes/s']}
                rows={[
                  { key: 'mean', cells: ['mean', formatSi(r.meanMessages), formatSi(r.meanBytes)] },
                  { key: 'peak', cells: ['peak', formatSi(r.peakMessages), formatSi(r.peakBytes)] },
                ]}
              />
            ) : null}
          </div>
          <div className="analysis-grid">
            <Table caption="Per message" head={['name', ...COUNT_HEAD]} rows={stats.names.map((n) => ({ key: n.name, cells: [follow(`msg == ${n.name}`, n.name), num(n.count), num(n.toDevice), num(n.toDriver), num(n.bytes)] }))} />
            <Table
              caption="Per device"
              head={['device', ...COUNT_HEAD]}
              rows={stats.devices.map((d) => ({
                key: String(d.dev),
                cells: [d.dev === null ? 'no header' : follow(`dev == ${d.dev}`, `dev ${d.dev}`), num(d.messages), num(d.toDevice), num(d.toDriver), num(d.bytes)],
              }))}
            />
            <Table
              caption="Problems"
              head={[]}
              rows={stats.problems.length === 0 ? [{ key: 'none', cells: ['none'] }] : stats.problems.map((p) => ({ key: p.code, cells: [follow(`problem == ${p.code}`, p.code), num(p.count)] }))}
            />
          </div>
          {stats.latency.length > 0 ? (
            <Table caption="Latency per request type" head={LATENCY_HEAD} rows={stats.latency.map((l) => latencyRow(l, follow(`msg == ${l.name} && type == response`, l.name)))} />
          ) : (
            <p className="analysis-empty">No request has had its response.</p>
          )}
          {queues.length > 0 && filter === '' ? (
            <Table caption="Latency of virtqueue operations (EVENT_AVAIL to used entries)" head={LATENCY_HEAD} rows={queues.map((l) => latencyRow(l, l.name))} />
          ) : null}
          <div className="analysis-grid">
            {stats.occupancy.length > 0 ? (
              <Table
                caption="Virtqueues (descriptors in flight)"
                head={['virtqueue', 'samples', 'max', 'last']}
                rows={stats.occupancy.map((o) => ({ key: `${o.dev} ${o.queue}`, cells: [`dev ${o.dev ?? '–'} vq ${o.queue}`, num(o.samples), num(o.maxInFlight), num(o.lastInFlight)] }))}
              />
            ) : null}
            {stats.findings.length > 0 ? (
              <Table
                caption="Findings recorded"
                head={['rule', 'severity', 'records']}
                rows={stats.findings.map((f) => ({
                  key: `${f.rule} ${f.severity}`,
                  cells: [follow(`finding == ${f.rule}`, f.rule), <span className={`analysis-sev-${f.severity}`}>{f.severity}</span>, num(f.count)],
                }))}
              />
            ) : null}
          </div>
        </>
      ) : null}
    </div>
  );
}
