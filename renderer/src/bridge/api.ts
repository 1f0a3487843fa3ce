/**
 * How the renderer reaches the engine: the Electron preload bridge (`window.ampWorkbench`, same
 * {call, onEvent} shape) when the page runs in the desktop app, else the web mode's WebSocket
 * (main/host/web/server.ts: `{id, method, params}` → `{id, result}` | `{id, error}`, events
 * `{event, data}`). Calls never reject: a lost link or a silent engine is an error value like any
 * other, so views have one failure path.
 */
import { TRACE_PORT_MESSAGE, type DesktopBridge } from '../../../src/api/desktop';
import { METHOD_ACTIONS, type WorkbenchApi, type WorkbenchError, type WorkbenchEvent, type WorkbenchMethod, type WorkbenchParams, type WorkbenchResponse } from '../../../src/api/workbench';

export type { WorkbenchApi };

declare global {
  interface Window {
    /** Exposed by main/preload in the desktop app. */
    ampWorkbench?: DesktopBridge;
  }
}

export type LinkState =
  | { state: 'open'; detail: string }
  | { state: 'reconnecting'; detail: string; attempt: number }
  | { state: 'closed'; detail: string };

/** The API plus the state of the link to the engine (the Electron bridge is always open). */
export interface BridgeApi extends WorkbenchApi {
  link(): LinkState;
  onLink(listener: (s: LinkState) => void): () => void;
  /** "electron" or "web": the web mode has viewers and a controlling client. */
  readonly mode: 'electron' | 'web';
  /**
   * Whether this page controls the session. The server says so (control.changed) right after the
   * socket opens, before any view subscribes, so the bridge remembers the last word.
   */
  controlling(): boolean;
}

/** Requests that take long on a real board (bring-up, export of a big capture). */
const SLOW_METHODS: ReadonlySet<WorkbenchMethod> = new Set(['session.connect', 'trace.export', 'capture.open']);
const CALL_TIMEOUT_MS = 30_000;
const SLOW_CALL_TIMEOUT_MS = 180_000;
const RECONNECT_DELAYS_MS = [250, 500, 1000, 2000, 5000];

function failure(message: string, method?: string): { ok: false; error: WorkbenchError } {
  return { ok: false, error: { code: 'failed', message, ...(method ? { method } : {}) } };
}

/** Listeners are independent: one that throws is reported and the others still run. */
function fanOut<T>(listeners: Iterable<(v: T) => void>, value: T): void {
  for (const l of [...listeners]) {
    try {
      l(value);
    } catch (e) {
      reportError(e);
    }
  }
}

/** The web mode's socket address: the server that served this page (the only one its CSP allows). */
function defaultSocketUrl(): string {
  const token = new URLSearchParams(location.search).get('token');
  // The cookie the server sets is bound to the page's host; the token in the query works for both.
  return `ws://127.0.0.1:${location.port}/ws${token ? `?token=${encodeURIComponent(token)}` : ''}`;
}

/** Removes ?token= from the address bar (the HttpOnly cookie carries it from now on). */
function stripTokenFromAddressBar(): void {
  const u = new URL(location.href);
  if (!u.searchParams.has('token')) return;
  u.searchParams.delete('token');
  history.replaceState(history.state, '', u.pathname + u.search + u.hash);
}

interface Pending {
  resolve: (r: { ok: true; result: unknown } | { ok: false; error: WorkbenchError }) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Web mode. Resolves once the socket is open; rejects with what to try when the first connection
 * fails. Later drops reconnect by themselves (link state "reconnecting"), failing what was pending.
 */
export function connectWebSocketApi(url: string = defaultSocketUrl()): Promise<BridgeApi> {
  const pending = new Map<number, Pending>();
  const events = new Set<(e: WorkbenchEvent) => void>();
  const links = new Set<(s: LinkState) => void>();
  let link: LinkState = { state: 'reconnecting', detail: `connecting to ${url.replace(/\?.*/, '')}`, attempt: 0 };
  let ws: WebSocket | null = null;
  let nextId = 1;
  let controlling = false;

  const setLink = (s: LinkState): void => {
    link = s;
    fanOut(links, s);
  };

  const failPending = (why: string): void => {
    for (const [id, p] of pending) {
      clearTimeout(p.timer);
      pending.delete(id);
      p.resolve(failure(why));
    }
  };

  const onMessage = (raw: unknown): void => {
    let msg: unknown;
    try {
      msg = JSON.parse(String(raw));
    } catch {
      console.error(`workbench socket: a message that is not JSON: ${String(raw).slice(0, 80)}`);
      return;
    }
    if (typeof msg !== 'object' || msg === null) return;
    const m = msg as { id?: unknown; result?: unknown; error?: WorkbenchError; event?: unknown };
    if (typeof m.event === 'string') {
      const e = msg as WorkbenchEvent;
      if (e.event === 'control.changed') controlling = e.data.controller;
      fanOut(events, e);
      return;
    }
    const p = typeof m.id === 'number' ? pending.get(m.id) : undefined;
    if (!p) {
      // A reply without a request: the server could not read what we sent (id null).
      if (m.error) console.error(`workbench socket: ${m.error.message}`);
      return;
    }
    clearTimeout(p.timer);
    pending.delete(m.id as number);
    p.resolve(m.error ? { ok: false, error: m.error } : { ok: true, result: m.result });
  };

  const api: BridgeApi = {
    mode: 'web',
    link: () => link,
    controlling: () => controlling,
    onLink(listener) {
      links.add(listener);
      return () => links.delete(listener);
    },
    onEvent(listener) {
      events.add(listener);
      return () => events.delete(listener);
    },
    call<M extends WorkbenchMethod>(method: M, params: WorkbenchParams<M>): Promise<WorkbenchResponse<M>> {
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        return Promise.resolve(failure(`not connected to the workbench (${link.detail}); wait for the link to come back or reload the page`, method));
      }
      const id = nextId++;
      const ms = SLOW_METHODS.has(method) ? SLOW_CALL_TIMEOUT_MS : CALL_TIMEOUT_MS;
      const socket = ws;
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve(failure(`no reply from the workbench to ${METHOD_ACTIONS[method]} within ${ms / 1000} s; the engine may be stuck — check its terminal`, method));
        }, ms);
        pending.set(id, { resolve: resolve as Pending['resolve'], timer });
        socket.send(JSON.stringify({ id, method, params }));
      });
    },
  };

  return new Promise((resolveFirst, rejectFirst) => {
    let opened = false;
    let attempt = 0;
    const open = (): void => {
      const socket = new WebSocket(url);
      ws = socket;
      socket.onopen = () => {
        attempt = 0;
        setLink({ state: 'open', detail: `connected to ${location.host}` });
        if (!opened) {
          opened = true;
          stripTokenFromAddressBar();
          resolveFirst(api);
        }
      };
      socket.onmessage = (e) => onMessage(e.data);
      // Every error is followed by a close, which is where it is handled.
      socket.onerror = () => undefined;
      socket.onclose = (e) => {
        if (ws !== socket) return;
        if (!opened) {
          setLink({ state: 'closed', detail: 'refused' });
          rejectFirst(
            new Error(
              `cannot open the Workbench API socket at ${url.replace(/\?.*/, '')} (close code ${e.code}): the workbench is not running, or this page lacks its token. ` +
                'Open the exact URL `amp-workbench serve` printed (it carries ?token=…); the token changes every run.',
            ),
          );
          return;
        }
        const why = e.reason ? `the workbench closed the link: ${e.reason}` : `the link to the workbench dropped (code ${e.code})`;
        failPending(why);
        const delay = RECONNECT_DELAYS_MS[Math.min(attempt, RECONNECT_DELAYS_MS.length - 1)]!;
        attempt++;
        setLink({ state: 'reconnecting', detail: `${why}; reconnecting in ${delay / 1000} s`, attempt });
        setTimeout(open, delay);
      };
    };
    open();
  });
}

/**
 * The desktop bridge: calls and events through the preload, and trace growth over the
 * MessagePort main hands the page once it asks (the listener goes first: stack.md §11 pitfall
 * 10). A new port replaces the old one when the engine was restarted.
 */
function desktopApi(bridge: DesktopBridge): BridgeApi {
  const listeners = new Set<(e: WorkbenchEvent) => void>();
  const emit = (e: WorkbenchEvent): void => {
    for (const l of listeners) {
      try {
        l(e);
      } catch (err) {
        console.error('workbench event listener failed', err);
      }
    }
  };
  bridge.onEvent(emit);
  let port: MessagePort | null = null;
  window.addEventListener('message', (m: MessageEvent) => {
    if (m.source !== window || (m.data as { type?: unknown } | null)?.type !== TRACE_PORT_MESSAGE || !m.ports[0]) return;
    port?.close();
    port = m.ports[0];
    port.onmessage = (e: MessageEvent) => emit(e.data as WorkbenchEvent);
  });
  bridge.requestTracePort();
  const link: LinkState = { state: 'open', detail: 'desktop app' };
  return {
    mode: 'electron',
    call: (method, params) => bridge.call(method, params),
    onEvent: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    link: () => link,
    onLink: () => () => undefined,
    // In-process: the one window always controls.
    controlling: () => true,
  };
}

/** The bridge of the environment the page runs in. */
export async function getApi(): Promise<BridgeApi> {
  return window.ampWorkbench ? desktopApi(window.ampWorkbench) : connectWebSocketApi();
}
