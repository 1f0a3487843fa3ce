/**
 * The workbench window's options and its Content-Security-Policy, as plain data so the security
 * checklist of docs/stack.md §4 is asserted by a test rather than trusted (main/app passes these to
 * BrowserWindow, the amp-workbench:// handler and session unchanged). The shapes are Electron's
 * BrowserWindowConstructorOptions and WebPreferences, restricted to what we set.
 */
import { contentSecurityPolicy } from '../web/csp';
import type { AppOrigin } from './gate';
import type { DesktopSettings } from '../../../src/api/desktop';

export interface WorkbenchWebPreferences {
  preload: string;
  contextIsolation: true;
  sandbox: true;
  nodeIntegration: false;
  nodeIntegrationInWorker: false;
  nodeIntegrationInSubFrames: false;
  webSecurity: true;
  allowRunningInsecureContent: false;
  experimentalFeatures: false;
  webviewTag: false;
  /** A dropped file would replace the app page; drops go to the page's own handler instead. */
  navigateOnDragDrop: false;
  safeDialogs: true;
  spellcheck: false;
  devTools: boolean;
}

export interface WorkbenchWindowOptions {
  title: string;
  width: number;
  height: number;
  minWidth: number;
  minHeight: number;
  /** Shown on 'ready-to-show', so the user never sees an empty white window. */
  show: false;
  backgroundColor: string;
  webPreferences: WorkbenchWebPreferences;
}

export const PRODUCT_NAME = 'AMP Workbench';

export function windowOptions(opts: { preload: string; dev: boolean; settings: DesktopSettings; prefersDark: boolean }): WorkbenchWindowOptions {
  const dark = opts.settings.theme === 'dark' || (opts.settings.theme === 'system' && opts.prefersDark);
  return {
    title: PRODUCT_NAME,
    width: opts.settings.window.width,
    height: opts.settings.window.height,
    minWidth: 800,
    minHeight: 500,
    show: false,
    backgroundColor: dark ? '#1e1f22' : '#ffffff',
    webPreferences: {
      preload: opts.preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      safeDialogs: true,
      spellcheck: false,
      devTools: opts.dev,
    },
  };
}

function widen(policy: string, directive: string, extra: string): string {
  const at = policy.split('; ').findIndex((d) => d.split(' ')[0] === directive);
  if (at < 0) throw new Error(`desktopCsp: main/host/web/csp.ts no longer has a ${directive} directive to widen for the dev server`);
  const parts = policy.split('; ');
  // 'none' cannot be combined with sources.
  parts[at] = `${parts[at]!.replace(` 'none'`, '')} ${extra}`;
  return parts.join('; ');
}

/**
 * The policy the app's page gets. From amp-workbench:// (appProtocol.ts sends it with every file):
 * exactly csp.ts's Electron policy, no network at all.
 * Development against Vite's dev server (main.ts adds it to the http responses with
 * webRequest.onHeadersReceived): Vite injects the React Refresh preamble and styles
 * inline and talks HMR over a WebSocket to its own host, so those are allowed — in dev only
 * (docs/stack.md §11 pitfall 19: generate the policy per mode).
 */
export function desktopCsp(origin: AppOrigin): string {
  const policy = contentSecurityPolicy({ kind: 'electron' });
  if (origin.kind === 'app') return policy;
  const host = new URL(origin.url).host;
  return widen(widen(widen(policy, 'script-src', `'unsafe-inline'`), 'style-src', `'unsafe-inline'`), 'connect-src', `'self' ws://${host}`);
}
