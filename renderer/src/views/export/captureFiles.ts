/**
 * Capture files and where they live. The engine reads and writes paths on its own machine: in the
 * desktop app that is this machine; in web mode it is the machine running `amp-workbench serve`,
 * which the browser's file picker cannot see, so paths are typed, not picked.
 */
import type { WorkbenchApi } from '../../../../src/api/workbench';
import type { Result } from '../../../../src/util/result';

export type ApiMode = 'electron' | 'web';

/** The engine client says its mode (renderer/src/engine/api.ts EngineApi.mode); a bare WorkbenchApi outside Electron is web mode. */
export function apiMode(api: WorkbenchApi): ApiMode {
  const mode = (api as { mode?: unknown }).mode;
  if (mode === 'electron' || mode === 'web') return mode;
  return typeof window !== 'undefined' && window.ampWorkbench !== undefined ? 'electron' : 'web';
}

/** An absolute path, POSIX or Windows, as trace.export and capture.open want. */
export function isAbsolutePath(p: string): boolean {
  return /^(\/|[A-Za-z]:[\\/]|\\\\)/.test(p);
}

/**
 * The path of a capture dropped on the page: the file's path on this machine in the desktop app;
 * in web mode an error, since a browser never learns where a dropped file lives and the engine
 * could not read this machine's files anyway.
 */
export function droppedCapturePath(api: WorkbenchApi, data: DataTransfer | null): Result<string> {
  const file = data?.files[0];
  if (!file) return { ok: false, error: 'Nothing to open: drop a capture folder, .pcapng or .jsonl file.' };
  if (apiMode(api) === 'web') {
    return { ok: false, error: `Web mode opens captures on the server machine only: type the path of "${file.name}" there instead of dropping it.` };
  }
  // The preload's webUtils.getPathForFile: File.path is gone since Electron 32.
  const path = window.ampWorkbench?.desktop.pathForFile(file) ?? '';
  return path === '' ? { ok: false, error: `The desktop app did not say where "${file.name}" is; open it by path instead.` } : { ok: true, value: path };
}
