/**
 * Open a saved capture (capture.open): a journal folder, or a pcapng / JSONL file this workbench
 * wrote. By path, or by dropping it on the dialog (desktop app only: captureFiles.ts says why).
 * The engine refuses while a board is connected; its message says to disconnect first.
 */
import { useState, type DragEvent, type FormEvent } from 'react';

import type { TraceInfo, WorkbenchApi } from '../../../../src/api/workbench';
import { apiMode, droppedCapturePath, isAbsolutePath } from './captureFiles';
import './export.css';

interface OpenCaptureDialogProps {
  api: WorkbenchApi;
  open: boolean;
  onClose(): void;
  /** Called with the opened trace (views restart from trace.reset on their own). */
  onOpened?(info: TraceInfo): void;
}

export function OpenCaptureDialog({ api, open, onClose, onOpened }: OpenCaptureDialogProps) {
  const [path, setPath] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [over, setOver] = useState(false);
  if (!open) return null;
  const web = apiMode(api) === 'web';

  const openPath = async (p: string): Promise<void> => {
    if (!isAbsolutePath(p)) return setError(`Expected an absolute path to a capture folder or file, saw "${p}".`);
    setBusy(true);
    setError(null);
    const r = await api.call('capture.open', { path: p });
    setBusy(false);
    if (!r.ok) return setError(r.error.message);
    onOpened?.(r.result);
    onClose();
  };

  const submit = (e: FormEvent): void => {
    e.preventDefault();
    void openPath(path.trim());
  };

  const drop = (e: DragEvent<HTMLDivElement>): void => {
    e.preventDefault();
    setOver(false);
    const d = droppedCapturePath(api, e.dataTransfer);
    if (!d.ok) return setError(d.error);
    setPath(d.value);
    void openPath(d.value);
  };

  return (
    <div className="export-backdrop">
      <div
        className={over ? 'export-dialog drop-over' : 'export-dialog'}
        role="dialog"
        aria-modal="true"
        aria-labelledby="open-title"
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={drop}
      >
        <h2 id="open-title">Open a saved capture</h2>
        <form onSubmit={submit}>
          <label>
            Capture folder or file
            <input className="mono" value={path} onChange={(e) => setPath(e.target.value)} placeholder="/path/to/capture (folder, .pcapng or .jsonl)" spellCheck={false} />
          </label>
          <p className="export-hint">
            {web
              ? 'Web mode: the path is on the machine running the workbench server. Dropped files cannot be opened here; only server paths can.'
              : 'Or drop a capture folder or file on this dialog.'}
          </p>
          {error ? (
            <p role="alert" className="export-error">
              {error}
            </p>
          ) : null}
          <div className="export-buttons">
            <button type="submit" disabled={busy || path.trim() === ''}>
              {busy ? 'Opening…' : 'Open'}
            </button>
            <button type="button" onClick={onClose}>
              Cancel
            </button>
          </div>
        </form>
      </div>
    </div>
  );
}
