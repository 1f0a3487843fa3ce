/**
 * Export the trace (trace.export): format, filter, time range or the records a view chose (its
 * ExportScope), and an output path on the engine's machine. The engine writes the file itself
 * (docs/stack.md §6 rule 6: the page never streams the capture); the page shows export.progress
 * events for its path and then the result or the error. An existing file is replaced only after
 * the user says so; in web mode the written file is downloaded to this computer.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';

import { EXPORT_FORMATS, type ExportFormat } from '../../../../src/trace/exportWriter';
import type { WorkbenchApi, WorkbenchError, WorkbenchParams, WorkbenchResult } from '../../../../src/api/workbench';
import { parseDurationNs } from '../../../../src/trace/filter';
import type { ExportScope } from '../../ui/nav';
import { formatBytes } from '../trace/traceFormat';
import { fileTransfer, isAbsolutePath } from './captureFiles';
import './export.css';

/** The file name extension per format, as the README's examples use them. */
export const EXTENSION: Readonly<Record<ExportFormat, string>> = { pcapng: '.pcapng', perfetto: '.pftrace', jsonl: '.jsonl', csv: '.csv' };
const FORMAT_NOTE: Readonly<Record<ExportFormat, string>> = {
  pcapng: 'Wireshark / tshark, with the generated dissector',
  perfetto: 'ui.perfetto.dev',
  jsonl: 'one JSON object per record; opens again here',
  csv: 'spreadsheets',
};

type Phase =
  | { kind: 'editing' }
  | { kind: 'running'; done: number; total: number }
  | { kind: 'exists'; out: string }
  | { kind: 'done'; result: WorkbenchResult<'trace.export'> }
  | { kind: 'failed'; error: WorkbenchError | { message: string } }
  | { kind: 'cancelled'; message: string };

/** The path with `format`'s extension in place of the file name's own (or added when it has none). */
export function withExtension(path: string, format: ExportFormat): string {
  const slash = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  const name = path.slice(slash + 1);
  const dot = name.lastIndexOf('.');
  const stem = dot > 0 ? path.slice(0, slash + 1 + dot) : path;
  return stem === '' ? '' : stem + EXTENSION[format];
}

/** A time in the dialog's own notation ("1.5s", "250ms"), exact to the ns, which parseDurationNs reads back. */
export function durationText(ns: number): string {
  for (const [unit, per] of [
    ['s', 1e9],
    ['ms', 1e6],
    ['us', 1e3],
  ] as const) {
    if (ns >= per) return `${Number((ns / per).toFixed(Math.log10(per)))}${unit}`;
  }
  return `${ns}ns`;
}

interface ExportDialogProps {
  api: WorkbenchApi;
  open: boolean;
  onClose(): void;
  /** What a view asked to export (a filter, a time range, chosen records); the fields start from it, editable. */
  scope?: ExportScope | null;
  /** Why this window may not export (a viewer in web mode); null when it may. */
  blocked?: string | null;
}

export function ExportDialog({ api, open, onClose, scope = null, blocked = null }: ExportDialogProps) {
  const [format, setFormat] = useState<ExportFormat>('pcapng');
  const [filter, setFilter] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [seqs, setSeqs] = useState<number[] | null>(null);
  const [out, setOut] = useState('');
  const [phase, setPhase] = useState<Phase>({ kind: 'editing' });
  const [invalid, setInvalid] = useState<string | null>(null);
  const files = fileTransfer(api);

  // Each opening starts from the scope asked for and a fresh form.
  useEffect(() => {
    if (!open) return;
    setPhase({ kind: 'editing' });
    setInvalid(null);
    setFilter(scope?.filter ?? '');
    setFrom(scope?.fromNs !== undefined ? durationText(scope.fromNs) : '');
    setTo(scope?.toNs !== undefined ? durationText(scope.toNs) : '');
    setSeqs(scope?.seqs?.length ? [...scope.seqs] : null);
  }, [open, scope]);

  // Suggest a file next to the capture (its path is on the engine's machine too).
  useEffect(() => {
    if (!open) return;
    let live = true;
    void api.call('trace.info', {}).then((r) => {
      if (live && r.ok) setOut((o) => (o === '' ? withExtension(r.result.path.replace(/[\\/]+$/, '') + '-export.x', format) : o));
    });
    return () => {
      live = false;
    };
  }, [api, open, format]);

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

  /** An edited form forgets the last run's outcome: a result line never sits under a new error. */
  const edit = <T,>(set: (v: T) => void) => (v: T): void => {
    set(v);
    if (!running) setPhase({ kind: 'editing' });
  };

  const params = (): WorkbenchParams<'trace.export'> | string => {
    const path = out.trim();
    if (!isAbsolutePath(path)) return `The output path must be absolute (e.g. /tmp/trace${EXTENSION[format]}), saw "${path}".`;
    const p: WorkbenchParams<'trace.export'> = { format, out: path };
    if (filter.trim() !== '') p.filter = filter.trim();
    for (const [text, key] of [
      [from, 'fromNs'],
      [to, 'toNs'],
    ] as const) {
      if (text.trim() === '') continue;
      const ns = parseDurationNs(text);
      if (ns === null) return `The ${key === 'fromNs' ? 'start' : 'end'} time must be a duration from the capture start such as 1.5s or 250ms, saw "${text}".`;
      p[key] = ns;
    }
    if (seqs) p.seqs = seqs;
    return p;
  };

  const start = async (overwrite: boolean): Promise<void> => {
    const p = params();
    if (typeof p === 'string') {
      setPhase({ kind: 'editing' });
      return setInvalid(p);
    }
    setInvalid(null);
    setPhase({ kind: 'running', done: 0, total: 0 });
    const off = api.onEvent((ev) => {
      if (ev.event === 'export.progress' && ev.data.out === p.out) setPhase({ kind: 'running', done: ev.data.done, total: ev.data.total });
    });
    const r = await api.call('trace.export', overwrite ? { ...p, overwrite } : p);
    off();
    if (r.ok) setPhase({ kind: 'done', result: r.result });
    else if (r.error.code === 'exists') setPhase({ kind: 'exists', out: p.out });
    else setPhase(r.error.code === 'cancelled' ? { kind: 'cancelled', message: r.error.message } : { kind: 'failed', error: r.error });
  };

  const submit = (e: FormEvent): void => {
    e.preventDefault();
    void start(false);
  };

  const name = (path: string): string => path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);

  return (
    <div className="export-backdrop">
      <div className="export-dialog" role="dialog" aria-modal="true" aria-labelledby="export-title">
        <h2 id="export-title">Export the trace</h2>
        <form onSubmit={submit}>
          <fieldset disabled={running || blocked !== null}>
            {scope && (
              <p className="export-scope" data-testid="export-scope">
                Exporting {scope.label}
                {seqs && ` (${seqs.length.toLocaleString('en')} record${seqs.length === 1 ? '' : 's'})`}{' '}
                {seqs && (
                  <button type="button" className="link-button" onClick={() => edit(setSeqs)(null)}>
                    export all records instead
                  </button>
                )}
              </p>
            )}
            <label>
              Format
              <select
                value={format}
                onChange={(e) => {
                  const f = e.target.value as ExportFormat;
                  edit(setFormat)(f);
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
              <input className="mono" value={filter} placeholder="all records" onChange={(e) => edit(setFilter)(e.target.value)} spellCheck={false} />
            </label>
            <div className="export-range">
              <label>
                From
                <input value={from} placeholder="start" onChange={(e) => edit(setFrom)(e.target.value)} />
              </label>
              <label>
                To
                <input value={to} placeholder="end" onChange={(e) => edit(setTo)(e.target.value)} />
              </label>
              <span className="export-hint">times from the capture start: 1.5s, 250ms, 40us</span>
            </div>
            <label>
              Output file
              <input className="mono" value={out} onChange={(e) => edit(setOut)(e.target.value)} spellCheck={false} aria-describedby="export-where" />
            </label>
            <p id="export-where" className="export-hint">
              {files
                ? 'Web mode: the file is written on the machine running the workbench server, then offered for download to this computer.'
                : 'An absolute path on this computer.'}
            </p>
          </fieldset>
          {blocked && (
            <p role="alert" className="export-error">
              {blocked}
            </p>
          )}
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
          {phase.kind === 'exists' ? (
            <div role="alert" className="export-confirm">
              <span>
                <code>{phase.out}</code> already exists. Replace it?
              </span>
              <button type="button" className="primary" onClick={() => void start(true)}>
                Replace
              </button>
              <button type="button" onClick={() => setPhase({ kind: 'editing' })}>
                Keep it
              </button>
            </div>
          ) : null}
          {phase.kind === 'done' ? (
            <p role="status" className="export-result">
              Wrote {phase.result.written.toLocaleString('en')} records ({formatBytes(phase.result.bytes)}) of {phase.result.scanned.toLocaleString('en')} to{' '}
              <code>{phase.result.out}</code>
              {files && (
                <>
                  {' '}
                  <a className="button primary" href={files.downloadHref(phase.result.out)} download={name(phase.result.out)}>
                    Download {name(phase.result.out)}
                  </a>
                </>
              )}
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
            <button type="submit" disabled={running || blocked !== null || phase.kind === 'exists'}>
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
