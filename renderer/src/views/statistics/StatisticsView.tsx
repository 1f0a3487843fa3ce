/**
 * The Statistics view: what `amp-workbench stats` computes (trace.stats, src/trace/stats.ts), as
 * tables: the records and their span, traffic per direction, throughput (mean and peak, messages/s
 * and bytes/s), counts per message name and per device, problems, latency per request type and
 * per virtqueue's operations (workload latency, trace.transactions), virtqueue occupancy and
 * conformance findings. A filter narrows every table to the records it accepts. A name or a
 * device opens the Trace view filtered to it; "Export…" exports the records counted.
 */
import { useEffect, useState, type FormEvent } from 'react';

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

function Follow({ nav, filter, children }: { nav: ViewNav; filter: string; children: string }) {
  return (
    <button type="button" className="analysis-seq" title={`Show ${filter} in the Trace view`} onClick={() => nav.follow(filter)}>
      {children}
    </button>
  );
}

function LatencyTable({ caption, rows, name }: { caption: string; rows: readonly Latency[]; name: (l: Latency) => React.ReactNode }) {
  return (
    <table className="analysis-table" aria-label={caption}>
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th>name</th>
          <th>count</th>
          <th>min</th>
          <th>mean</th>
          <th>p50</th>
          <th>p90</th>
          <th>p99</th>
          <th>max</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((l) => (
          <tr key={l.name}>
            <td>{name(l)}</td>
            <td>{num(l.count)}</td>
            <td>{formatNs(l.minNs)}</td>
            <td>{formatNs(l.meanNs)}</td>
            <td>{formatNs(l.p50Ns)}</td>
            <td>{formatNs(l.p90Ns)}</td>
            <td>{formatNs(l.p99Ns)}</td>
            <td>{formatNs(l.maxNs)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

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
            <table className="analysis-table" aria-label="summary">
              <caption>Summary</caption>
              <tbody>
                <tr>
                  <th>records</th>
                  <td>{num(stats.records)}</td>
                </tr>
                <tr>
                  <th>span</th>
                  <td>{span === null ? '' : `${formatNs(stats.firstNs!)} – ${formatNs(stats.lastNs!)} (${formatNs(span)})`}</td>
                </tr>
                {Object.entries(stats.kinds)
                  .filter(([, n]) => n > 0)
                  .map(([k, n]) => (
                    <tr key={k}>
                      <th>{k}</th>
                      <td>{num(n)}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
            <table className="analysis-table" aria-label="directions">
              <caption>Traffic</caption>
              <thead>
                <tr>
                  <th>direction</th>
                  <th>messages</th>
                  <th>bytes</th>
                </tr>
              </thead>
              <tbody>
                <tr>
                  <td>
                    <Follow nav={nav} filter="dir == to-device">
                      driver → device
                    </Follow>
                  </td>
                  <td>{num(stats.directions.toDevice.messages)}</td>
                  <td>{num(stats.directions.toDevice.bytes)}</td>
                </tr>
                <tr>
                  <td>
                    <Follow nav={nav} filter="dir == to-driver">
                      device → driver
                    </Follow>
                  </td>
                  <td>{num(stats.directions.toDriver.messages)}</td>
                  <td>{num(stats.directions.toDriver.bytes)}</td>
                </tr>
              </tbody>
            </table>
            {r ? (
              <table className="analysis-table" aria-label="throughput">
                <caption>Throughput ({formatNs(stats.throughput.bucketNs)} buckets)</caption>
                <thead>
                  <tr>
                    <th />
                    <th>messages/s</th>
                    <th>bytes/s</th>
                  </tr>
                </thead>
                <tbody>
                  <tr>
                    <th>mean</th>
                    <td>{formatSi(r.meanMessages)}</td>
                    <td>{formatSi(r.meanBytes)}</td>
                  </tr>
                  <tr>
                    <th>peak</th>
                    <td>{formatSi(r.peakMessages)}</td>
                    <td>{formatSi(r.peakBytes)}</td>
                  </tr>
                </tbody>
              </table>
            ) : null}
          </div>
          <div className="analysis-grid">
            <table className="analysis-table" aria-label="per message">
              <caption>Per message</caption>
              <thead>
                <tr>
                  <th>name</th>
                  <th>count</th>
                  <th>to device</th>
                  <th>to driver</th>
                  <th>bytes</th>
                </tr>
              </thead>
              <tbody>
                {stats.names.map((n) => (
                  <tr key={n.name}>
                    <td>
                      <Follow nav={nav} filter={`msg == ${n.name}`}>
                        {n.name}
                      </Follow>
                    </td>
                    <td>{num(n.count)}</td>
                    <td>{num(n.toDevice)}</td>
                    <td>{num(n.toDriver)}</td>
                    <td>{num(n.bytes)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <table className="analysis-table" aria-label="per device">
              <caption>Per device</caption>
              <thead>
                <tr>
                  <th>device</th>
                  <th>messages</th>
                  <th>to device</th>
                  <th>to driver</th>
                  <th>bytes</th>
                </tr>
              </thead>
              <tbody>
                {stats.devices.map((d) => (
                  <tr key={d.dev ?? 'none'}>
                    <td>
                      {d.dev === null ? (
                        'no header'
                      ) : (
                        <Follow nav={nav} filter={`dev == ${d.dev}`}>
                          {`dev ${d.dev}`}
                        </Follow>
                      )}
                    </td>
                    <td>{num(d.messages)}</td>
                    <td>{num(d.toDevice)}</td>
                    <td>{num(d.toDriver)}</td>
                    <td>{num(d.bytes)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <table className="analysis-table" aria-label="problems">
              <caption>Problems</caption>
              <tbody>
                {stats.problems.length === 0 ? (
                  <tr>
                    <td className="analysis-muted">none</td>
                  </tr>
                ) : (
                  stats.problems.map((p) => (
                    <tr key={p.code}>
                      <td>
                        <Follow nav={nav} filter={`problem == ${p.code}`}>
                          {p.code}
                        </Follow>
                      </td>
                      <td>{num(p.count)}</td>
                    </tr>
                  ))
                )}
              </tbody>
            </table>
          </div>
          {stats.latency.length > 0 ? (
            <LatencyTable
              caption="Latency per request type"
              rows={stats.latency}
              name={(l) => (
                <Follow nav={nav} filter={`msg == ${l.name} && type == response`}>
                  {l.name}
                </Follow>
              )}
            />
          ) : (
            <p className="analysis-empty">No request has had its response.</p>
          )}
          {queues.length > 0 && filter === '' ? <LatencyTable caption="Latency of virtqueue operations (EVENT_AVAIL to used entries)" rows={queues} name={(l) => l.name} /> : null}
          <div className="analysis-grid">
            {stats.occupancy.length > 0 ? (
              <table className="analysis-table" aria-label="virtqueues">
                <caption>Virtqueues (descriptors in flight)</caption>
                <thead>
                  <tr>
                    <th>virtqueue</th>
                    <th>samples</th>
                    <th>max</th>
                    <th>last</th>
                  </tr>
                </thead>
                <tbody>
                  {stats.occupancy.map((o) => (
                    <tr key={`${o.dev} ${o.queue}`}>
                      <td>{`dev ${o.dev ?? '–'} vq ${o.queue}`}</td>
                      <td>{num(o.samples)}</td>
                      <td>{num(o.maxInFlight)}</td>
                      <td>{num(o.lastInFlight)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : null}
            {stats.findings.length > 0 ? (
              <table className="analysis-table" aria-label="findings recorded">
                <caption>Findings recorded</caption>
                <thead>
                  <tr>
                    <th>rule</th>
                    <th>severity</th>
                    <th>records</th>
                  </tr>
                </thead>
                <tbody>
                  {stats.findings.map((f) => (
                    <tr key={`${f.rule} ${f.severity}`}>
                      <td>
                        <Follow nav={nav} filter={`finding == ${f.rule}`}>
                          {f.rule}
                        </Follow>
                      </td>
                      <td className={`analysis-sev-${f.severity}`}>{f.severity}</td>
                      <td>{num(f.count)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : null}
          </div>
        </>
      ) : null}
    </div>
  );
}
