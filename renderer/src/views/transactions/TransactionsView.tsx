/**
 * The Transactions view: each request on one line with what ended it (its response, the
 * NO_RESPONSE marker of its timeout, a late response) and its latency; and each virtqueue
 * operation from its EVENT_AVAIL through EVENT_USED to the vq-index record where the driver saw
 * the used entries, with the latency between (src/trace/transactions.ts) and the bytes of its
 * chains (the trace's buffer records) as a hex + ASCII dump. The engine indexes the
 * trace once, streaming, and the view reads one page at a time (trace.transactions), so a
 * 20 M-record capture pages as fast as a small one. While the last page is shown it follows the
 * trace as it grows. Every record number jumps to the record in the Trace view.
 */
import { useCallback, useEffect, useState } from 'react';

import type { TraceRow, TransactionRow, WorkbenchApi, WorkbenchResult } from '../../../../src/api/workbench';
import { formatNs } from '../../../../src/trace/stats';
import { ErrorNote } from '../../ui/ErrorNote';
import type { ViewNav } from '../../ui/nav';
import { useTraceTick } from '../../ui/useTraceTick';
import { hexDump } from '../devices/bytes';
import { formatTime } from '../trace/traceFormat';
import '../statistics/analysis.css';

type Kind = 'requests' | 'virtqueue';
type Page = WorkbenchResult<'trace.transactions'>;
type Request = Extract<TransactionRow, { kind: 'request' }>;
type Operation = Extract<TransactionRow, { kind: 'virtqueue' }>;

export const PAGE_ROWS = 100;
const REFRESH_MS = 500;
const OUTCOME: Readonly<Record<Request['outcome'], string>> = { answered: 'answered', 'no-response': 'no response', late: 'late response' };

function Seq({ row, nav }: { row: TraceRow | null; nav: ViewNav }) {
  if (row === null) return <span className="analysis-muted">–</span>;
  return (
    <button type="button" className="analysis-seq" title={`Show record ${row.seq} in the Trace view`} onClick={() => nav.jump(row.seq)}>
      {row.seq}
    </button>
  );
}

function RequestRows({ rows, nav }: { rows: readonly Request[]; nav: ViewNav }) {
  return (
    <table className="analysis-table" aria-label="request transactions">
      <thead>
        <tr>
          <th>request</th>
          <th>time (s)</th>
          <th className="analysis-text">name</th>
          <th>dev</th>
          <th>token</th>
          <th>ended by</th>
          <th className="analysis-text">outcome</th>
          <th>latency</th>
          <th className="analysis-text">response</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.end.seq} data-outcome={r.outcome}>
            <td>
              <Seq row={r.request} nav={nav} />
            </td>
            <td>{r.request ? formatTime(r.request.timeNs) : ''}</td>
            <td className="analysis-text">{r.name}</td>
            <td>{r.dev ?? ''}</td>
            <td>{r.request ? `0x${r.request.token.toString(16).padStart(4, '0')}` : ''}</td>
            <td>
              <Seq row={r.end} nav={nav} />
            </td>
            <td className={r.outcome === 'answered' && r.end.problems.length === 0 ? 'analysis-text' : 'analysis-text analysis-sev-error'}>
              {[OUTCOME[r.outcome], ...r.end.problems].join(', ')}
            </td>
            <td>{r.latencyNs === null ? '' : formatNs(r.latencyNs)}</td>
            <td className="analysis-text">{r.outcome === 'no-response' ? '' : r.end.summary}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * The chains' bytes of one operation: "→ 7 B ← 20 B" that opens into a hex + ASCII dump per
 * buffer record (what the driver published, what the device wrote), each a jump to its record.
 */
function Buffers({ buffers, nav }: { buffers: Operation['buffers']; nav: ViewNav }) {
  if (buffers.length === 0) return <span className="analysis-muted">–</span>;
  const sum = (toDevice: boolean): number => buffers.reduce((n, b) => n + (b.toDevice === toDevice ? b.length : 0), 0);
  return (
    <details className="analysis-buffers">
      <summary>{`→ ${sum(true)} B ← ${sum(false)} B`}</summary>
      {buffers.map((b) => (
        <div key={b.seq}>
          <button type="button" className="analysis-seq" title={`Show record ${b.seq} in the Trace view`} onClick={() => nav.jump(b.seq)}>
            {b.seq}
          </button>{' '}
          {`${b.toDevice ? 'published' : 'used'}, head ${b.head}: ${b.length} bytes${b.bytes.length / 2 < b.length ? ` (first ${b.bytes.length / 2} kept)` : ''}`}
          {b.bytes.length > 0 ? <pre aria-label={`bytes of record ${b.seq}`}>{hexDump(b.bytes)}</pre> : null}
        </div>
      ))}
    </details>
  );
}

function OperationRows({ rows, nav }: { rows: readonly Operation[]; nav: ViewNav }) {
  return (
    <table className="analysis-table" aria-label="virtqueue operations">
      <thead>
        <tr>
          <th>EVENT_AVAIL</th>
          <th>time (s)</th>
          <th>dev</th>
          <th>vq</th>
          <th>EVENT_USED</th>
          <th>used entries</th>
          <th>entries</th>
          <th>latency</th>
          <th className="analysis-text">buffers</th>
          <th className="analysis-text">indexes</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.avail.seq} data-done={r.latencyNs !== null}>
            <td>
              <Seq row={r.avail} nav={nav} />
            </td>
            <td>{formatTime(r.avail.timeNs)}</td>
            <td>{r.dev}</td>
            <td>{r.queue}</td>
            <td>
              <Seq row={r.eventUsed} nav={nav} />
            </td>
            <td>
              <Seq row={r.usedEntry} nav={nav} />
            </td>
            <td>{r.usedEntry ? r.entries : ''}</td>
            <td>{r.latencyNs === null ? <span className="analysis-muted">in flight</span> : formatNs(r.latencyNs)}</td>
            <td className="analysis-text">
              <Buffers buffers={r.buffers} nav={nav} />
            </td>
            <td className="analysis-text">{r.usedEntry?.summary ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function TransactionsView({ api, nav }: { api: WorkbenchApi; nav: ViewNav }) {
  const [kind, setKind] = useState<Kind>('requests');
  /** First row shown; null: the last page, following the trace. */
  const [from, setFrom] = useState<number | null>(null);
  const [page, setPage] = useState<Page | null>(null);
  const [error, setError] = useState<string | null>(null);
  // A new trace: back to its newest page.
  const follow = useCallback(() => setFrom(null), []);
  const tick = useTraceTick(api, REFRESH_MS, follow);

  useEffect(() => {
    let live = true;
    void api.call('trace.transactions', from === null ? { kind, count: PAGE_ROWS } : { kind, from, count: PAGE_ROWS }).then((r) => {
      if (!live) return;
      if (r.ok) {
        setPage(r.result);
        setError(null);
      } else setError(r.error.message);
    });
    return () => {
      live = false;
    };
  }, [api, kind, from, tick]);

  const total = page?.total ?? 0;
  const shownFrom = page?.from ?? 0;
  const lastFrom = Math.max(0, Math.floor(Math.max(0, total - 1) / PAGE_ROWS) * PAGE_ROWS);
  const go = (at: number): void => setFrom(at >= lastFrom ? null : Math.max(0, at));
  const requests = (page?.rows ?? []).filter((r): r is Request => r.kind === 'request');
  const operations = (page?.rows ?? []).filter((r): r is Operation => r.kind === 'virtqueue');

  return (
    <div className="analysis-view transactions-view">
      <div className="analysis-toolbar">
        <div role="radiogroup" aria-label="transactions">
          {(['requests', 'virtqueue'] as const).map((k) => (
            <label key={k}>
              <input
                type="radio"
                name="transactions-kind"
                checked={kind === k}
                onChange={() => {
                  setKind(k);
                  setFrom(null);
                  setPage(null);
                }}
              />{' '}
              {k === 'requests' ? 'Requests and responses' : 'Virtqueue operations'}
            </label>
          ))}
        </div>
        <div className="analysis-pager" aria-label="pages">
          <button type="button" disabled={shownFrom === 0} onClick={() => go(0)} aria-label="first page">
            «
          </button>
          <button type="button" disabled={shownFrom === 0} onClick={() => go(shownFrom - PAGE_ROWS)} aria-label="previous page">
            ‹
          </button>
          <span data-testid="transactions-range">
            {total === 0 ? 'none' : `${(shownFrom + 1).toLocaleString('en-US')}–${Math.min(total, shownFrom + PAGE_ROWS).toLocaleString('en-US')} of ${total.toLocaleString('en-US')}`}
          </span>
          <button type="button" disabled={shownFrom >= lastFrom} onClick={() => go(shownFrom + PAGE_ROWS)} aria-label="next page">
            ›
          </button>
          <button type="button" disabled={from === null} onClick={() => go(lastFrom)} aria-label="last page, following the trace">
            »
          </button>
          <span className="analysis-muted">{from === null ? 'following the newest' : ''}</span>
        </div>
      </div>
      {error ? <ErrorNote error={error} /> : null}
      {page && total === 0 ? (
        <p className="analysis-empty">
          {kind === 'requests' ? 'No request has been answered or timed out yet.' : 'No virtqueue operation yet: run a workload on a device.'}
        </p>
      ) : null}
      {kind === 'requests' ? <RequestRows rows={requests} nav={nav} /> : <OperationRows rows={operations} nav={nav} />}
    </div>
  );
}
