/**
 * Web mode's file routes: a capture uploaded from the browser's machine opens with capture.open,
 * and a file trace.export wrote downloads back (no other file does). Real server and service.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { WorkbenchService } from '../../main/host/service/workbench';
import { startWebServer, uploadName, type WebServer } from '../../main/host/web/server';

let root = '';
let service: WorkbenchService;
let server: WebServer;
let capture = '';

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'amp-webfiles-'));
  service = new WorkbenchService({ capturesDir: join(root, 'captures') });
  server = await startWebServer({ backend: service, staticDir: null, uploadsDir: join(root, 'uploads'), maxUploadBytes: 1 << 20, log: () => undefined });
  const c = await service.handle('session.connect', {});
  if (!c.ok) throw new Error(c.error.message);
  const d = await service.handle('session.disconnect', {});
  if (!d.ok) throw new Error(d.error.message);
  capture = (d.result as { capture: string }).capture;
}, 30_000);

afterAll(async () => {
  await server.close();
  await service.close();
  rmSync(root, { recursive: true, force: true });
});

function http(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, method, path, headers: { Cookie: `amp_workbench_${server.port}=${server.token}`, ...headers } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(parts), headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('web mode files', () => {
  it('stores an uploaded capture that capture.open then opens', async () => {
    const jsonl = join(root, 'session.jsonl');
    const ex = await service.handle('capture.open', { path: capture });
    expect(ex.ok).toBe(true);
    const w = await service.handle('trace.export', { format: 'jsonl', out: jsonl });
    if (!w.ok) throw new Error(w.error.message);
    const up = await http('POST', `/upload?name=${encodeURIComponent('../my session.jsonl')}`, readFileSync(jsonl));
    expect(up.status).toBe(200);
    const { path } = JSON.parse(up.body.toString()) as { path: string };
    expect(path.startsWith(join(root, 'uploads'))).toBe(true);
    expect(path).toMatch(/\/upload-[^/]+\/my_session\.jsonl$/);
    const opened = await service.handle('capture.open', { path });
    expect(opened).toMatchObject({ ok: true, result: { count: (w.result as { written: number }).written } });
    expect((await service.handle('session.state', {})) as unknown).toMatchObject({ result: { source: 'capture', capture: path } });
  });

  it('refuses an upload without the token, without a name, or over the size limit', async () => {
    expect((await http('POST', '/upload?name=x.jsonl', Buffer.from('{}'), { Cookie: '' })).status).toBe(401);
    expect((await http('POST', '/upload', Buffer.from('{}'))).status).toBe(400);
    const big = await http('POST', '/upload?name=big.jsonl', Buffer.alloc((1 << 20) + 1));
    expect(big.status).toBe(413);
    expect(JSON.parse(big.body.toString()).error).toMatch(/^big\.jsonl is \d+ bytes, more than the 1048576 bytes an upload may have/);
  });

  it('downloads what trace.export wrote through the server, and nothing else', async () => {
    // Only exports that went through the server's socket are known to it: run one over HTTP's sibling, the socket.
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(server.wsUrl);
    await new Promise((r) => ws.once('open', r));
    const out = join(root, 'down.csv');
    const reply = new Promise<Record<string, unknown>>((r) =>
      ws.on('message', (m) => {
        const msg = JSON.parse(m.toString()) as Record<string, unknown>;
        if (msg['id'] === 1) r(msg);
      }),
    );
    ws.send(JSON.stringify({ id: 1, method: 'trace.export', params: { format: 'csv', out } }));
    expect((await reply)['result']).toMatchObject({ out });
    ws.close();
    const got = await http('GET', `/download?path=${encodeURIComponent(out)}`);
    expect(got.status).toBe(200);
    expect(got.body.equals(readFileSync(out))).toBe(true);
    expect(String(got.headers['content-disposition'])).toBe(`attachment; filename="down.csv"; filename*=UTF-8''down.csv`);
    writeFileSync(join(root, 'secret.txt'), 'no');
    const refused = await http('GET', `/download?path=${encodeURIComponent(join(root, 'secret.txt'))}`);
    expect(refused.status).toBe(404);
    expect(refused.body.toString()).toMatch(/is not an export of this workbench run/);
  });

  it('keeps uploads in a folder of its own that it removes when it stops', async () => {
    const own = await startWebServer({ backend: service, staticDir: null, log: () => undefined });
    const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: own.port, method: 'POST', path: '/upload?name=a.jsonl', headers: { Cookie: `amp_workbench_${own.port}=${own.token}` } },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        },
      );
      req.on('error', reject);
      req.end('{}');
    });
    expect(r.status).toBe(200);
    const { path } = JSON.parse(r.body) as { path: string };
    expect(existsSync(path)).toBe(true);
    await own.close();
    expect(existsSync(path)).toBe(false);
  });

  it('names stored uploads safely', () => {
    expect(uploadName('../../etc/passwd')).toBe('passwd');
    expect(uploadName('...hidden')).toBe('hidden');
    expect(uploadName('a b;c.pcapng')).toBe('a_b_c.pcapng');
    expect(uploadName('')).toBe('capture');
  });
});
