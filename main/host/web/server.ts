/**
 * Web mode: the Workbench API over a WebSocket, and the renderer's files over HTTP, for a browser
 * on the same machine (or through an SSH tunnel to a lab machine).
 *
 * Who may talk to it:
 * - it listens on 127.0.0.1 only;
 * - every HTTP request and the WebSocket upgrade carry the per-run token (`?token=` once, then
 *   the cookie set from it), compared in constant time;
 * - the Host header must name 127.0.0.1:PORT or localhost:PORT (a DNS-rebinding page has its own
 *   host name there), and an Origin, when sent, must be http://127.0.0.1:PORT or
 *   http://localhost:PORT (a foreign page's socket is refused with 403 and logged).
 *
 * Several clients may connect; exactly one controls the session (the first, or the one that last
 * called session.takeControl; when it leaves, the longest-connected client takes over). The others
 * are viewers and may call only read-only methods (WORKBENCH_METHODS[m].readOnly).
 *
 * Messages are JSON text: `{id, method, params}` → `{id, result}` or `{id, error}`; events
 * `{event, data}`. trace.appended is coalesced per client to at most one per `coalesceMs`
 * (default 50 ms) carrying the summed count: never one message per record (stack.md §6).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { Duplex } from 'node:stream';

import { WebSocketServer, type RawData, type WebSocket } from 'ws';

import { isReadOnly, METHOD_ACTIONS, WORKBENCH_METHODS, type WorkbenchError, type WorkbenchEvent, type WorkbenchMethod } from '../../../src/api/workbench';
import { contentSecurityPolicy } from './csp';
import { readStaticFile } from './staticFiles';

/** What the server needs of the engine: WorkbenchService, or a stand-in in tests. */
export interface WorkbenchBackend {
  handle(method: unknown, params: unknown): Promise<{ ok: true; result: unknown } | { ok: false; error: WorkbenchError }>;
  onEvent(listener: (e: WorkbenchEvent) => void): () => void;
}

export interface WebServerOptions {
  backend: WorkbenchBackend;
  /** Only 127.0.0.1 is accepted; anything else is refused at start. */
  host?: string;
  /** 0 (default): any free port. */
  port?: number;
  /** Folder with the renderer build (index.html and assets); null serves nothing but the API. */
  staticDir?: string | null;
  /** Default: 24 random bytes, base64url. */
  token?: string;
  coalesceMs?: number;
  /** Refused requests and dropped clients, one line each (default: stderr). */
  log?: (line: string) => void;
}

export interface WebServer {
  port: number;
  token: string;
  /** The URL to open, token included. */
  url: string;
  /** The WebSocket endpoint (token still required: query or cookie). */
  wsUrl: string;
  clientCount(): number;
  close(): Promise<void>;
}

export const WS_PATH = '/ws';
const LOOPBACK = '127.0.0.1';
/** A client that lets this much pile up unsent is not reading: it is dropped rather than buffered without end. */
const MAX_BUFFERED_BYTES = 16 << 20;
const MAX_MESSAGE_BYTES = 1 << 20;

interface Client {
  ws: WebSocket;
  remote: string;
  appended: { count: number; total: number } | null;
  timer: NodeJS.Timeout | null;
}

type Refusal = { status: number; reason: string };

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function describe(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const host = opts.host ?? LOOPBACK;
  if (host !== LOOPBACK) {
    throw new Error(`web mode listens on ${LOOPBACK} only (the token is no protection on a network), saw host "${host}"; to reach a lab machine use an SSH tunnel: ssh -L PORT:127.0.0.1:PORT lab-machine`);
  }
  const token = opts.token ?? randomBytes(24).toString('base64url');
  const coalesceMs = opts.coalesceMs ?? 50;
  const log = opts.log ?? ((line: string) => process.stderr.write(`web: ${line}\n`));
  const staticRoot = opts.staticDir ? resolve(opts.staticDir) : null;
  let port = 0;
  const cookieName = (): string => `amp_workbench_${port}`;

  /** Host, Origin and token checks shared by HTTP and the upgrade; null when the request may pass. */
  const refuse = (req: IncomingMessage, url: URL): Refusal | null => {
    const hostHeader = (req.headers.host ?? '').toLowerCase();
    if (hostHeader !== `${LOOPBACK}:${port}` && hostHeader !== `localhost:${port}`) {
      return { status: 403, reason: `Host header must be ${LOOPBACK}:${port} or localhost:${port}, saw ${describe(req.headers.host ?? null)}` };
    }
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${LOOPBACK}:${port}` && origin !== `http://localhost:${port}`) {
      return { status: 403, reason: `Origin must be http://${LOOPBACK}:${port} or http://localhost:${port}, saw ${describe(origin)}` };
    }
    const given = url.searchParams.get('token') ?? cookie(req, cookieName());
    if (given === undefined || given === null) return { status: 401, reason: 'no token: open the URL amp-workbench serve printed (it carries ?token=…)' };
    if (!sameSecret(given, token)) return { status: 401, reason: 'wrong token: this workbench run printed a different URL (the token changes every run)' };
    return null;
  };

  const securityHeaders = (res: ServerResponse): void => {
    res.setHeader('Content-Security-Policy', contentSecurityPolicy({ kind: 'web', port }));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Cache-Control', 'no-store');
  };

  const plain = (res: ServerResponse, status: number, text: string): void => {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(text + '\n');
  };

  const serveFile = async (res: ServerResponse, pathname: string): Promise<void> => {
    if (!staticRoot) {
      plain(res, 404, `no renderer build is served (start with --static DIR); the Workbench API is at ws://${LOOPBACK}:${port}${WS_PATH}`);
      return;
    }
    const r = await readStaticFile(staticRoot, pathname);
    if (!r.ok) {
      plain(res, r.status, r.reason);
      return;
    }
    res.writeHead(200, { 'Content-Type': r.contentType, 'Content-Length': r.body.length });
    res.end(r.body);
  };

  const server = createServer((req, res) => {
    securityHeaders(res);
    const url = new URL(req.url ?? '/', `http://${LOOPBACK}`);
    const no = refuse(req, url);
    if (no) {
      log(`refused HTTP ${req.method} ${url.pathname} from ${req.socket.remoteAddress}: ${no.reason}`);
      plain(res, no.status, no.reason);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      plain(res, 405, `${req.method} is not served; the API is on the WebSocket ${WS_PATH}`);
      return;
    }
    // The token travels in the URL once; after that the page and its socket use the cookie.
    if (url.searchParams.has('token')) res.setHeader('Set-Cookie', `${cookieName()}=${token}; HttpOnly; SameSite=Strict; Path=/`);
    let pathname: string;
    try {
      pathname = decodeURIComponent(url.pathname);
    } catch {
      plain(res, 400, `malformed path ${url.pathname}`);
      return;
    }
    void serveFile(res, pathname);
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  const clients = new Set<Client>();
  let controller: Client | null = null;

  const send = (c: Client, message: unknown): void => {
    if (c.ws.readyState !== c.ws.OPEN) return;
    if (c.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      log(`dropped client ${c.remote}: ${c.ws.bufferedAmount} bytes unsent (it stopped reading)`);
      c.ws.terminate();
      return;
    }
    c.ws.send(JSON.stringify(message));
  };

  const setController = (c: Client | null): void => {
    const before = controller;
    controller = c;
    if (before && before !== c) send(before, { event: 'control.changed', data: { controller: false } });
    if (c && before !== c) send(c, { event: 'control.changed', data: { controller: true } });
  };

  const flushAppended = (c: Client): void => {
    if (c.timer) clearTimeout(c.timer);
    c.timer = null;
    if (c.appended) send(c, { event: 'trace.appended', data: c.appended });
    c.appended = null;
  };

  const unsubscribe = opts.backend.onEvent((e) => {
    for (const c of clients) {
      if (e.event === 'trace.appended') {
        c.appended = { count: (c.appended?.count ?? 0) + e.data.count, total: e.data.total };
        c.timer ??= setTimeout(() => flushAppended(c), coalesceMs);
        continue;
      }
      if (e.event === 'trace.reset') {
        // Counts of the trace before belong to nothing now.
        if (c.timer) clearTimeout(c.timer);
        c.timer = null;
        c.appended = null;
      }
      send(c, e);
    }
  });

  const reply = (c: Client, id: unknown, error: WorkbenchError): void => send(c, { id, error });

  const onMessage = async (c: Client, data: RawData, isBinary: boolean): Promise<void> => {
    if (isBinary) return reply(c, null, { code: 'bad-request', message: 'binary frames are not part of the API; send JSON text {"id", "method", "params"}' });
    let msg: unknown;
    try {
      msg = JSON.parse(data.toString());
    } catch (e) {
      // The parser's own text ("Unexpected token…") is for the log, not the reply.
      log(`client ${c.remote} sent a message that is not JSON: ${(e as Error).message}`);
      return reply(c, null, { code: 'bad-request', message: 'message is not JSON text; expected an object {"id", "method", "params"}' });
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      return reply(c, null, { code: 'bad-request', message: `expected a JSON object {"id", "method", "params"}, saw ${describe(msg)}` });
    }
    const { id, method, params } = msg as Record<string, unknown>;
    if (!(typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)))) {
      return reply(c, id ?? null, { code: 'bad-request', field: 'id', message: `expected "id" to be a number or a string the reply will carry, saw ${describe(id)}` });
    }
    if (method === 'session.takeControl') {
      setController(c);
      return send(c, { id, result: { controller: true } });
    }
    const known = typeof method === 'string' && Object.hasOwn(WORKBENCH_METHODS, method);
    if (known && c !== controller && !isReadOnly(method as WorkbenchMethod)) {
      const action = METHOD_ACTIONS[method as WorkbenchMethod];
      return reply(c, id, {
        code: 'read-only',
        method: method as string,
        message: `this window only views the session (another window controls it), so ${action} is not allowed here: take control in the header first`,
      });
    }
    const r = await opts.backend.handle(method, params);
    // An internal failure's own text goes to the terminal the message points to.
    if (!r.ok && r.error.detail) log(`${String(method)} failed: ${r.error.detail}`);
    send(c, r.ok ? { id, result: r.result } : { id, error: r.error });
  };

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const c: Client = { ws, remote: `${req.socket.remoteAddress}:${req.socket.remotePort}`, appended: null, timer: null };
    clients.add(c);
    ws.on('message', (data, isBinary) => void onMessage(c, data, isBinary));
    ws.on('error', (e) => log(`client ${c.remote}: ${e.message}`));
    ws.on('close', () => {
      clients.delete(c);
      if (c.timer) clearTimeout(c.timer);
      if (controller === c) setController(clients.values().next().value ?? null);
    });
    if (!controller) setController(c);
    else send(c, { event: 'control.changed', data: { controller: false } });
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', `http://${LOOPBACK}`);
    const no = url.pathname !== WS_PATH ? { status: 404, reason: `the WebSocket endpoint is ${WS_PATH}` } : refuse(req, url);
    if (no) {
      log(`refused WebSocket ${url.pathname} from ${req.socket.remoteAddress}: ${no.reason}`);
      socket.end(`HTTP/1.1 ${no.status} ${STATUS_CODES[no.status]}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(no.reason)}\r\nConnection: close\r\n\r\n${no.reason}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(opts.port ?? 0, LOOPBACK, () => {
      server.off('error', rej);
      res();
    });
  });
  port = (server.address() as AddressInfo).port;

  return {
    port,
    token,
    url: `http://${LOOPBACK}:${port}/?token=${token}`,
    wsUrl: `ws://${LOOPBACK}:${port}${WS_PATH}?token=${token}`,
    clientCount: () => clients.size,
    async close() {
      unsubscribe();
      for (const c of clients) {
        if (c.timer) clearTimeout(c.timer);
        c.ws.close(1001, 'workbench shutting down');
      }
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}
