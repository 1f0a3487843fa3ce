/**
 * The sandboxed preload: exposes `window.ampWorkbench` (DesktopPreload of src/api/desktop.ts) and
 * nothing else — no ipcRenderer, no generic invoke (docs/stack.md §4). Bundled to one CommonJS file
 * (out/preload/preload.cjs) because a sandboxed preload can require only 'electron'; the one
 * runtime import besides it, desktop.ts, holds constants only (docs/stack.md §11 pitfall 9).
 *
 * The Workbench API travels over a MessagePort main hands out, which cannot cross contextBridge
 * (pitfall 10): main sends it here, and it is forwarded to the page with window.postMessage once
 * the page asked for it with requestPort() — after installing its 'message' listener, so the port
 * cannot arrive before anyone listens. Main gives it only to the app's own page (gate.ts).
 */
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';

import { CHANNELS, ENGINE_PORT_MESSAGE, type DesktopCommand, type DesktopPreload } from '../../src/api/desktop';

function subscribe<T>(channel: string, listener: (value: T) => void): () => void {
  const handler = (_e: IpcRendererEvent, value: T): void => listener(value);
  ipcRenderer.on(channel, handler);
  return () => void ipcRenderer.removeListener(channel, handler);
}

const preload: DesktopPreload = {
  requestPort: () => ipcRenderer.send(CHANNELS.requestPort),
  desktop: {
    settings: () => ipcRenderer.invoke(CHANNELS.settingsGet),
    updateSettings: (patch) => ipcRenderer.invoke(CHANNELS.settingsUpdate, patch),
    onCommand: (listener) => subscribe<DesktopCommand>(CHANNELS.command, listener),
    pathForFile: (file) => webUtils.getPathForFile(file as File),
  },
};

ipcRenderer.on(CHANNELS.port, (e) => {
  // Only to the page's own origin (amp-workbench://app, or the dev server in development).
  window.postMessage({ type: ENGINE_PORT_MESSAGE }, window.location.origin, e.ports);
});

contextBridge.exposeInMainWorld('ampWorkbench', preload);
