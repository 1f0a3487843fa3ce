/**
 * Capture files and where they live. The engine reads and writes paths on its own machine: in the
 * desktop app that is this machine, so a picked or dropped file is opened where it lies; in web
 * mode it is the machine running `amp-workbench serve`, so a picked or dropped file is uploaded
 * there first and an export is downloaded back (EngineApi.files).
 */
import type { TraceInfo, WorkbenchApi, WorkbenchError } from '../../../../src/api/workbench';
import type { Result } from '../../../../src/util/result';
import type { FileTransfer } from '../../engine/api';

export type ApiMode = 'electron' | 'web';

/** The engine client says its mode (renderer/src/engine/api.ts EngineApi.mode); a bare WorkbenchApi outside Electron is web mode. */
export function apiMode(api: WorkbenchApi): ApiMode {
  const mode = (api as { mode?: unknown }).mode;
  if (mode === 'electron' || mode === 'web') return mode;
  return typeof window !== 'undefined' && window.ampWorkbench !== undefined ? 'electron' : 'web';
}

/** Web mode's uploads and downloads (EngineApi.files); null in the desktop app or a bare WorkbenchApi. */
export function fileTransfer(api: WorkbenchApi): FileTransfer | null {
  return (api as { files?: FileTransfer | null }).files ?? null;
}

/** An absolute path, POSIX or Windows, as trace.export and capture.open want. */
export function isAbsolutePath(p: string): boolean {
  return /^(\/|[A-Za-z]:[\\/]|\\\\)/.test(p);
}

/**
 * The engine-side path of a capture file picked or dropped on the page: its own path in the
 * desktop app; in web mode the path of the copy uploaded to the engine's machine.
 */
export async function capturePathOf(api: WorkbenchApi, file: File | undefined): Promise<Result<string>> {
  if (!file) return { ok: false, error: 'Nothing to open: pick or drop a .pcapng or .jsonl capture file.' };
  const files = fileTransfer(api);
  if (files) return files.upload(file);
  // The preload's webUtils.getPathForFile: File.path is gone since Electron 32.
  const path = window.ampWorkbench?.desktop.pathForFile(file) ?? '';
  return path === '' ? { ok: false, error: `The desktop app did not say where "${file.name}" is; open it by path instead.` } : { ok: true, value: path };
}

/** Opens a picked or dropped capture file: uploaded first in web mode, then capture.open. */
export async function openCaptureFile(api: WorkbenchApi, file: File | undefined): Promise<Result<TraceInfo, WorkbenchError>> {
  const path = await capturePathOf(api, file);
  if (!path.ok) return { ok: false, error: { code: 'bad-request', message: path.error } };
  const r = await api.call('capture.open', { path: path.value });
  return r.ok ? { ok: true, value: r.result } : r;
}
