/**
 * The desktop app's preload API: what the sandboxed preload exposes as `window.ampWorkbench` (the
 * renderer uses these types), the IPC channel names behind it and the settings the page may see.
 * The preload bundles this file, so it holds constants and types only: no runtime import at all
 * (a sandboxed preload can require nothing but 'electron'; workbench.ts at runtime would pull the
 * schema library in — docs/stack.md §11 pitfall 9).
 */

import type { Result } from '../util/result';
/** IPC channels between the preload and main/app. */
export const CHANNELS = {
  /** page → main: "my listener is installed, send the engine port now" (the pull of pitfall 10). */
  requestPort: 'amp-workbench:request-port',
  /** main → preload: carries the MessagePort, which the preload forwards to the page. */
  port: 'amp-workbench:port',
  settingsGet: 'amp-workbench:settings-get',
  settingsUpdate: 'amp-workbench:settings-update',
  /** main → page: a DesktopCommand from the native menu. */
  command: 'amp-workbench:command',
} as const;

/** `data.type` of the window message that hands the engine port to the page (`event.ports[0]`). */
export const ENGINE_PORT_MESSAGE = 'amp-workbench:engine-port';

/** The page's views in tab order (keys 1–8, the View menu); the one list of them. */
export const VIEW_TABS = [
  { id: 'connect', title: 'Connect' },
  { id: 'devices', title: 'Devices' },
  { id: 'queues', title: 'Queues' },
  { id: 'trace', title: 'Trace' },
  { id: 'timeline', title: 'Timeline' },
  { id: 'transactions', title: 'Transactions' },
  { id: 'statistics', title: 'Statistics' },
  { id: 'expert', title: 'Expert' },
] as const;
export type ViewName = (typeof VIEW_TABS)[number]['id'];
export const VIEWS: readonly ViewName[] = VIEW_TABS.map((v) => v.id);
export const THEMES = ['system', 'light', 'dark'] as const;
export type ThemeName = (typeof THEMES)[number];

/** What the native menu asks of the page (things only the page can show). */
export type DesktopCommand =
  | { kind: 'show-view'; view: ViewName }
  | { kind: 'theme'; theme: ThemeName }
  /** Open the export dialog. */
  | { kind: 'export' }
  | { kind: 'command-palette' };

export const SETTINGS_VERSION = 1;

export interface DesktopSettings {
  version: typeof SETTINGS_VERSION;
  theme: ThemeName;
  view: ViewName;
  /** Built-in board ids, most recent first. */
  recentBoards: string[];
  /** Capture folders or files, most recent first. */
  recentCaptures: string[];
  /** Panel sizes by panel id, as the renderer defines them (fractions or pixels). */
  layout: Record<string, number>;
  window: { width: number; height: number; maximized: boolean };
}

/** What the page may change. */
export type SettingsPatch = Partial<Pick<DesktopSettings, 'theme' | 'view' | 'layout'>>;

export type SettingsUpdateResult = Result<DesktopSettings>;

/** A file the user dropped or picked (a DOM File in the page; src/ has no DOM types). */
export interface DroppedFile {
  readonly name: string;
}

/**
 * `window.ampWorkbench` in the desktop app. The Workbench API is not on it: it travels over a
 * MessagePort to main (the RPC core of src/api/rpc.ts), which the page pulls once its listener is
 * installed:
 *   window.addEventListener('message', (e) => { if (e.source === window && e.data?.type === ENGINE_PORT_MESSAGE) use(e.ports[0]) });
 *   window.ampWorkbench.requestPort();   // only after the listener is installed
 */
export interface DesktopPreload {
  requestPort(): void;
  desktop: {
    settings(): Promise<DesktopSettings>;
    updateSettings(patch: SettingsPatch): Promise<SettingsUpdateResult>;
    onCommand(listener: (command: DesktopCommand) => void): () => void;
    /** A dropped or picked File's path on disk, for capture.open ('' for files not on disk). */
    pathForFile(file: DroppedFile): string;
  };
}
