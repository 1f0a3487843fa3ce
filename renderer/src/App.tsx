/**
 * The workbench shell: header (board, link, control), view tabs, the active view, status bar,
 * command palette (Ctrl+K), export dialog (Ctrl+E) and the view shortcuts 1–5.
 */
import { useCallback, useEffect, useMemo, useState, type DragEvent } from 'react';

import { THEMES, type ThemeName } from '../../src/api/desktop';
import type { WorkbenchError } from '../../src/api/workbench';
import type { EngineApi, LinkState } from './engine/api';
import { StatusBar } from './StatusBar';
import { CommandPalette, type Command } from './ui/CommandPalette';
import { ErrorNote } from './ui/ErrorNote';
import { useTheme } from './ui/theme';
import { useSession } from './ui/useSession';
import { useTraceActivity } from './ui/useTraceActivity';
import { ConnectView } from './views/connect/ConnectView';
import { DevicesView } from './views/devices/DevicesView';
import { ExportDialog } from './views/export/ExportDialog';
import { droppedCapturePath } from './views/export/captureFiles';
import { OpenCaptureDialog } from './views/export/OpenCaptureDialog';
import { QueuesView } from './views/queues/QueuesView';
import { TimelineView } from './views/timeline/TimelineView';
import { TraceView } from './views/trace/TraceView';

import './App.css';

export const VIEWS = [
  { id: 'connect', title: 'Connect' },
  { id: 'devices', title: 'Devices' },
  { id: 'queues', title: 'Queues' },
  { id: 'trace', title: 'Trace' },
  { id: 'timeline', title: 'Timeline' },
] as const;
export type ViewId = (typeof VIEWS)[number]['id'];

function editable(t: EventTarget | null): boolean {
  return t instanceof HTMLElement && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName));
}

function useLink(api: EngineApi): LinkState {
  const [link, setLink] = useState(api.link());
  useEffect(() => api.onLink(setLink), [api]);
  return link;
}

/** Web mode: whether this page controls the session or only watches. */
function useControl(api: EngineApi): boolean {
  const [controller, setController] = useState(api.controlling());
  useEffect(() => {
    const off = api.onEvent((e) => e.event === 'control.changed' && setController(e.data.controller));
    // The word may have come between the first render and this subscription.
    setController(api.controlling());
    return off;
  }, [api]);
  return controller;
}

export function App({ api }: { api: EngineApi }) {
  const [view, setView] = useState<ViewId>('connect');
  const [palette, setPalette] = useState(false);
  const [exporting, setExporting] = useState(false);
  const [opening, setOpening] = useState(false);
  const [notice, setNotice] = useState<WorkbenchError | null>(null);
  const [theme, setTheme] = useTheme();
  const link = useLink(api);
  const controller = useControl(api);
  const session = useSession(api);
  const activity = useTraceActivity(api);
  const connected = session.state?.connected ?? false;

  // A session lost under the user (the board reset, the link or the engine died) says why.
  useEffect(() => api.onEvent((e) => e.event === 'session.closed' && e.data.lost && setNotice({ code: 'failed', message: e.data.reason })), [api]);

  // After reconnecting, the engine may have moved on: read its state again.
  const { refresh } = session;
  useEffect(() => {
    if (link.state === 'open') void refresh();
  }, [link.state, refresh]);

  const act = useCallback(async (p: Promise<{ ok: true } | { ok: false; error: WorkbenchError }>) => {
    const r = await p;
    setNotice(r.ok ? null : r.error);
  }, []);

  const commands = useMemo<Command[]>(
    () => [
      ...VIEWS.map((v, i) => ({ id: `view.${v.id}`, title: `Go to ${v.title}`, keys: String(i + 1), run: () => setView(v.id) })),
      {
        id: 'session.connect',
        title: 'Connect to the simulated board',
        run: () => {
          setView('connect');
          void act(api.call('session.connect', {}));
        },
      },
      { id: 'session.disconnect', title: 'Disconnect the board', run: () => void act(api.call('session.disconnect', {})) },
      { id: 'export', title: 'Export the trace…', keys: 'Ctrl+E', run: () => setExporting(true) },
      { id: 'capture.open', title: 'Open a saved capture…', run: () => setOpening(true) },
      { id: 'control', title: 'Take control of the session', run: () => void act(api.call('session.takeControl', {})) },
      ...THEMES.map((t) => ({ id: `theme.${t}`, title: `Theme: ${t}`, run: () => setTheme(t) })),
    ],
    [api, act, setTheme],
  );

  // The desktop app's native menus ask for what only the page can show.
  useEffect(
    () =>
      window.ampWorkbench?.desktop.onCommand((c) => {
        if (c.kind === 'show-view') setView(c.view);
        else if (c.kind === 'theme') setTheme(c.theme);
        else if (c.kind === 'export') setExporting(true);
        else setPalette(true);
      }),
    [setTheme],
  );

  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      const mod = e.ctrlKey || e.metaKey;
      if (mod && e.key.toLowerCase() === 'k') setPalette((p) => !p);
      else if (mod && e.key.toLowerCase() === 'e') setExporting(true);
      else if (!mod && !e.altKey && !editable(e.target) && /^[1-5]$/.test(e.key)) setView(VIEWS[Number(e.key) - 1]!.id);
      else return;
      e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  // A capture dropped anywhere on the window opens (desktop app; web mode explains why not).
  const onDrop = useCallback(
    (e: DragEvent<HTMLDivElement>) => {
      if (!e.dataTransfer.types.includes('Files')) return;
      e.preventDefault();
      const dropped = droppedCapturePath(api, e.dataTransfer);
      if (!dropped.ok) {
        setNotice({ code: 'bad-request', message: dropped.error });
        return;
      }
      void api.call('capture.open', { path: dropped.value }).then((r) => {
        setNotice(r.ok ? null : r.error);
        if (r.ok) setView('trace');
      });
    },
    [api],
  );

  return (
    <div className="app" onDragOver={(e) => e.dataTransfer.types.includes('Files') && e.preventDefault()} onDrop={onDrop}>
      <header className="app-header">
        <strong className="app-title">AMP Workbench</strong>
        <span className="app-board" data-testid="header-board">
          {connected ? session.state?.board : 'no board'}
        </span>
        <span className="muted">{connected ? session.state?.link : link.state === 'open' ? 'idle' : link.detail}</span>
        <span className="app-spacer" />
        {api.mode === 'web' && (
          <span className="app-control">
            {controller ? (
              <span className="muted">controlling</span>
            ) : (
              <>
                <span className="muted">viewer (read-only)</span> <button onClick={() => void act(api.call('session.takeControl', {}))}>Take control</button>
              </>
            )}
          </span>
        )}
        <label className="app-theme">
          Theme{' '}
          <select value={theme} onChange={(e) => setTheme(e.target.value as ThemeName)} aria-label="Theme">
            {THEMES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <button onClick={() => setPalette(true)} title="Command palette (Ctrl+K)">
          ⌘ Commands
        </button>
      </header>
      <nav className="app-nav" role="tablist">
        {VIEWS.map((v, i) => (
          <button key={v.id} role="tab" aria-selected={view === v.id} className={view === v.id ? 'active' : undefined} onClick={() => setView(v.id)} title={`${v.title} (${i + 1})`}>
            {v.title}
          </button>
        ))}
      </nav>
      {notice && (
        <div className="app-notice">
          <ErrorNote error={notice} />
          <button onClick={() => setNotice(null)}>Dismiss</button>
        </div>
      )}
      <main className="app-main" role="tabpanel" aria-label={VIEWS.find((v) => v.id === view)!.title}>
        {view === 'connect' && <ConnectView api={api} onConnected={() => setView('devices')} />}
        {view === 'devices' && <DevicesView api={api} />}
        {view === 'queues' && <QueuesView api={api} />}
        {view === 'trace' && <TraceView api={api} />}
        {view === 'timeline' && <TimelineView api={api} />}
      </main>
      <StatusBar link={link} sessionLink={connected ? (session.state?.link ?? null) : null} activity={activity} />
      {palette && <CommandPalette commands={commands} onClose={() => setPalette(false)} />}
      <ExportDialog api={api} open={exporting} onClose={() => setExporting(false)} />
      <OpenCaptureDialog api={api} open={opening} onClose={() => setOpening(false)} onOpened={() => setView('trace')} />
    </div>
  );
}
