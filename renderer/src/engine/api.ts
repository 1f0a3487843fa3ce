/**
 * How the page reaches the engine: the RPC core (src/api/rpc.ts) over the MessagePort main hands
 * the page when it runs in the desktop app, else over the web mode's WebSocket
 * (main/host/web/server.ts). Calls never reject: a lost link or a silent engine is an error value
 * like any other, so views have one failure path.
 */
import { ENGINE_PORT_MESSAGE, type DesktopPreload } from '../../../src/api/desktop';
import { RpcClient, type RpcChannel, type WorkbenchReply } from '../../../src/api/rpc';
import { METHOD_ACTIONS, type WorkbenchApi, type WorkbenchEvent, type WorkbenchMethod, type WorkbenchParams, type WorkbenchResponse } from '../../../src/api/workbench';
import type { Result } from '../../../src/util/result';
import type { Runtime } from '../../../src/util/runtime';

export type { WorkbenchApi };

declare global {
  interface Window {
    /** Exposed by main/preload in the desktop app. */
    ampWorkbench?: DesktopPreload;
  }
}

export type LinkState =
  | { state: 'open'; detail: string }
  | { state: 'reconnecting'; detail: string; attempt: number }
  | { state: 'closed'; detail: string };

/**
 * Web mode: files between this computer and the engine's machine, which reads and writes only its
 * own paths (main/host/web/server.ts's /upload and /download).
 */
export interface FileTransfer {
  /** Stores a capture file on the engine's machine; its path there, for capture.open. */
  upload(file: File): Promise<Result<string>>;
  /** Where the browser downloads a file trace.export wrote. */
  downloadHref(path: string): string;
}

/** The API plus the state of the link to the engine (the desktop app's port is always open). */
export interface EngineApi extends WorkbenchApi {
  link(): LinkState;
  onLink(listener: (s: LinkState) => void): () => void;
  /** "electron" or "web": the web mode has viewers and a controlling client. */
  readonly mode: 'electron' | 'web';
  /**
   * Whether this page controls the session. The server says so (control.changed) right after the
   * socket opens, before any view subscribes, so the client remembers the last word.
   */
  controlling(): boolean;
  /** Web mode's file transfer; null in the desktop app, where the engine reads this machine's paths. */
  readonly files: FileTransfer | null;
}

/** Requests that take long on a real board (bring-up, export of a big capture). */
const SLOW_METHODS: ReadonlySet<string> = new Set<WorkbenchMethod>(['session.connect', 'trace.export', 'capture.open']);
const CALL_TIMEOUT_MS = 30_000;
const SLOW_CALL_TIMEOUT_MS = 180_000;
const RECONNECT_DELAYS_MS = [250, 500, 1000, 2000, 5000];

const pageTimers: Pick<Runtime, 'setTimer'> = {
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

const logToConsole = (line: string): void => console.error(`workbench: ${line}`);

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

function closeReason(e: CloseEvent): string {
  return e.reason ? `the workbench closed the link: ${e.reason}` : `the link to the workbench dropped (code ${e.code})`;
}

/** The page's own server stores uploads and sends downloads; the cookie carries the token. */
const webFiles: FileTransfer = {
  async upload(file) {
    let res: Response;
    try {
      res = await fetch(`/upload?name=${encodeURIComponent(file.name)}`, { method: 'POST', body: file, credentials: 'same-origin' });
    } catch {
      return { ok: false, error: `cannot send ${file.name} to the workbench: the link to it dropped; try again when it is back` };
    }
    const body = (await res.json().catch(() => ({}))) as { path?: unknown; error?: unknown };
    if (res.ok && typeof body.path === 'string') return { ok: true, value: body.path };
    return { ok: false, error: typeof body.error === 'string' ? body.error : `the workbench did not store ${file.name} (HTTP ${res.status})` };
  },
  downloadHref: (path) => `/download?path=${encodeURIComponent(path)}`,
};

/** A page WebSocket as the RPC core's channel: JSON text each way. */
function socketChannel(socket: WebSocket): RpcChannel {
  return {
    send: (message) => socket.send(JSON.stringify(message)),
    onMessage: (listener) =>
      socket.addEventListener('message', (e: MessageEvent) => {
        let message: unknown;
        try {
          message = JSON.parse(String(e.data));
        } catch {
          return logToConsole(`a message that is not JSON: ${String(e.data).slice(0, 80)}`);
        }
        listener(message);
      }),
    onClose: (listener) => socket.addEventListener('close', (e: CloseEvent) => listener(closeReason(e))),
  };
}

/** The desktop app's port to main as the RPC core's channel; main lives as long as the page, so it never closes. */
function portChannel(port: MessagePort): RpcChannel {
  return {
    send: (message) => port.postMessage(message),
    onMessage: (listener) => {
      port.onmessage = (e: MessageEvent) => listener(e.data);
    },
    onClose: () => undefined,
  };
}

function call<M extends WorkbenchMethod>(client: RpcClient, method: M, params: WorkbenchParams<M>): Promise<WorkbenchResponse<M>> {
  return client.request(method, params) as Promise<WorkbenchResponse<M>>;
}

/**
 * Web mode. Resolves once the socket is open; rejects with what to try when the first connection
 * fails. Later drops reconnect by themselves (link state "reconnecting"), failing what was pending.
 */
export function connectWebSocketApi(url: string = defaultSocketUrl()): Promise<EngineApi> {
  const events = new Set<(e: WorkbenchEvent) => void>();
  const links = new Set<(s: LinkState) => void>();
  let link: LinkState = { state: 'reconnecting', detail: `connecting to ${url.replace(/\?.*/, '')}`, attempt: 0 };
  let client: RpcClient | null = null;
  let controlling = false;

  const setLink = (s: LinkState): void => {
    link = s;
    fanOut(links, s);
  };

  const notConnected = (method: string): Promise<WorkbenchReply> =>
    Promise.resolve({ ok: false, error: { code: 'failed', method, message: `not connected to the workbench (${link.detail}); wait for the link to come back or reload the page` } });

  const api: EngineApi = {
    mode: 'web',
    files: webFiles,
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
    call: (method, params) => (client && link.state === 'open' ? call(client, method, params) : (notConnected(method) as Promise<WorkbenchResponse<typeof method>>)),
  };

  return new Promise((resolveFirst, rejectFirst) => {
    let opened = false;
    let attempt = 0;
    const open = (): void => {
      const socket = new WebSocket(url);
      const next = new RpcClient(socketChannel(socket), {
        log: logToConsole,
        timeout: {
          ms: (method) => (SLOW_METHODS.has(method) ? SLOW_CALL_TIMEOUT_MS : CALL_TIMEOUT_MS),
          text: (method, ms) => `no reply from the workbench to ${METHOD_ACTIONS[method as WorkbenchMethod]} within ${ms / 1000} s; the engine may be stuck — check its terminal`,
          runtime: pageTimers,
        },
      });
      next.onEvent((e) => {
        if (e.event === 'control.changed') controlling = e.data.controller;
        fanOut(events, e);
      });
      socket.addEventListener('open', () => {
        client = next;
        attempt = 0;
        setLink({ state: 'open', detail: `connected to ${location.host}` });
        if (!opened) {
          opened = true;
          stripTokenFromAddressBar();
          resolveFirst(api);
        }
      });
      // Every error is followed by a close, which is where it is handled.
      socket.addEventListener('error', () => undefined);
      socket.addEventListener('close', (e: CloseEvent) => {
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
        const delay = RECONNECT_DELAYS_MS[Math.min(attempt, RECONNECT_DELAYS_MS.length - 1)]!;
        attempt++;
        setLink({ state: 'reconnecting', detail: `${closeReason(e)}; reconnecting in ${delay / 1000} s`, attempt });
        setTimeout(open, delay);
      });
    };
    open();
  });
}

/**
 * The desktop app: the page asks main for its port (the listener goes first: docs/stack.md §11
 * pitfall 10) and talks to the engine through main over it.
 */
function desktopApi(preload: DesktopPreload): Promise<EngineApi> {
  return new Promise((resolve) => {
    const take = (m: MessageEvent): void => {
      if (m.source !== window || (m.data as { type?: unknown } | null)?.type !== ENGINE_PORT_MESSAGE || !m.ports[0]) return;
      window.removeEventListener('message', take);
      const client = new RpcClient(portChannel(m.ports[0]), { log: logToConsole });
      const link: LinkState = { state: 'open', detail: 'desktop app' };
      resolve({
        mode: 'electron',
        files: null,
        call: (method, params) => call(client, method, params),
        onEvent: (listener) => client.onEvent(listener),
        link: () => link,
        onLink: () => () => undefined,
        // In-process: the one window always controls.
        controlling: () => true,
      });
    };
    window.addEventListener('message', take);
    preload.requestPort();
  });
}

/** The engine client of the environment the page runs in. */
export function getApi(): Promise<EngineApi> {
  return window.ampWorkbench ? desktopApi(window.ampWorkbench) : connectWebSocketApi();
}
