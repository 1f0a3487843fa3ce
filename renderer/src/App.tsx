/**
 * The workbench shell: header (what is shown: a board, an opened capture, nothing; the link;
 * control), view tabs, the active view, status bar, command palette (Ctrl+K), export dialog
 * (Ctrl+E or the header's Export button) and the view shortcuts 1–9. Views ask the shell to show
 * a record, follow a filter or export a scope through ViewNav (ui/nav.ts).
 */
import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent, type KeyboardEvent as ReactKeyboardEvent } from 'react';

import { THEMES, VIEW_TABS, type ThemeName, type ViewName } from '../../src/api/desktop';
import type { TraceInfo, WorkbenchError, WorkbenchParams, WorkbenchResult } from '../../src/api/workbench';
import { WORKLOADS } from '../../src/devices/registry';
import type { EngineApi, LinkState } from './engine/api';
import { StatusBar } from './StatusBar';
import { Chip } from './ui/Chip';
import { blockers, useControlling } from './ui/blockers';
import { CommandPalette, modifierKey, type Command } from './ui/CommandPalette';
import { ErrorNote } from './ui/ErrorNote';
import type { ExportScope, TraceRequest, ViewNav } from './ui/nav';
import { linkDetail } from './ui/linkDetail';
import { afterDisconnect } from '../../src/api/switchSession';
import { useTheme } from './ui/theme';
import { useSession } from './ui/useSession';
import { useTraceActivity } from './ui/useTraceActivity';
import { ConnectView } from './views/connect/ConnectView';
import { DevicesView } from './views/devices/DevicesView';
import { ExportDialog } from './views/export/ExportDialog';
import { openCaptureFile } from './views/export/captureFiles';
import { OpenCaptureDialog } from './views/export/OpenCaptureDialog';
import { QueuesView } from './views/queues/QueuesView';
import { TimelineView } from './views/timeline/TimelineView';
import { TraceView } from './views/trace/TraceView';
import { ExpertView } from './views/expert/ExpertView';
import { StatisticsView } from './views/statistics/StatisticsView';
import { TransactionsView } from './views/transactions/TransactionsView';

import './App.css';


type Board = WorkbenchResult<'boards.list'>['boards'][number];

/** Inputs that take typed text: the view keys leave them alone (a checkbox or a button does not). */
const TEXT_INPUTS = new Set(['text', 'search', 'number', 'email', 'password', 'url', 'tel', 'date', 'time', 'datetime-local', 'month', 'week']);

export function editable(t: EventTarget | null): boolean {
  if (!(t instanceof HTMLElement)) return false;
  if (t.isContentEditable || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT') return true;
  return t instanceof HTMLInputElement && TEXT_INPUTS.has(t.type);
}

function baseName(path: string): string {
  return path.replace(/[\\/]+$/, '').split(/[\\/]/).pop() ?? path;
}

const count = new Intl.NumberFormat('en-US');

function useLink(api: EngineApi): LinkState {
  const [link, setLink] = useState(api.link());
  useEffect(() => api.onLink(setLink), [api]);
  return link;
}

/** The trace the engine holds now (trace.info, then each trace.reset); null before there is one. */
function useTraceInfo(api: EngineApi): TraceInfo | null {
  const [info, setInfo] = useState<TraceInfo | null>(null);
  useEffect(() => {
    let live = true;
    void api.call('trace.info', {}).then((r) => live && r.ok && setInfo(r.result));
    const off = api.onEvent((e) => e.event === 'trace.reset' && setInfo(e.data));
    return () => {
      live = false;
      off();
    };
  }, [api]);
  return info;
}

type Flash = { tone: 'ok'; text: string } | { tone: 'error'; error: WorkbenchError };

export function App({ api }: { api: EngineApi }) {
  const [view, setView] = useState<ViewName>('connect');
  const [palette, setPalette] = useState(false);
  const [exporting, setExporting] = useState(false);
  const [exportScope, setExportScope] = useState<ExportScope | null>(null);
  const [opening, setOpening] = useState(false);
  const [flash, setFlash] = useState<Flash | null>(null);
  const [boards, setBoards] = useState<Board[]>([]);
  const [traceRequest, setTraceRequest] = useState<TraceRequest | null>(null);
  const nonce = useRef(0);
  const [theme, setTheme] = useTheme();
  const link = useLink(api);
  const controller = useControlling(api);
  const session = useSession(api);
  const activity = useTraceActivity(api);
  const info = useTraceInfo(api);
  const state = session.state;
  const connected = state?.connected ?? false;
  const fromCapture = state?.source === 'capture';

  const setNotice = useCallback((error: WorkbenchError | null) => setFlash(error && { tone: 'error', error }), []);

  // A session lost under the user (the board reset, the link or the engine died) says why.
  useEffect(() => api.onEvent((e) => e.event === 'session.closed' && e.data.lost && setNotice({ code: 'failed', message: e.data.reason })), [api, setNotice]);

  useEffect(() => {
    void api.call('boards.list', {}).then((r) => r.ok && setBoards(r.result.boards));
  }, [api]);

  // After reconnecting, the engine may have moved on: read its state again.
  const { refresh } = session;
  useEffect(() => {
    if (link.state === 'open') void refresh();
  }, [link.state, refresh]);

  // Why a request that changes something cannot be made from this window now; null when it can.
  const unreachable = link.state === 'open' ? null : `The workbench is not reachable (${link.detail}).`;
  const { change: changeBlocked, live: liveBlocked, driver: driverBlocked } = blockers({ unreachable, controlling: controller, state, lost: null });
  const exportBlocked = changeBlocked ?? (info ? null : 'There is no trace yet: connect a board or open a capture.');

  const act = useCallback(
    async (p: Promise<{ ok: true } | { ok: false; error: WorkbenchError }>) => {
      const r = await p;
      setNotice(r.ok ? null : r.error);
    },
    [setNotice],
  );

  const nav = useMemo<ViewNav>(
    () => ({
      jump: (seq) => {
        setTraceRequest({ nonce: ++nonce.current, seq });
        setView('trace');
      },
      follow: (filter) => {
        setTraceRequest({ nonce: ++nonce.current, filter });
        setView('trace');
      },
      exportScope: (scope) => {
        setExportScope(scope);
        setExporting(true);
      },
    }),
    [],
  );

  const openExport = useCallback(() => {
    setExportScope(null);
    setExporting(true);
  }, []);

  const connectTo = useCallback(
    (id: string) => {
      setView('connect');
      void act(afterDisconnect(() => api.call('session.disconnect', {}), connected, () => api.call('session.connect', { board: id })));
    },
    [api, act, connected],
  );

  const mod = modifierKey();
  const commands = useMemo<Command[]>(() => {
    const devices = state?.connected ? state.devices : [];
    return [
      ...VIEW_TABS.map((v, i) => ({ id: `view.${v.id}`, title: `Go to ${v.title}`, keys: String(i + 1), run: () => setView(v.id) })),
      ...boards.map((b) => ({
        id: `connect.${b.id}`,
        title: `Connect to ${b.id}${b.simulated ? ' (simulated)' : ''}`,
        disabled: changeBlocked ?? (connected && state?.board === b.id ? `connected to ${b.id} now` : null),
        run: () => connectTo(b.id),
      })),
      { id: 'session.disconnect', title: 'Disconnect the board', disabled: changeBlocked ?? (connected ? null : 'no board is connected'), run: () => void act(api.call('session.disconnect', {})) },
      ...devices.map((d) => ({
        id: `reset.${d.devNum}`,
        title: `Reset device ${d.devNum} (${d.deviceName})`,
        disabled: driverBlocked,
        run: () => void act(api.call('device.reset', { devNum: d.devNum })),
      })),
      ...devices.flatMap((d) =>
        [...WORKLOADS.values()]
          .filter((w) => w.device.id === d.deviceId)
          .map(({ workload: w }) => ({
            id: `workload.${d.devNum}.${w.kind}`,
            title: `Run ${w.kind} on device ${d.devNum} (${d.deviceName}) with its default parameters`,
            disabled: driverBlocked,
            run: () =>
              void api.call('device.workload', { devNum: d.devNum, kind: w.kind, params: w.defaults } as WorkbenchParams<'device.workload'>).then((r) => {
                if (!r.ok) setNotice(r.error);
                else if (!r.result.succeeded) setNotice({ code: 'failed', message: `${w.kind} on device ${d.devNum} failed: ${r.result.error}` });
                else setFlash({ tone: 'ok', text: `${w.kind} on device ${d.devNum} succeeded in ${Math.round(r.result.latencyUs)} µs` });
              }),
          })),
      ),
      { id: 'bookmark', title: 'Add a bookmark…', disabled: liveBlocked, prefill: 'bookmark ' },
      { id: 'goto', title: 'Go to record…', disabled: info ? null : 'there is no trace yet', prefill: 'go to record ' },
      { id: 'export', title: 'Export the trace…', keys: `${mod}E`, disabled: exportBlocked, run: openExport },
      { id: 'capture.open', title: 'Open a saved capture…', disabled: changeBlocked, run: () => setOpening(true) },
      ...(api.mode === 'web' && !controller ? [{ id: 'control', title: 'Take control of the session', run: () => void act(api.call('session.takeControl', {})) }] : []),
      ...THEMES.map((t) => ({ id: `theme.${t}`, title: `Theme: ${t}`, run: () => setTheme(t) })),
    ];
  }, [api, act, setTheme, boards, state, connected, controller, changeBlocked, driverBlocked, exportBlocked, info, mod, connectTo, openExport, setNotice]);

  // "go to record 120", "#120", "bookmark before the reset": commands made of what was typed.
  const fromQuery = useCallback(
    (query: string): Command[] => {
      const q = query.trim();
      const record = /^(?:go to(?: record)?|record|#)\s*(\d+)$/i.exec(q);
      if (record) {
        const seq = Number(record[1]);
        return [{ id: 'goto.seq', title: `Go to record ${seq}`, disabled: info ? null : 'there is no trace yet', run: () => nav.jump(seq) }];
      }
      const mark = /^(?:add )?bookmark\s+(\S.*)$/i.exec(q);
      if (mark) {
        const text = mark[1]!;
        return [
          {
            id: 'bookmark.text',
            title: `Add bookmark “${text}”`,
            disabled: liveBlocked,
            run: () =>
              void api.call('trace.bookmark', { text }).then((r) => (r.ok ? setFlash({ tone: 'ok', text: `Bookmark “${text}” added as record ${r.result.seq}` }) : setNotice(r.error))),
          },
        ];
      }
      return [];
    },
    [api, info, liveBlocked, nav, setNotice],
  );

  // The desktop app's native menus ask for what only the page can show.
  useEffect(
    () =>
      window.ampWorkbench?.desktop.onCommand((c) => {
        if (c.kind === 'show-view') setView(c.view);
        else if (c.kind === 'theme') setTheme(c.theme);
        else if (c.kind === 'export') openExport();
        else setPalette(true);
      }),
    [setTheme, openExport],
  );

  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      const modKey = e.ctrlKey || e.metaKey;
      const digit = /^[1-9]$/.test(e.key) ? VIEW_TABS[Number(e.key) - 1] : undefined;
      if (modKey && e.key.toLowerCase() === 'k') setPalette((p) => !p);
      else if (modKey && e.key.toLowerCase() === 'e') openExport();
      else if (!modKey && !e.altKey && !editable(e.target) && digit) setView(digit.id);
      else return;
      e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [openExport]);

  // A capture dropped anywhere on the window opens (uploaded first in web mode).
  const onDrop = useCallback(
    (e: DragEvent<HTMLDivElement>) => {
      if (!e.dataTransfer.types.includes('Files')) return;
      e.preventDefault();
      if (changeBlocked) return setNotice({ code: 'read-only', message: changeBlocked });
      void openCaptureFile(api, e.dataTransfer.files[0]).then((r) => {
        setNotice(r.ok ? null : r.error);
        if (r.ok) setView('trace');
      });
    },
    [api, changeBlocked, setNotice],
  );

  // Tabs are one Tab stop: the arrow keys, Home and End move between them (WAI-ARIA tabs pattern).
  const tabs = useRef<(HTMLButtonElement | null)[]>([]);
  const onTabKey = (e: ReactKeyboardEvent): void => {
    const at = VIEW_TABS.findIndex((v) => v.id === view);
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: VIEW_TABS.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    const next = (to + VIEW_TABS.length) % VIEW_TABS.length;
    setView(VIEW_TABS[next]!.id);
    tabs.current[next]?.focus();
  };

  // What the window shows, said once: the board and its link, an opened capture, or nothing yet.
  const where = connected && state?.board ? `${state.board} ${linkDetail(state.link ?? '', state.board)}`.trim() : fromCapture && state?.capture ? `capture ${baseName(state.capture)} (read-only)` : null;

  // Each view's props; the analysis views and the Trace view take the shell's navigation.
  const viewProps = { api, nav };
  const traceProps = { api, nav, request: traceRequest };

  return (
    <div className="app" onDragOver={(e) => e.dataTransfer.types.includes('Files') && e.preventDefault()} onDrop={onDrop}>
      <header className="app-header">
        <strong className="app-title">AMP Workbench</strong>
        {connected && state?.board ? (
          <span className="app-identity" title={state.link ?? undefined}>
            <span className="app-board" data-testid="header-board">
              {state.board}
            </span>
            <span className="muted">{linkDetail(state.link ?? '', state.board)}</span>
            {state.role !== 'driver' && <Chip tone="accent">{state.role === 'monitor' ? 'monitor (read-only)' : 'device side'}</Chip>}
          </span>
        ) : fromCapture && state?.capture ? (
          <span className="app-identity" title={state.capture}>
            <Chip tone="accent">capture</Chip>
            <span className="app-board" data-testid="header-board">
              {baseName(state.capture)}
            </span>
            <span className="muted">
              {info ? `recorded on ${info.board} · ${count.format(info.count)} records · ` : ''}read-only
            </span>
          </span>
        ) : (
          <span className="app-identity">
            <span className="app-board muted" data-testid="header-board">
              no board
            </span>
            <span className="muted">{link.state !== 'open' ? link.detail : info ? "connect a board; the last session's trace is kept" : 'connect a board or open a capture'}</span>
          </span>
        )}
        <span className="app-spacer" />
        <button onClick={() => setOpening(true)} disabled={changeBlocked !== null} title={changeBlocked ?? 'Open a saved capture (folder, .pcapng or .jsonl)'}>
          Open capture…
        </button>
        <button onClick={openExport} disabled={exportBlocked !== null} title={exportBlocked ?? `Export the trace (${mod}E)`}>
          Export…
        </button>
        {api.mode === 'web' && (
          <span className="app-control">
            {controller ? (
              <span className="muted" title="In web mode several windows may show the session; the one in control may change it, the others are read-only viewers until they take control.">
                you control this session
              </span>
            ) : (
              <>
                <span className="muted" title="Another window controls the session; this one may look but not change anything.">
                  viewer (read-only)
                </span>{' '}
                <button onClick={() => void act(api.call('session.takeControl', {}))} disabled={unreachable !== null} title={unreachable ?? 'Make this window the one that controls the session'}>
                  Take control
                </button>
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
        <button onClick={() => setPalette(true)} title={`Command palette (${mod}K)`}>
          Commands <kbd>{mod}K</kbd>
        </button>
      </header>
      <nav className="app-nav" role="tablist" aria-label="Views" onKeyDown={onTabKey}>
        {VIEW_TABS.map((v, i) => (
          <button
            key={v.id}
            ref={(el) => {
              tabs.current[i] = el;
            }}
            id={`tab-${v.id}`}
            role="tab"
            aria-selected={view === v.id}
            aria-controls="app-main"
            tabIndex={view === v.id ? 0 : -1}
            className={view === v.id ? 'active' : undefined}
            onClick={() => setView(v.id)}
            title={`${v.title} (${i + 1})`}
          >
            {v.title}
          </button>
        ))}
      </nav>
      {flash && (
        <div className="app-notice">
          {flash.tone === 'error' ? (
            <ErrorNote error={flash.error} />
          ) : (
            <div className="app-flash" role="status">
              {flash.text}
            </div>
          )}
          <button onClick={() => setFlash(null)}>Dismiss</button>
        </div>
      )}
      <main id="app-main" className="app-main" role="tabpanel" aria-labelledby={`tab-${view}`}>
        {view === 'connect' && <ConnectView api={api} blocked={changeBlocked} onConnected={() => setView('devices')} onOpened={() => setView('trace')} />}
        {view === 'devices' && <DevicesView api={api} />}
        {view === 'queues' && <QueuesView api={api} />}
        {view === 'trace' && <TraceView {...traceProps} />}
        {view === 'timeline' && <TimelineView {...viewProps} />}
        {view === 'transactions' && <TransactionsView {...viewProps} />}
        {view === 'statistics' && <StatisticsView {...viewProps} />}
        {view === 'expert' && <ExpertView {...viewProps} />}
      </main>
      <StatusBar link={link} where={where} activity={activity} />
      {palette && <CommandPalette commands={commands} fromQuery={fromQuery} onClose={() => setPalette(false)} />}
      <ExportDialog api={api} open={exporting} scope={exportScope} blocked={exportBlocked} onClose={() => setExporting(false)} />
      <OpenCaptureDialog api={api} open={opening} blocked={changeBlocked} onClose={() => setOpening(false)} onOpened={() => setView('trace')} />
    </div>
  );
}
