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
 * Messages are the RPC core's (src/api/rpc.ts) as JSON text: `{id, method, params}` → `{id, result}`
 * or `{id, error}`, `{cancel: id}`, events `{event, data}`. trace.appended is coalesced per client
 * to at most one per `coalesceMs` (default 50 ms) carrying the summed count: never one message
 * per record (docs/stack.md §6).
 *
 * Files between the browser's machine and the engine's (the engine reads and writes paths on its
 * own machine only; docs/stack.md §6 rule 7):
 * - `POST /upload?name=FILE` stores the body (a pcapng or JSONL capture) in the uploads folder and
 *   answers `{"path"}`, which the page then opens with capture.open;
 * - `GET /download?path=FILE` sends back a file a trace.export of this run wrote, and no other.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join, resolve } from 'node:path';
import type { Duplex } from 'node:stream';

import { WebSocketServer, type RawData, type WebSocket } from 'ws';

import { coalesceTraceGrowth, logFailures, readOnlyGate, serveRpc, type CoalescedEvents, type RpcChannel, type RpcHandler, type RpcServer, type WorkbenchBackend } from '../../../src/api/rpc';
import { describeValue } from '../../../src/api/issues';
import { errorText } from '../../../src/util/errorText';
import { announceSession } from '../extcap/discovery';
import { nodeRuntime } from '../runtime';
import { contentSecurityPolicy } from './csp';
import { readStaticFile } from './staticFiles';

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
  /** Announce port and token in this folder while running, for the Wireshark extcap (main/host/extcap/discovery.ts). */
  announceIn?: string;
  /** Where uploaded captures go (default: a new folder in the system's temporary folder, removed by close()). */
  uploadsDir?: string;
  /** The largest capture upload accepted (default MAX_UPLOAD_BYTES). */
  maxUploadBytes?: number;
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
/** A capture upload larger than this is refused: bigger captures are opened by path on the engine's machine. */
export const MAX_UPLOAD_BYTES = 4 * 2 ** 30;
export const UPLOAD_PATH = '/upload';
export const DOWNLOAD_PATH = '/download';

/** An uploaded file's name as the engine stores it: letters, digits, dot, dash and underscore only. */
export function uploadName(name: string): string {
  const safe = basename(name).replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '');
  return safe === '' ? 'capture' : safe.slice(-120);
}

interface Client {
  ws: WebSocket;
  /** Connected with ?viewer=1 (the Wireshark extcap): never handed control. */
  viewerOnly: boolean;
  remote: string;
  rpc: RpcServer;
  events: CoalescedEvents;
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
      return { status: 403, reason: `Host header must be ${LOOPBACK}:${port} or localhost:${port}, saw ${describeValue(req.headers.host ?? null)}` };
    }
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${LOOPBACK}:${port}` && origin !== `http://localhost:${port}`) {
      return { status: 403, reason: `Origin must be http://${LOOPBACK}:${port} or http://localhost:${port}, saw ${describeValue(origin)}` };
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

  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  };

  let uploads: string | null = opts.uploadsDir ?? null;
  /** The uploads folder this server made: copies of the browser's files, removed when it stops. */
  let ownUploads: string | null = null;
  const maxUpload = opts.maxUploadBytes ?? MAX_UPLOAD_BYTES;
  /** Files trace.export wrote during this run: the only ones /download sends. */
  const exported = new Set<string>();

  const upload = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    const name = url.searchParams.get('name');
    if (!name) return json(res, 400, { error: 'expected ?name=FILE naming the uploaded capture' });
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > maxUpload) return json(res, 413, { error: `${name} is ${declared} bytes, more than the ${maxUpload} bytes an upload may have; open it by path on the workbench's machine` });
    // Each upload in a folder of its own, so it keeps its name (the header shows it) and never replaces another.
    let path: string;
    try {
      if (uploads === null) uploads = ownUploads = mkdtempSync(join(tmpdir(), 'amp-workbench-uploads-'));
      mkdirSync(uploads, { recursive: true });
      path = join(mkdtempSync(join(uploads, 'upload-')), uploadName(name));
    } catch (e) {
      return json(res, 500, { error: `cannot store the upload: ${errorText(e)}` });
    }
    const file = createWriteStream(path);
    let size = 0;
    let failed = false;
    const fail = (status: number, error: string): void => {
      if (failed) return;
      failed = true;
      req.unpipe(file);
      file.destroy();
      try {
        unlinkSync(path);
      } catch {
        // never created
      }
      json(res, status, { error });
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxUpload) fail(413, `${name} is more than the ${maxUpload} bytes an upload may have; open it by path on the workbench's machine`);
    });
    req.on('aborted', () => fail(400, `the upload of ${name} was interrupted`));
    file.on('error', (e) => fail(500, `cannot store ${name}: ${errorText(e)}`));
    file.on('finish', () => {
      if (!failed) json(res, 200, { path, bytes: size });
    });
    req.pipe(file);
  };

  const download = (res: ServerResponse, url: URL): void => {
    const path = url.searchParams.get('path') ?? '';
    if (!exported.has(path)) return plain(res, 404, `${path || 'that file'} is not an export of this workbench run; only exported files can be downloaded`);
    let size: number;
    try {
      size = statSync(path).size;
    } catch (e) {
      return plain(res, 404, `${path} is gone: ${errorText(e)}`);
    }
    const name = basename(path);
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': size,
      'Content-Disposition': `attachment; filename="${name.replace(/["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`,
    });
    createReadStream(path).on('error', () => res.destroy()).pipe(res);
  };

  const serveFile = async (res: ServerResponse, pathname: string): Promise<void> => {
    if (!staticRoot) {
      plain(res, 404, `no renderer build is served (start with --static DIR); the Workbench API is at ws://${LOOPBACK}:${port}${WS_PATH}`);
      return;
    }
    const r = await readStaticFile(staticRoot, pathname);
    if (!r.ok) {
      plain(res, r.status, r.error);
      return;
    }
    const { body, contentType } = r.value;
    res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': body.length });
    res.end(body);
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
    if (req.method === 'POST' && url.pathname === UPLOAD_PATH) return upload(req, res, url);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      plain(res, 405, `${req.method} is not served; the API is on the WebSocket ${WS_PATH}`);
      return;
    }
    if (url.pathname === DOWNLOAD_PATH) return download(res, url);
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

  /**
   * A client's socket as the RPC core's channel: JSON text each way, and a client that lets too
   * much pile up unsent is dropped rather than buffered without end. Frames that are not JSON text
   * are answered here (the core sees objects only).
   */
  const socketChannel = (ws: WebSocket, remote: string): RpcChannel => {
    const send: RpcChannel['send'] = (message) => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
        log(`dropped client ${remote}: ${ws.bufferedAmount} bytes unsent (it stopped reading)`);
        ws.terminate();
        return;
      }
      ws.send(JSON.stringify(message));
    };
    const refuseFrame = (message: string): void => send({ id: null, error: { code: 'bad-request', message } });
    return {
      send,
      onMessage: (listener) =>
        ws.on('message', (data: RawData, isBinary: boolean) => {
          if (isBinary) return refuseFrame('binary frames are not part of the API; send JSON text {"id", "method", "params"}');
          let msg: unknown;
          try {
            msg = JSON.parse(data.toString());
          } catch (e) {
            // The parser's own text ("Unexpected token…") is for the log, not the reply.
            log(`client ${remote} sent a message that is not JSON: ${errorText(e)}`);
            return refuseFrame('message is not JSON text; expected an object {"id", "method", "params"}');
          }
          listener(msg);
        }),
      onClose: (listener) => ws.on('close', (code: number, reason: Buffer) => listener(reason.length ? reason.toString() : `the client left (code ${code})`)),
    };
  };

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  const clients = new Set<Client>();
  let controller: Client | null = null;

  const setController = (c: Client | null): void => {
    const before = controller;
    controller = c;
    if (before && before !== c) before.rpc.emit({ event: 'control.changed', data: { controller: false } });
    if (c && before !== c) c.rpc.emit({ event: 'control.changed', data: { controller: true } });
  };

  const unsubscribe = opts.backend.onEvent((e) => {
    for (const c of clients) c.events.emit(e);
  });

  const backend = logFailures(async (method, params, signal) => {
    const r = await opts.backend.handle(method, params, signal);
    if (method === 'trace.export' && r.ok) exported.add((r.result as { out: string }).out);
    return r;
  }, log);

  /** Every request: takeControl is the server's own; the rest go to the backend, gated for viewers. */
  const handlerFor = (controls: () => boolean, takeControl: () => void): RpcHandler => {
    const gated = readOnlyGate(backend, controls);
    return (method, params, signal) => {
      if (method !== 'session.takeControl') return gated(method, params, signal);
      takeControl();
      return Promise.resolve({ ok: true, result: { controller: true } });
    };
  };

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    const rpc = serveRpc(
      socketChannel(ws, remote),
      handlerFor(
        () => controller === c,
        () => setController(c),
      ),
      { log: (line) => log(`client ${remote}: ${line}`) },
    );
    const viewerOnly = new URL(req.url ?? '/', `http://${LOOPBACK}`).searchParams.get('viewer') === '1';
    const c: Client = { ws, remote, viewerOnly, rpc, events: coalesceTraceGrowth(rpc.emit, coalesceMs, nodeRuntime) };
    clients.add(c);
    ws.on('error', (e) => log(`client ${remote}: ${e.message}`));
    ws.on('close', () => {
      clients.delete(c);
      c.events.stop();
      if (controller === c) setController([...clients].find((o) => !o.viewerOnly) ?? null);
    });
    if (!controller && !viewerOnly) setController(c);
    else c.rpc.emit({ event: 'control.changed', data: { controller: false } });
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
  const unannounce = opts.announceIn === undefined ? () => undefined : announceSession(opts.announceIn, { port, token });

  return {
    port,
    token,
    url: `http://${LOOPBACK}:${port}/?token=${token}`,
    wsUrl: `ws://${LOOPBACK}:${port}${WS_PATH}?token=${token}`,
    clientCount: () => clients.size,
    async close() {
      unannounce();
      unsubscribe();
      for (const c of clients) {
        c.events.stop();
        c.ws.close(1001, 'workbench shutting down');
      }
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((res) => server.close(() => res()));
      if (ownUploads !== null) rmSync(ownUploads, { recursive: true, force: true });
    },
  };
}
