/**
 * The RPC core (src/api/rpc.ts) over real transports: a worker_threads MessageChannel through the
 * HostPort binding, and a WebSocket to the web server — request and reply, errors as values,
 * events, cancellation reaching the handler's signal, a closing channel failing what is open, and
 * trace growth coalesced.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

import { hostChannel, nodePort } from '../../main/host/desktop/port';
import { nodeRuntime } from '../../main/host/runtime';
import { WorkbenchService } from '../../main/host/service/workbench';
import { startWebServer, WS_PATH } from '../../main/host/web/server';
import { coalesceTraceGrowth, readOnlyGate, RpcClient, serveRpc, type CancelSignal, type RpcChannel, type RpcHandler, type WorkbenchBackend } from '../../src/api/rpc';
import type { WorkbenchEvent } from '../../src/api/workbench';
import { benchRecorder, workingDevice } from '../bench/busTraffic';

/** A server and a client over one real MessageChannel. */
function overPorts(handler: RpcHandler, log: (line: string) => void = () => undefined): { client: RpcClient; emit: (e: WorkbenchEvent) => void; closeServerSide: () => void } {
  const { port1, port2 } = new MessageChannel();
  const serverPort = nodePort(port1);
  const server = serveRpc(hostChannel(serverPort, 'the client went away'), handler, { log });
  const client = new RpcClient(hostChannel(nodePort(port2), 'the engine process is gone'));
  return { client, emit: server.emit, closeServerSide: () => serverPort.close() };
}

/** Resolves when `signal` fires, with the time it took. */
function aborted(signal: CancelSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', resolve)));
}

describe('RPC core over a MessageChannel', () => {
  it('pairs each reply with its request, whatever order they finish in', async () => {
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const { client } = overPorts(async (method, params) => {
      if (method === 'trace.stats') await slow;
      return { ok: true, result: { method, params } };
    });
    const first = client.request('trace.stats', { filter: 'dev == 1' });
    expect(await client.request('trace.info', {})).toEqual({ ok: true, result: { method: 'trace.info', params: {} } });
    release();
    expect(await first).toEqual({ ok: true, result: { method: 'trace.stats', params: { filter: 'dev == 1' } } });
  });

  it('carries an error as a value, unchanged; a handler that throws answers a sentence and logs its own text', async () => {
    const error = { code: 'no-session', method: 'device.reset', message: 'no board is connected; connect a board first' } as const;
    const logged: string[] = [];
    const { client } = overPorts(async (method) => {
      if (method === 'trace.info') throw new TypeError("Cannot read properties of undefined (reading 'count')");
      return { ok: false, error };
    }, (l) => logged.push(l));
    expect(await client.request('device.reset', { devNum: 9 })).toEqual({ ok: false, error });
    const broke = await client.request('trace.info', {});
    expect(broke).toEqual({ ok: false, error: { code: 'failed', method: 'trace.info', message: 'the workbench hit an internal error; its log has the details' } });
    expect(logged).toEqual([`"trace.info" threw instead of answering: Cannot read properties of undefined (reading 'count')`]);
  });

  it('delivers events in order to every listener; one that throws does not stop the others', async () => {
    const { client, emit } = overPorts(async () => ({ ok: true, result: null }));
    const seen: string[] = [];
    client.onEvent(() => {
      throw new Error('a broken listener');
    });
    const off = client.onEvent((e) => seen.push(e.event));
    emit({ event: 'session.stage', data: { stage: 'link', detail: 'open' } });
    emit({ event: 'export.progress', data: { out: '/x', done: 1, total: 2 } });
    await client.request('session.state', {});
    expect(seen).toEqual(['session.stage', 'export.progress']);
    off();
    emit({ event: 'session.stage', data: { stage: 'link', detail: 'again' } });
    await client.request('session.state', {});
    expect(seen).toHaveLength(2);
  });

  it("sends the caller's cancel to the handler's signal, and answers what the handler made of it", async () => {
    const { client } = overPorts(async (_method, _params, signal) => {
      await aborted(signal!);
      return { ok: false, error: { code: 'cancelled', message: 'export to /tmp/x.pcapng was cancelled after 2,000 of 9,000 records; no file was written' } };
    });
    const abort = new AbortController();
    const call = client.request('trace.export', { format: 'pcapng', out: '/tmp/x.pcapng' }, abort.signal);
    abort.abort();
    expect(await call).toMatchObject({ ok: false, error: { code: 'cancelled' } });
    // A signal fired before the call still reaches the handler.
    const before = new AbortController();
    before.abort();
    expect(await client.request('trace.export', {}, before.signal)).toMatchObject({ ok: false, error: { code: 'cancelled' } });
  });

  it('a cancel after the reply changes nothing', async () => {
    let signals = 0;
    const { client } = overPorts(async (_m, _p, signal) => {
      signal!.addEventListener('abort', () => signals++);
      return { ok: true, result: 'done' };
    });
    const abort = new AbortController();
    expect(await client.request('trace.info', {}, abort.signal)).toEqual({ ok: true, result: 'done' });
    abort.abort();
    expect(await client.request('trace.info', {})).toEqual({ ok: true, result: 'done' });
    expect(signals).toBe(0);
  });

  it('fails what is open, and every later call, with the reason when the channel closes', async () => {
    const { client, closeServerSide } = overPorts(() => new Promise(() => undefined));
    const open = [client.request('session.connect', {}), client.request('trace.info', {})];
    closeServerSide();
    expect(await Promise.all(open)).toEqual([
      { ok: false, error: { code: 'failed', method: 'session.connect', message: 'the engine process is gone' } },
      { ok: false, error: { code: 'failed', method: 'trace.info', message: 'the engine process is gone' } },
    ]);
    expect(client.closed).toBe('the engine process is gone');
    expect(await client.request('boards.list', {})).toEqual({ ok: false, error: { code: 'failed', method: 'boards.list', message: 'the engine process is gone' } });
  });

  it('answers a request its channel cannot carry with an error value, never a rejection', async () => {
    const logged: string[] = [];
    const { port2 } = new MessageChannel();
    const client = new RpcClient(hostChannel(nodePort(port2), ''), { log: (l) => logged.push(l) });
    expect(await client.request('trace.rows', { filter: () => 'not cloneable' })).toEqual({
      ok: false,
      error: { code: 'failed', method: 'trace.rows', message: 'the request could not be sent to the workbench; its log has the details' },
    });
    expect(logged).toEqual([expect.stringMatching(/^sending trace\.rows failed: .*could not be cloned/)]);
  });

  it('gives up waiting after the timeout with the caller\'s words, and ignores the late reply', async () => {
    let release!: () => void;
    const late = new Promise<void>((r) => (release = r));
    const { port1, port2 } = new MessageChannel();
    serveRpc(hostChannel(nodePort(port1), ''), async () => (await late, { ok: true, result: 'late' }));
    const logged: string[] = [];
    const client = new RpcClient(hostChannel(nodePort(port2), ''), {
      log: (l) => logged.push(l),
      timeout: { ms: () => 20, text: (m, ms) => `no reply to ${m} within ${ms} ms`, runtime: nodeRuntime },
    });
    expect(await client.request('trace.info', {})).toEqual({ ok: false, error: { code: 'failed', method: 'trace.info', message: 'no reply to trace.info within 20 ms' } });
    release();
    await expect.poll(() => logged).toEqual(['a reply to no open request (id 1)']);
  });
});

describe('wrappers', () => {
  it('coalesces a burst of trace growth into one event with the summed count; a reset drops what waits', async () => {
    const sent: WorkbenchEvent[] = [];
    const events = coalesceTraceGrowth((e) => sent.push(e), 10, nodeRuntime);
    for (let i = 1; i <= 1000; i++) events.emit({ event: 'trace.appended', data: { count: 1, total: i } });
    events.emit({ event: 'export.progress', data: { out: '/x', done: 1, total: 1 } });
    expect(sent.map((e) => e.event)).toEqual(['export.progress']);
    await expect.poll(() => sent.length).toBe(2);
    expect(sent[1]).toEqual({ event: 'trace.appended', data: { count: 1000, total: 1000 } });
    events.emit({ event: 'trace.appended', data: { count: 5, total: 1005 } });
    events.emit({ event: 'trace.reset', data: {} as never });
    await new Promise((r) => setTimeout(r, 30));
    expect(sent.slice(2)).toEqual([{ event: 'trace.reset', data: {} }]);
    events.emit({ event: 'trace.appended', data: { count: 2, total: 2 } });
    events.stop();
    await new Promise((r) => setTimeout(r, 30));
    expect(sent).toHaveLength(3);
  });

  it('refuses what a viewer may not do, in words, and passes reads and unknown methods on', async () => {
    let controls = false;
    const handler = readOnlyGate(async (method) => ({ ok: true, result: method }), () => controls);
    expect(await handler('device.reset', { devNum: 1 })).toEqual({
      ok: false,
      error: { code: 'read-only', method: 'device.reset', message: 'this window only views the session (another window controls it), so resetting the device is not allowed here: take control in the header first' },
    });
    expect(await handler('trace.rows', {})).toEqual({ ok: true, result: 'trace.rows' });
    expect(await handler('no.such', {})).toEqual({ ok: true, result: 'no.such' });
    controls = true;
    expect(await handler('device.reset', {})).toEqual({ ok: true, result: 'device.reset' });
  });
});

/** The RPC core's client over a `ws` socket: the binding a Node program would write. */
function wsChannel(ws: WebSocket): RpcChannel {
  return {
    send: (m) => ws.send(JSON.stringify(m)),
    onMessage: (l) => ws.on('message', (d) => l(JSON.parse(String(d)))),
    onClose: (l) => ws.on('close', (code, reason) => l(reason.length ? `the workbench closed the link: ${String(reason)}` : `the link dropped (code ${code})`)),
  };
}

async function connect(url: string, onEvent: (e: WorkbenchEvent) => void = () => undefined): Promise<{ client: RpcClient; ws: WebSocket }> {
  const ws = new WebSocket(url);
  const client = new RpcClient(wsChannel(ws));
  client.onEvent(onEvent);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return { client, ws };
}

describe('RPC core over the web server\'s WebSocket', () => {
  const root = mkdtempSync(join(tmpdir(), 'amp-rpc-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('cancels a running handler, delivers events and fails what is open when the server goes', async () => {
    const listeners = new Set<(e: WorkbenchEvent) => void>();
    const started: string[] = [];
    const backend: WorkbenchBackend = {
      async handle(method, _params, signal) {
        started.push(String(method));
        if (method === 'session.connect') return new Promise(() => undefined);
        await aborted(signal!);
        return { ok: false, error: { code: 'cancelled', message: 'the export was cancelled' } };
      },
      onEvent: (l) => (listeners.add(l), () => listeners.delete(l)),
    };
    const server = await startWebServer({ backend, coalesceMs: 5, log: () => undefined });
    const events: WorkbenchEvent[] = [];
    const { client } = await connect(`ws://127.0.0.1:${server.port}${WS_PATH}?token=${server.token}`, (e) => events.push(e));

    const abort = new AbortController();
    const exporting = client.request('trace.export', {}, abort.signal);
    await expect.poll(() => started).toEqual(['trace.export']);
    abort.abort();
    expect(await exporting).toEqual({ ok: false, error: { code: 'cancelled', message: 'the export was cancelled' } });

    for (const l of listeners) for (let i = 1; i <= 100; i++) l({ event: 'trace.appended', data: { count: 2, total: 2 * i } });
    await expect.poll(() => events.filter((e) => e.event === 'trace.appended')).toEqual([{ event: 'trace.appended', data: { count: 200, total: 200 } }]);
    expect(events[0]).toEqual({ event: 'control.changed', data: { controller: true } });

    const open = client.request('session.connect', {});
    await expect.poll(() => started).toContain('session.connect');
    await server.close();
    expect(await open).toEqual({ ok: false, error: { code: 'failed', method: 'session.connect', message: 'the workbench closed the link: workbench shutting down' } });
  });

  it("cancels the service's trace.export through the caller's signal: the export stops and leaves no file", async () => {
    // 400,000 messages: the export runs for many slices, so it is still running when the cancel
    // sent at its first progress report (100,000 records in) arrives.
    const capture = join(root, 'big');
    const { journal, rec } = benchRecorder(capture);
    const traffic = workingDevice(50_000);
    for (let round = 0; round < 2; round++) for (const [dir, bytes] of traffic) rec.message(dir, bytes);
    rec.close();
    journal.close(0n);
    const service = new WorkbenchService({ capturesDir: join(root, 'captures') });
    const server = await startWebServer({ backend: service, log: () => undefined });
    try {
      const abort = new AbortController();
      const { client, ws } = await connect(`ws://127.0.0.1:${server.port}${WS_PATH}?token=${server.token}`, (e) => {
        if (e.event === 'export.progress') abort.abort();
      });
      expect(await client.request('capture.open', { path: capture })).toMatchObject({ ok: true });
      const out = join(root, 'cancelled.pcapng');
      const r = await client.request('trace.export', { format: 'pcapng', out }, abort.signal);
      expect(abort.signal.aborted).toBe(true);
      expect(r).toMatchObject({ ok: false, error: { code: 'cancelled', method: 'trace.export' } });
      expect(!r.ok && r.error.message).toMatch(/was cancelled after .* records; no file was written$/);
      expect(existsSync(out) || existsSync(`${out}.partial`)).toBe(false);
      // The next export is not refused as busy: the cancelled one is gone.
      expect(await client.request('trace.cancelExport', {})).toMatchObject({ ok: false, error: { code: 'not-found' } });
      ws.close();
    } finally {
      await server.close();
      await service.close();
    }
  });
});
