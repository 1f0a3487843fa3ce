/**
 * The sandboxed preload: exposes `window.ampWorkbench` (DesktopBridge of
 * src/api/desktop.ts) and nothing else — no ipcRenderer, no generic invoke (stack.md §4).
 * Bundled to one CommonJS file (out/preload/preload.cjs) because a sandboxed preload can require
 * only 'electron'; the one runtime import besides it, bridge.ts, holds constants only
 * (stack.md §11 pitfall 9).
 *
 * The trace port cannot cross contextBridge (pitfall 10): main sends it here, and it is forwarded
 * to the page with window.postMessage once the page asked for it with requestTracePort() — after
 * installing its 'message' listener, so the port cannot arrive before anyone listens.
 */
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';

import type { WorkbenchEvent, WorkbenchResponse } from '../../src/api/workbench';
import { BRIDGE_METHODS, CHANNELS, TRACE_PORT_MESSAGE, type DesktopBridge, type DesktopCommand } from '../../src/api/desktop';

const METHODS: ReadonlySet<string> = new Set(BRIDGE_METHODS);

function subscribe<T>(channel: string, listener: (value: T) => void): () => void {
  const handler = (_e: IpcRendererEvent, value: T): void => listener(value);
  ipcRenderer.on(channel, handler);
  return () => void ipcRenderer.removeListener(channel, handler);
}

const bridge: DesktopBridge = {
  call(method, params) {
    if (typeof method !== 'string' || !METHODS.has(method)) {
      // Worded as parseRequest words it (the sandboxed preload cannot load the schemas).
      const message = `the workbench does not know the request ${JSON.stringify(method)}; the page and the engine may be from different versions: reload the page`;
      const error = { code: 'unknown-method' as const, field: 'method', message };
      return Promise.resolve({ ok: false, error });
    }
    return ipcRenderer.invoke(CHANNELS.call, method, params) as Promise<WorkbenchResponse<typeof method>>;
  },
  onEvent: (listener) => subscribe<WorkbenchEvent>(CHANNELS.event, listener),
  requestTracePort: () => ipcRenderer.send(CHANNELS.requestTracePort),
  desktop: {
    settings: () => ipcRenderer.invoke(CHANNELS.settingsGet),
    updateSettings: (patch) => ipcRenderer.invoke(CHANNELS.settingsUpdate, patch),
    onCommand: (listener) => subscribe<DesktopCommand>(CHANNELS.command, listener),
    pathForFile: (file) => webUtils.getPathForFile(file as File),
  },
};

ipcRenderer.on(CHANNELS.tracePort, (e) => {
  // Only to the page's own origin (amp-workbench://app, or the dev server in development).
  window.postMessage({ type: TRACE_PORT_MESSAGE }, window.location.origin, e.ports);
});

contextBridge.exposeInMainWorld('ampWorkbench', bridge);
