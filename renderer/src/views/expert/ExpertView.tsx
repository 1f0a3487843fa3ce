/**
 * The Expert view (Wireshark's Expert Information): every conformance finding and session error
 * of the trace, grouped by severity and rule (trace.expert, src/trace/expert.ts), each group
 * naming the docs page of its rule. A record number jumps to the record in the Trace view;
 * "Show in Trace" filters the Trace view to the group's records. The report is built by the
 * engine in one streaming pass and kept up to date as the trace grows.
 */
import { useEffect, useState } from 'react';

import type { WorkbenchApi, WorkbenchResult } from '../../../../src/api/workbench';
import { SESSION_EVENTS } from '../../../../src/trace/expert';
import { Chip, type ChipTone } from '../../ui/Chip';
import { ErrorNote } from '../../ui/ErrorNote';
import type { ViewNav } from '../../ui/nav';
import { useTraceTick } from '../../ui/useTraceTick';
import '../statistics/analysis.css';

type Report = WorkbenchResult<'trace.expert'>;
type Group = Report['groups'][number];

const REFRESH_MS = 1000;
const TONE: Readonly<Record<Group['severity'], ChipTone>> = { error: 'danger', warning: 'warn', info: 'neutral' };

/** The Trace filter that shows a group's records: its finding records, or its markers. */
export function groupFilter(g: Pick<Group, 'rule' | 'severity'>): string {
  const event = SESSION_EVENTS.find((e) => e.id === g.rule);
  return event ? `msg == ${event.marker.toUpperCase()}` : `finding == ${g.rule} && severity == ${g.severity}`;
}

function plural(n: number, one: string): string {
  return `${n.toLocaleString('en-US')} ${one}${n === 1 ? '' : 's'}`;
}

export function ExpertView({ api, nav }: { api: WorkbenchApi; nav: ViewNav }) {
  const tick = useTraceTick(api, REFRESH_MS);
  const [report, setReport] = useState<Report | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    void api.call('trace.expert', {}).then((r) => {
      if (!live) return;
      if (r.ok) {
        setReport(r.result);
        setError(null);
      } else setError(r.error.message);
    });
    return () => {
      live = false;
    };
  }, [api, tick]);

  return (
    <div className="analysis-view expert-view">
      <div className="analysis-toolbar" aria-live="polite">
        {report ? (
          <>
            <Chip tone={report.errors > 0 ? 'danger' : 'ok'}>{plural(report.errors, 'error')}</Chip>
            <Chip tone={report.warnings > 0 ? 'warn' : 'ok'}>{plural(report.warnings, 'warning')}</Chip>
            <Chip>{report.infos.toLocaleString('en-US')} info</Chip>
            <span className="analysis-muted">in {plural(report.checked, 'record')} checked</span>
          </>
        ) : null}
      </div>
      {error ? <ErrorNote error={error} /> : null}
      {report && report.groups.length === 0 ? <p className="analysis-empty">No findings: every rule holds on the {plural(report.checked, 'record')} checked.</p> : null}
      {report?.groups.map((g) => (
        <details key={`${g.severity} ${g.rule}`} className="analysis-group" data-rule={g.rule} data-severity={g.severity}>
          <summary>
            <Chip tone={TONE[g.severity]}>{g.severity}</Chip>
            <span className="analysis-group-rule">{g.rule}</span>
            <span>{g.description}</span>
            <strong>{g.count.toLocaleString('en-US')}</strong>
            <span className="analysis-group-docs">{g.docs}</span>
          </summary>
          <div className="analysis-toolbar">
            <button type="button" onClick={() => nav.follow(groupFilter(g))}>
              Show in Trace
            </button>
            {g.count > g.items.length ? (
              <span className="analysis-muted">
                the first {g.items.length.toLocaleString('en-US')} of {g.count.toLocaleString('en-US')} listed; Show in Trace lists every one
              </span>
            ) : null}
          </div>
          <table className="analysis-table" aria-label={`${g.rule} findings`}>
            <thead>
              <tr>
                <th>record</th>
                <th>dev</th>
                <th className="analysis-text">what was expected and seen</th>
              </tr>
            </thead>
            <tbody>
              {g.items.map((it, i) => (
                <tr key={`${it.seq} ${i}`}>
                  <td>
                    <button type="button" className="analysis-seq" title={`Show record ${it.seq} in the Trace view`} onClick={() => nav.jump(it.seq)}>
                      {it.seq}
                    </button>
                  </td>
                  <td>{it.dev ?? ''}</td>
                  <td className="analysis-text">{it.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      ))}
    </div>
  );
}
