/**
 * The desktop engine plumbing without Electron: the engine host loop (engineHost.ts) and main's
 * client (engineClient.ts) over worker_threads MessageChannels standing in for the utility
 * process's parentPort and the page's trace MessageChannel — once with the real WorkbenchService
 * on the default simulated board, once with a stand-in backend that drives events exactly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { EngineClient } from '../../../main/host/desktop/engineClient';
import { serveEngine, type EngineBackend, type EngineHost, type EngineReply } from '../../../main/host/desktop/engineHost';
import { nodePort, type HostPort } from '../../../main/host/desktop/port';
import { WorkbenchService } from '../../../main/host/service/workbench';
import { DEFAULT_BOARD } from '../../../src/boards/builtin';
import { WORKBENCH_EVENTS, WORKBENCH_METHODS, type WorkbenchEvent } from '../../../src/api/workbench';

/** A page's end of a trace port: every message, and a way to wait for one that satisfies a test. */
class PageEnd {
  readonly messages: unknown[] = [];
  private waiters: { test: (m: unknown) => boolean; resolve: (m: unknown) => void }[] = [];

  constructor(readonly port: HostPort) {
    port.onMessage((m) => {
      this.messages.push(m);
      this.waiters = this.waiters.filter((w) => (w.test(m) ? (w.resolve(m), false) : true));
    });
  }

  next(test: (m: unknown) => boolean): Promise<unknown> {
    const seen = this.messages.find(test);
    return seen !== undefined ? Promise.resolve(seen) : new Promise((resolve) => this.waiters.push({ test, resolve }));
  }
}

function channel(): { engineSide: HostPort; mainSide: HostPort } {
  const { port1, port2 } = new MessageChannel();
  return { engineSide: nodePort(port1), mainSide: nodePort(port2) };
}

function tracePort(client: EngineClient): PageEnd {
  const { port1, port2 } = new MessageChannel();
  client.attachTracePort(nodePort(port1));
  return new PageEnd(nodePort(port2));
}

describe('engine host with the real WorkbenchService on the simulated board', () => {
  let root = '';
  let service: WorkbenchService;
  let host: EngineHost;
  let client: EngineClient;
  let page: PageEnd;
  const events: WorkbenchEvent[] = [];
  const logged: string[] = [];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'amp-desktop-engine-'));
    service = new WorkbenchService({ capturesDir: join(root, 'captures') });
    const { engineSide, mainSide } = channel();
    host = serveEngine(engineSide, service, { coalesceMs: 10, log: (l) => logged.push(l) });
    client = new EngineClient(mainSide, (l) => logged.push(l));
    client.onEvent((e) => {
      WORKBENCH_EVENTS[e.event].parse(e.data);
      events.push(e);
    });
    await client.ready;
    page = tracePort(client);
  });

  afterAll(async () => {
    await service.close();
    page.port.close();
    rmSync(root, { recursive: true, force: true });
  });

  async function call(method: string, params: unknown = {}): Promise<EngineReply> {
    return client.request(method, params);
  }

  it('answers a request with the method result', async () => {
    const r = await call('boards.list');
    expect(r.ok).toBe(true);
    const boards = WORKBENCH_METHODS['boards.list'].result.parse((r as { result: unknown }).result).boards;
    expect(boards.find((b) => b.default)?.id).toBe(DEFAULT_BOARD);
  });

  it('validates again on the engine side: a bad field comes back as an error naming it', async () => {
    const r = await call('device.reset', { devNum: 'zero' });
    expect(r).toMatchObject({ ok: false, error: { code: 'bad-request', field: 'params.devNum' } });
  });

  it('connects the board, relays session events on the control channel and trace growth on the trace port only', async () => {
    const r = await call('session.connect', {});
    expect(r.ok).toBe(true);
    const state = WORKBENCH_METHODS['session.connect'].result.parse((r as { result: unknown }).result);
    expect(state.devices.length).toBeGreaterThan(0);
    expect(state.devices.every((d) => d.phase === 'ready')).toBe(true);

    const names = new Set(events.map((e) => e.event));
    expect(names).toContain('session.stage');
    expect(names).toContain('session.device');
    expect(names).toContain('trace.reset');
    expect(names).not.toContain('trace.appended');

    // Growth reaches the page batched: every message is a trace.appended, totals never go back,
    // and the page catches up with what trace.info reports.
    const work = await call('device.workload', { devNum: state.devices.find((d) => d.deviceType === 'rng')?.devNum ?? 0, kind: 'rng-read', params: { bytes: 16 } });
    expect(work.ok).toBe(true);
    const info = await call('trace.info');
    const count = WORKBENCH_METHODS['trace.info'].result.parse((info as { result: unknown }).result).count;
    await page.next((m) => (m as WorkbenchEvent).event === 'trace.appended' && (m as { data: { total: number } }).data.total >= count);
    const appended = page.messages.map((m) => WORKBENCH_EVENTS['trace.appended'].parse((m as WorkbenchEvent).data));
    expect(page.messages.every((m) => (m as WorkbenchEvent).event === 'trace.appended')).toBe(true);
    expect(appended.map((a) => a.total)).toEqual([...appended.map((a) => a.total)].sort((a, b) => a - b));
    expect(appended.length).toBeLessThan(appended.at(-1)!.total);
  });

  it('shuts down: the session ends (session.closed relayed), then the host reports closed', async () => {
    await client.shutdown();
    await host.done;
    expect(events.at(-1)).toMatchObject({ event: 'session.closed', data: { reason: 'the workbench is shutting down' } });
    const after = await call('session.state');
    expect(after).toMatchObject({ ok: false, error: { code: 'failed', method: 'session.state', message: 'the engine is shutting down' } });
    expect(logged).toEqual([]);
  });
});

describe('engine host batching and failure handling with a stand-in backend', () => {
  function standIn(): EngineBackend & { emit: (e: WorkbenchEvent) => void; answer: Map<string, (params: unknown) => Promise<EngineReply>> } {
    const listeners = new Set<(e: WorkbenchEvent) => void>();
    const answer = new Map<string, (params: unknown) => Promise<EngineReply>>();
    return {
      answer,
      emit: (e) => listeners.forEach((l) => l(e)),
      handle: (method, params) => answer.get(method as string)?.(params) ?? Promise.resolve({ ok: true, result: { echo: params } }),
      onEvent: (l) => (listeners.add(l), () => listeners.delete(l)),
      close: async () => undefined,
    };
  }

  it('sums a burst of 10,000 appended events into one trace-port message', async () => {
    const backend = standIn();
    const { engineSide, mainSide } = channel();
    serveEngine(engineSide, backend, { coalesceMs: 5 });
    const client = new EngineClient(mainSide);
    await client.ready;
    const page = tracePort(client);
    // The port reaches the engine with the next control message: a round trip proves it arrived.
    await client.request('session.state', {});
    for (let i = 1; i <= 10_000; i++) backend.emit({ event: 'trace.appended', data: { count: 1, total: 500 + i } });
    const m = await page.next(() => true);
    expect(m).toEqual({ event: 'trace.appended', data: { count: 10_000, total: 10_500 } });
    // A later burst is a new message; a reset in between drops the counts of the old trace.
    backend.emit({ event: 'trace.appended', data: { count: 7, total: 10_507 } });
    backend.emit({ event: 'trace.reset', data: {} as never });
    backend.emit({ event: 'trace.appended', data: { count: 3, total: 3 } });
    const second = await page.next((x) => x !== m);
    expect(second).toEqual({ event: 'trace.appended', data: { count: 3, total: 3 } });
    page.port.close();
    await client.shutdown();
  });

  it('gives each request its own reply even when they finish out of order', async () => {
    const backend = standIn();
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    backend.answer.set('trace.stats', async () => (await slow, { ok: true, result: 'slow' }));
    const { engineSide, mainSide } = channel();
    serveEngine(engineSide, backend);
    const client = new EngineClient(mainSide);
    const first = client.request('trace.stats', {});
    const second = await client.request('trace.info', { n: 2 });
    expect(second).toEqual({ ok: true, result: { echo: { n: 2 } } });
    release();
    expect(await first).toEqual({ ok: true, result: 'slow' });
    await client.shutdown();
  });

  it('answers open and later requests with the reason when the engine process dies', async () => {
    const backend = standIn();
    backend.answer.set('session.connect', () => new Promise(() => undefined));
    const { engineSide, mainSide } = channel();
    serveEngine(engineSide, backend);
    const client = new EngineClient(mainSide);
    const open = client.request('session.connect', {});
    await client.request('boards.list', {});
    client.fail('the engine process exited with code 3; it was restarted, connect the board again');
    expect(await open).toEqual({
      ok: false,
      error: { code: 'failed', method: 'session.connect', message: 'the engine process exited with code 3; it was restarted, connect the board again' },
    });
    expect(await client.request('trace.info', {})).toMatchObject({ ok: false, error: { code: 'failed' } });
    await client.shutdown();
    engineSide.close();
  });

  it('logs control messages that are not part of the framing instead of acting on them', async () => {
    const logged: string[] = [];
    const { engineSide, mainSide } = channel();
    serveEngine(engineSide, standIn(), { log: (l) => logged.push(l) });
    const client = new EngineClient(mainSide);
    mainSide.post({ type: 'request', id: 'one', method: 'boards.list' });
    mainSide.post('hello');
    await client.request('boards.list', {});
    expect(logged).toHaveLength(2);
    expect(logged[0]).toMatch(/^ignored a control message that is not \{type: "request" \| "trace-port" \| "shutdown"\}/);
    await client.shutdown();
  });
});
