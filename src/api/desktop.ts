/**
 * The desktop bridge: what the sandboxed preload exposes as `window.ampWorkbench` (the renderer
 * uses these types), the IPC channel names behind it and the settings the page may see. The
 * preload bundles this file, so it holds constants and types only: no runtime import at all (a
 * sandboxed preload can require nothing but 'electron'; workbench.ts at runtime would pull zod
 * in — stack.md §11 pitfall 9).
 */
import type { WorkbenchApi, WorkbenchMethod } from './workbench';

/** IPC channels between the preload and main/app. */
export const CHANNELS = {
  /** invoke(method, params) → WorkbenchResponse. */
  call: 'amp-workbench:call',
  /** main → page: a WorkbenchEvent (every event but trace.appended, which rides the trace port). */
  event: 'amp-workbench:event',
  /** page → main: "my listener is installed, send the trace port now" (the pull of pitfall 10). */
  requestTracePort: 'amp-workbench:request-trace-port',
  /** main → preload: carries the MessagePort, which the preload forwards to the page. */
  tracePort: 'amp-workbench:trace-port',
  settingsGet: 'amp-workbench:settings-get',
  settingsUpdate: 'amp-workbench:settings-update',
  /** main → page: a DesktopCommand from the native menu. */
  command: 'amp-workbench:command',
} as const;

/** `data.type` of the window message that hands the trace port to the page (`event.ports[0]`). */
export const TRACE_PORT_MESSAGE = 'amp-workbench:trace-port';

/**
 * The method names the preload lets through, spelled out rather than imported (no runtime import
 * from src/). The two checks below fail typecheck when src/api adds or drops a method without
 * this list following; test/host/desktop/gate.test.ts compares it with METHOD_NAMES as well.
 */
export const BRIDGE_METHODS = [
  'boards.list',
  'profile.validate',
  'session.connect',
  'session.disconnect',
  'session.state',
  'session.takeControl',
  'device.reset',
  'device.workload',
  'queue.inspect',
  'trace.info',
  'trace.rows',
  'trace.record',
  'trace.window',
  'trace.stats',
  'trace.bookmark',
  'trace.export',
  'trace.cancelExport',
  'capture.open',
] as const satisfies readonly WorkbenchMethod[];
type MissingMethod = Exclude<WorkbenchMethod, (typeof BRIDGE_METHODS)[number]>;
const _methodsComplete: [MissingMethod] extends [never] ? true : MissingMethod = true;
void _methodsComplete;

export const VIEWS = ['connect', 'devices', 'queues', 'trace', 'timeline'] as const;
export type ViewName = (typeof VIEWS)[number];
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

export type SettingsUpdateResult = { ok: true; settings: DesktopSettings } | { ok: false; error: string };

/**
 * `window.ampWorkbench` in the desktop app. `call`/`onEvent` are the WorkbenchApi every transport
 * offers; trace.appended does not come through onEvent but over the trace port:
 *   window.addEventListener('message', (e) => { if (e.source === window && e.data?.type === TRACE_PORT_MESSAGE) use(e.ports[0]) });
 *   window.ampWorkbench.requestTracePort();   // only after the listener is installed
 * The port then carries `{event: 'trace.appended', data: {count, total}}`, coalesced (at most one
 * per coalescing interval). A new port may arrive later (the engine restarted): replace the old one.
 */
/** A file the user dropped or picked (a DOM File in the page; src/ has no DOM types). */
export interface DroppedFile {
  readonly name: string;
}

export interface DesktopBridge extends WorkbenchApi {
  requestTracePort(): void;
  desktop: {
    settings(): Promise<DesktopSettings>;
    updateSettings(patch: SettingsPatch): Promise<SettingsUpdateResult>;
    onCommand(listener: (command: DesktopCommand) => void): () => void;
    /** A dropped or picked File's path on disk, for capture.open ('' for files not on disk). */
    pathForFile(file: DroppedFile): string;
  };
}
