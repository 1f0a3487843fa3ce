/**
 * Export the trace (trace.export): format, filter, time range and an output path on the engine's
 * machine. The engine writes the file itself (docs/stack.md §6 rule 6: the page never streams the
 * capture); the page shows export.progress events for its path and then the result or the error.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';

import { EXPORT_FORMATS, type ExportFormat } from '../../../../src/trace/exportWriter';
import type { WorkbenchApi, WorkbenchError, WorkbenchParams, WorkbenchResult } from '../../../../src/api/workbench';
import { parseDurationNs } from '../../../../src/trace/filter';
import { formatBytes } from '../trace/traceFormat';
import { apiMode, isAbsolutePath } from './captureFiles';
import './export.css';

const EXTENSION: Readonly<Record<ExportFormat, string>> = { pcapng: '.pcapng', perfetto: '.perfetto-trace', jsonl: '.jsonl', csv: '.csv' };
const FORMAT_NOTE: Readonly<Record<ExportFormat, string>> = {
  pcapng: 'Wireshark / tshark, with the generated dissector',
  perfetto: 'ui.perfetto.dev',
  jsonl: 'one JSON object per record; opens again here',
  csv: 'spreadsheets',
};

type Phase =
  | { kind: 'editing' }
  | { kind: 'running'; done: number; total: number }
  | { kind: 'done'; result: WorkbenchResult<'trace.export'> }
  | { kind: 'failed'; error: WorkbenchError | { message: string } }
  | { kind: 'cancelled'; message: string };

/** The path with the extension of `format` in place of another format's (a name the user typed keeps its own). */
function withExtension(path: string, format: ExportFormat): string {
  const known = Object.values(EXTENSION).find((e) => path.endsWith(e));
  return known ? path.slice(0, -known.length) + EXTENSION[format] : path;
}

interface ExportDialogProps {
  api: WorkbenchApi;
  open: boolean;
  onClose(): void;
  /** Start from this filter (the Trace view's), editable. */
  initialFilter?: string;
}

export function ExportDialog({ api, open, onClose, initialFilter = '' }: ExportDialogProps) {
  const [format, setFormat] = useState<ExportFormat>('pcapng');
  const [filter, setFilter] = useState(initialFilter);
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [out, setOut] = useState('');
  const [phase, setPhase] = useState<Phase>({ kind: 'editing' });
  const [invalid, setInvalid] = useState<string | null>(null);
  const web = apiMode(api) === 'web';

  // Suggest a file next to the capture (its path is on the engine's machine too).
  useEffect(() => {
    if (!open) return;
    setPhase({ kind: 'editing' });
    let live = true;
    void api.call('trace.info', {}).then((r) => {
      if (live && r.ok) setOut((o) => (o === '' ? r.result.path.replace(/[\\/]+$/, '').replace(/\.(pcapng|jsonl)$/, '') + '-export' + EXTENSION.pcapng : o));
    });
    return () => {
      live = false;
    };
  }, [api, open]);

  const running = phase.kind === 'running';
  // While an export runs, Cancel and Escape stop it (the engine removes the partial file); the
  // dialog stays to say so. Otherwise they close the dialog.
  const cancelOrClose = useCallback((): void => {
    if (running) void api.call('trace.cancelExport', {});
    else onClose();
  }, [api, running, onClose]);

  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === 'Escape') cancelOrClose();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [open, cancelOrClose]);

  if (!open) return null;

  const run = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const path = out.trim();
    if (!isAbsolutePath(path)) return setInvalid(`The output path must be absolute (e.g. /tmp/trace${EXTENSION[format]}), saw "${path}".`);
    const params: WorkbenchParams<'trace.export'> = { format, out: path };
    if (filter.trim() !== '') params.filter = filter.trim();
    for (const [text, key] of [
      [from, 'fromNs'],
      [to, 'toNs'],
    ] as const) {
      if (text.trim() === '') continue;
      const ns = parseDurationNs(text);
      if (ns === null) return setInvalid(`The ${key === 'fromNs' ? 'start' : 'end'} time must be a duration from the capture start such as 1.5s or 250ms, saw "${text}".`);
      params[key] = ns;
    }
    setInvalid(null);
    setPhase({ kind: 'running', done: 0, total: 0 });
    const off = api.onEvent((ev) => {
      if (ev.event === 'export.progress' && ev.data.out === path) setPhase({ kind: 'running', done: ev.data.done, total: ev.data.total });
    });
    const r = await api.call('trace.export', params);
    off();
    if (r.ok) setPhase({ kind: 'done', result: r.result });
    else setPhase(r.error.code === 'cancelled' ? { kind: 'cancelled', message: r.error.message } : { kind: 'failed', error: r.error });
  };
  return (
    <div className="export-backdrop">
      <div className="export-dialog" role="dialog" aria-modal="true" aria-labelledby="export-title">
        <h2 id="export-title">Export the trace</h2>
        <form onSubmit={(e) => void run(e)}>
          <fieldset disabled={running}>
            <label>
              Format
              <select
                value={format}
                onChange={(e) => {
                  const f = e.target.value as ExportFormat;
                  setFormat(f);
                  setOut((o) => withExtension(o, f));
                }}
              >
                {EXPORT_FORMATS.map((f) => (
                  <option key={f} value={f}>
                    {f} — {FORMAT_NOTE[f]}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Filter
              <input className="mono" value={filter} placeholder="all records" onChange={(e) => setFilter(e.target.value)} spellCheck={false} />
            </label>
            <div className="export-range">
              <label>
                From
                <input value={from} placeholder="start" onChange={(e) => setFrom(e.target.value)} />
              </label>
              <label>
                To
                <input value={to} placeholder="end" onChange={(e) => setTo(e.target.value)} />
              </label>
              <span className="export-hint">times from the capture start: 1.5s, 250ms, 40us</span>
            </div>
            <label>
              Output file
              <input className="mono" value={out} onChange={(e) => setOut(e.target.value)} spellCheck={false} aria-describedby="export-where" />
            </label>
            <p id="export-where" className="export-hint">
              {web
                ? 'Web mode: this is a path on the machine running the workbench server, not on this computer. Copy the file from there.'
                : 'An absolute path on this computer.'}
            </p>
          </fieldset>
          {invalid ? (
            <p role="alert" className="export-error">
              {invalid}
            </p>
          ) : null}
          {phase.kind === 'running' ? (
            <div className="export-progress">
              <progress value={phase.done} max={Math.max(1, phase.total)} aria-label="export progress" />
              <span>
                {phase.done.toLocaleString('en')} of {phase.total.toLocaleString('en')} records
              </span>
            </div>
          ) : null}
          {phase.kind === 'done' ? (
            <p role="status" className="export-result">
              Wrote {phase.result.written.toLocaleString('en')} records ({formatBytes(phase.result.bytes)}) of {phase.result.scanned.toLocaleString('en')} to{' '}
              <code>{phase.result.out}</code>
            </p>
          ) : null}
          {phase.kind === 'cancelled' ? (
            <p role="status" className="export-result">
              Cancelled: {phase.message}
            </p>
          ) : null}
          {phase.kind === 'failed' ? (
            <p role="alert" className="export-error">
              {phase.error.message}
            </p>
          ) : null}
          <div className="export-buttons">
            <button type="submit" disabled={running}>
              {running ? 'Exporting…' : 'Export'}
            </button>
            <button type="button" onClick={cancelOrClose}>
              {phase.kind === 'done' ? 'Close' : running ? 'Cancel export' : 'Cancel'}
            </button>
          </div>
        </form>
      </div>
    </div>
  );
}
