/**
 * Open a saved capture (capture.open): a journal folder, or a pcapng / JSONL file this workbench
 * wrote. By path on the engine's machine, or by picking or dropping a file (uploaded first in web
 * mode: captureFiles.ts). The engine refuses while a board is connected; its message says to disconnect first.
 */
import { useState, type DragEvent, type FormEvent } from 'react';

import type { TraceInfo, WorkbenchApi } from '../../../../src/api/workbench';
import type { Result } from '../../../../src/util/result';
import { fileTransfer, isAbsolutePath, openCaptureFile } from './captureFiles';
import './export.css';

interface OpenCaptureDialogProps {
  api: WorkbenchApi;
  open: boolean;
  onClose(): void;
  /** Called with the opened trace (views restart from trace.reset on their own). */
  onOpened?(info: TraceInfo): void;
  /** Why this window may not open captures (a viewer in web mode); null when it may. */
  blocked?: string | null;
}

export function OpenCaptureDialog({ api, open, onClose, onOpened, blocked = null }: OpenCaptureDialogProps) {
  const [path, setPath] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [over, setOver] = useState(false);
  if (!open) return null;
  const web = fileTransfer(api) !== null;

  const finish = (r: Result<TraceInfo, { message: string }>): void => {
    setBusy(false);
    if (!r.ok) return setError(r.error.message);
    onOpened?.(r.value);
    onClose();
  };

  const openPath = async (p: string): Promise<void> => {
    if (!isAbsolutePath(p)) return setError(`Expected an absolute path to a capture folder or file, saw "${p}".`);
    setBusy(true);
    setError(null);
    const r = await api.call('capture.open', { path: p });
    finish(r.ok ? { ok: true, value: r.result } : r);
  };

  const openFile = async (file: File | undefined): Promise<void> => {
    setBusy(true);
    setError(null);
    finish(await openCaptureFile(api, file));
  };

  const submit = (e: FormEvent): void => {
    e.preventDefault();
    void openPath(path.trim());
  };

  const drop = (e: DragEvent<HTMLDivElement>): void => {
    e.preventDefault();
    setOver(false);
    if (blocked === null) void openFile(e.dataTransfer.files[0]);
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
          <fieldset disabled={busy || blocked !== null}>
            <label className="export-file">
              Capture file on this computer
              <input type="file" accept=".pcapng,.jsonl,.json" onChange={(e) => void openFile(e.target.files?.[0])} />
            </label>
            <label>
              Capture folder or file on the workbench&apos;s machine
              <input className="mono" value={path} onChange={(e) => setPath(e.target.value)} placeholder="/path/to/capture (folder, .pcapng or .jsonl)" spellCheck={false} />
            </label>
            <p className="export-hint">
              {web
                ? 'Web mode: a file picked or dropped here is uploaded to the machine running the workbench server and opened there; a capture folder is opened by its path there.'
                : 'Or drop a capture folder or file on this dialog.'}
            </p>
          </fieldset>
          {(blocked ?? error) !== null ? (
            <p role="alert" className="export-error">
              {blocked ?? error}
            </p>
          ) : null}
          <div className="export-buttons">
            <button type="submit" disabled={busy || blocked !== null || path.trim() === ''}>
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
