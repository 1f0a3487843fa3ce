/**
 * Web mode as a browser and an attacker see it: a real ws client against the server (with the real
 * WorkbenchService, or a stand-in backend where the test needs to drive events), over 127.0.0.1.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

import { WorkbenchService } from '../../main/host/service/workbench';
import { startWebServer, WS_PATH, type WebServer } from '../../main/host/web/server';
import type { WorkbenchBackend } from '../../src/api/rpc';
import type { WorkbenchEvent } from '../../src/api/workbench';

let root = '';
let service: WorkbenchService;
let server: WebServer;
const logged: string[] = [];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'amp-web-'));
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>placeholder</title>\n');
  service = new WorkbenchService({ capturesDir: join(root, 'captures') });
  server = await startWebServer({ backend: service, staticDir: root, log: (l) => logged.push(l) });
});

afterAll(async () => {
  await server.close();
  await service.close();
  rmSync(root, { recursive: true, force: true });
});

/** A client: replies by id, events in arrival order. */
class Client {
  private nextId = 1;
  readonly events: WorkbenchEvent[] = [];
  private readonly waiting = new Map<unknown, (m: Record<string, unknown>) => void>();
  private readonly eventWaiters: { name: string; resolve: (e: WorkbenchEvent) => void }[] = [];
  /** Replies that carried no usable id. */
  readonly orphans: Record<string, unknown>[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as Record<string, unknown>;
      if ('event' in m) {
        const e = m as unknown as WorkbenchEvent;
        this.events.push(e);
        const i = this.eventWaiters.findIndex((w) => w.name === e.event);
        if (i >= 0) this.eventWaiters.splice(i, 1)[0]!.resolve(e);
        return;
      }
      const w = this.waiting.get(m['id']);
      if (w) {
        this.waiting.delete(m['id']);
        w(m);
      } else this.orphans.push(m);
    });
  }

  request(method: string, params: unknown = {}): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return this.raw(JSON.stringify({ id, method, params }), id);
  }

  raw(text: string, id: unknown): Promise<Record<string, unknown>> {
    return new Promise((res) => {
      this.waiting.set(id, res);
      this.ws.send(text);
    });
  }

  /** The next event of this name (one already received counts). */
  event(name: string): Promise<WorkbenchEvent> {
    const seen = this.events.find((e) => e.event === name);
    if (seen) return Promise.resolve(seen);
    return new Promise((res) => this.eventWaiters.push({ name, resolve: res }));
  }

  /** The next orphan reply (malformed requests). */
  async orphan(): Promise<Record<string, unknown>> {
    while (this.orphans.length === 0) await new Promise((r) => setTimeout(r, 5));
    return this.orphans.shift()!;
  }

  close(): void {
    this.ws.close();
  }
}

/** Opens a socket; rejects with the HTTP status when the upgrade is refused. */
function open(url: string, headers: Record<string, string> = {}): Promise<Client> {
  return new Promise((res, rej) => {
    const ws = new WebSocket(url, { headers });
    const client = new Client(ws);
    ws.once('open', () => res(client));
    ws.once('unexpected-response', (_req, r) => {
      rej(Object.assign(new Error(`refused with ${r.statusCode}`), { status: r.statusCode }));
      ws.terminate();
    });
    ws.once('error', rej);
  });
}

async function refusedStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  try {
    (await open(url, headers)).close();
  } catch (e) {
    return (e as { status?: number }).status ?? -1;
  }
  return 101;
}

function httpGet(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((res, rej) => {
    get({ host: '127.0.0.1', port: server.port, path, headers }, (r) => {
      let body = '';
      r.on('data', (c: Buffer) => (body += c.toString()));
      r.on('end', () => res({ status: r.statusCode!, headers: r.headers, body }));
    }).on('error', rej);
  });
}

/** Waits until the server has seen every earlier client go (closing is asynchronous). */
async function noClients(): Promise<void> {
  while (server.clientCount() > 0) await new Promise((r) => setTimeout(r, 5));
}

const ws = (query: string) => `ws://127.0.0.1:${server.port}${WS_PATH}${query}`;

describe('web mode: who may connect', () => {
  it('listens on 127.0.0.1 only and refuses to start on any other address', async () => {
    await expect(startWebServer({ backend: service, host: '0.0.0.0' })).rejects.toThrow(/127\.0\.0\.1 only/);
    const other = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal);
    for (const host of ['::1', ...(other ? [other.address] : [])]) {
      const reached = await new Promise<boolean>((res) => {
        const s = connect({ host, port: server.port });
        s.once('connect', () => {
          s.destroy();
          res(true);
        });
        s.once('error', () => res(false));
      });
      expect(reached, host).toBe(false);
    }
  });

  it('refuses a socket without the token, with a wrong token, from a foreign Origin or with a foreign Host', async () => {
    expect(await refusedStatus(ws(''))).toBe(401);
    expect(await refusedStatus(ws('?token=not-the-token'))).toBe(401);
    expect(await refusedStatus(ws(`?token=${server.token}x`))).toBe(401);
    logged.length = 0;
    expect(await refusedStatus(ws(`?token=${server.token}`), { Origin: 'http://evil.example' })).toBe(403);
    expect(logged.some((l) => /refused WebSocket.*Origin/.test(l))).toBe(true);
    expect(await refusedStatus(ws(`?token=${server.token}`), { Origin: `http://127.0.0.1:${server.port + 1}` })).toBe(403);
    expect(await refusedStatus(ws(`?token=${server.token}`), { Host: `rebind.example:${server.port}` })).toBe(403);
    expect(await refusedStatus(`ws://127.0.0.1:${server.port}/other?token=${server.token}`)).toBe(404);
    // The same page on either loopback name is fine.
    expect(await refusedStatus(ws(`?token=${server.token}`), { Origin: `http://localhost:${server.port}`, Host: `localhost:${server.port}` })).toBe(101);
  });

  it('serves files only with the token, sets the cookie and a strict CSP, and keeps paths inside the folder', async () => {
    expect((await httpGet('/')).status).toBe(401);
    expect((await httpGet(`/?token=${server.token}`, { Host: 'evil.example' })).status).toBe(403);
    const page = await httpGet(`/?token=${server.token}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('placeholder');
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain(`connect-src 'self' ws://127.0.0.1:${server.port};`);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    const setCookie = String(page.headers['set-cookie']);
    expect(setCookie).toMatch(/HttpOnly; SameSite=Strict/);
    const cookie = setCookie.split(';')[0]!;
    expect((await httpGet('/index.html', { Cookie: cookie })).status).toBe(200);
    expect((await httpGet('/%2e%2e/%2e%2e/etc/passwd', { Cookie: cookie })).status).toBe(404);
    // The socket accepts the cookie in place of the query token.
    expect(await refusedStatus(ws(''), { Cookie: cookie })).toBe(101);
  });
});

describe('web mode: the API over the socket', () => {
  it('answers malformed JSON, unknown methods and bad params with clear errors, and the connection survives', async () => {
    const c = await open(ws(`?token=${server.token}`));
    c.ws.send('{not json');
    const bad = await c.orphan();
    expect(bad).toMatchObject({ id: null, error: { code: 'bad-request' } });
    // The parser's own text ("Unexpected token…") is for the log, not the reply.
    expect(String((bad['error'] as { message: string }).message)).toBe('message is not JSON text; expected an object {"id", "method", "params"}');
    expect(logged.some((l) => /sent a message that is not JSON: .*JSON/.test(l))).toBe(true);
    expect(await c.raw(JSON.stringify({ id: 'x', method: 'no.such', params: {} }), 'x')).toMatchObject({ id: 'x', error: { code: 'unknown-method' } });
    const r = await c.request('trace.rows', { from: 0, count: 'ten' });
    expect(r['error']).toMatchObject({ code: 'bad-request', field: 'params.count' });
    expect(String((r['error'] as { message: string }).message)).toMatch(/expected a number, saw "ten"/);
    const boards = await c.request('boards.list');
    expect((boards['result'] as { boards: unknown[] }).boards.length).toBeGreaterThan(0);
    c.close();
  });

  it('gives control to the first client; viewers may only read until they take control', async () => {
    await noClients();
    const a = await open(ws(`?token=${server.token}`));
    expect((await a.event('control.changed')).data).toEqual({ controller: true });
    const b = await open(ws(`?token=${server.token}`));
    expect((await b.event('control.changed')).data).toEqual({ controller: false });
    const denied = await b.request('session.connect', {});
    expect(denied['error']).toMatchObject({ code: 'read-only' });
    expect(denied['error']).toMatchObject({ method: 'session.connect' });
    expect(String((denied['error'] as { message: string }).message)).toMatch(/^this window only views the session .* so connecting the board is not allowed here: take control in the header first$/);
    expect((await b.request('session.state'))['result']).toMatchObject({ connected: false });
    a.events.length = 0;
    b.events.length = 0;
    expect((await b.request('session.takeControl'))['result']).toEqual({ controller: true });
    expect((await a.event('control.changed')).data).toEqual({ controller: false });
    expect((await a.request('trace.bookmark', { text: 'x' }))['error']).toMatchObject({ code: 'read-only' });
    // The controller leaves: the remaining client takes over.
    b.events.length = 0;
    a.events.length = 0;
    b.close();
    expect((await a.event('control.changed')).data).toEqual({ controller: true });
    a.close();
  });

  it('lets a viewer watch a live session: stages, device states and coalesced trace growth, then rows', async () => {
    await noClients();
    const ctl = await open(ws(`?token=${server.token}`));
    await ctl.event('control.changed');
    const viewer = await open(ws(`?token=${server.token}`));
    await viewer.event('control.changed');
    const connected = await ctl.request('session.connect', {});
    expect(connected['result']).toMatchObject({ connected: true, bringUpError: null });
    await viewer.event('session.stage');
    await viewer.event('session.device');
    const appended = (await viewer.event('trace.appended')).data as { count: number; total: number };
    expect(appended.count).toBeGreaterThan(0);
    const rows = (await viewer.request('trace.rows', { from: 0, count: 50 }))['result'] as { total: number; rows: { seq: number }[] };
    expect(rows.total).toBeGreaterThanOrEqual(appended.total);
    expect(rows.rows.map((r) => r.seq)).toEqual([...Array(rows.rows.length).keys()]);
    expect((await viewer.request('session.disconnect'))['error']).toMatchObject({ code: 'read-only' });
    expect((await ctl.request('session.disconnect'))['result']).toMatchObject({ capture: expect.any(String) });
    await viewer.event('session.closed');
    ctl.close();
    viewer.close();
  });
});

describe('web mode: internal failures', () => {
  it('logs an internal failure\'s own text and sends the page only the sentence', async () => {
    const error = { code: 'failed', method: 'trace.info', message: 'reading the trace failed: the workbench hit an internal error', detail: 'RangeError: Invalid atomic access index' } as const;
    const backend: WorkbenchBackend = { handle: async () => ({ ok: false, error }), onEvent: () => () => undefined };
    const lines: string[] = [];
    const s = await startWebServer({ backend, log: (l) => lines.push(l) });
    try {
      const c = await open(`ws://127.0.0.1:${s.port}${WS_PATH}?token=${s.token}`);
      expect((await c.request('trace.info'))['error']).toEqual(error);
      expect(lines).toEqual(['trace.info failed: RangeError: Invalid atomic access index']);
      c.close();
    } finally {
      await s.close();
    }
  });
});

describe('web mode: trace growth is coalesced per client', () => {
  it('turns a burst of trace.appended into one event with the summed count', async () => {
    const listeners = new Set<(e: WorkbenchEvent) => void>();
    const backend: WorkbenchBackend = {
      handle: async () => ({ ok: true, result: {} }),
      onEvent: (l) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    };
    const s = await startWebServer({ backend, coalesceMs: 50, log: () => undefined });
    try {
      const c = await open(`ws://127.0.0.1:${s.port}${WS_PATH}?token=${s.token}`);
      await c.event('control.changed');
      for (let i = 1; i <= 1000; i++) for (const l of listeners) l({ event: 'trace.appended', data: { count: 1, total: i } });
      // An event that is not coalesced, sent after the burst, marks where the burst's flush must land.
      const appended = await c.event('trace.appended');
      expect(appended.data).toEqual({ count: 1000, total: 1000 });
      for (const l of listeners) l({ event: 'export.progress', data: { out: '/x', done: 1, total: 1 } });
      await c.event('export.progress');
      expect(c.events.filter((e) => e.event === 'trace.appended')).toHaveLength(1);
      c.close();
    } finally {
      await s.close();
    }
  });
});

describe('amp-workbench serve', () => {
  it('connects the default board, prints the URL with the token, and stops cleanly on SIGINT keeping the capture', async () => {
    const captures = join(root, 'serve-captures');
    const entry = resolve(__dirname, '../../main/host/cli/serve.ts');
    const child = spawn(
      process.execPath,
      ['--require', 'tsx/cjs', '-e', `require(${JSON.stringify(entry)}).cmdServe(process.argv.slice(1)).then((c) => { process.exitCode = c; })`, '--', '--captures', captures],
      { cwd: resolve(__dirname, '../..'), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const url = await new Promise<string>((res, rej) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]+/.exec(out);
        if (m) res(m[0]);
      });
      child.once('exit', (code) => rej(new Error(`serve exited ${code}: ${stderr}`)));
    });
    const u = new URL(url);
    const c = await open(`ws://${u.host}${WS_PATH}?token=${u.searchParams.get('token')}`);
    const state = (await c.request('session.state'))['result'] as { connected: boolean; capture: string; devices: { phase: string }[] };
    expect(state.connected).toBe(true);
    expect(state.devices.every((d) => d.phase === 'ready')).toBe(true);
    c.close();
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const manifest = JSON.parse(readFileSync(join(state.capture, 'capture.json'), 'utf8')) as { journal: { closed?: { records: number } } };
    expect(manifest.journal.closed?.records).toBeGreaterThan(0);
    expect(stderr).toMatch(/connected to sim-qemu-amp-pci/);
  });
});
