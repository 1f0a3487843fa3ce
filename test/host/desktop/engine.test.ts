/**
 * The desktop engine plumbing without Electron: the engine host (engineHost.ts) and main's RPC
 * client over a worker_threads MessageChannel standing in for the utility process's parentPort —
 * once with the real WorkbenchService on the default simulated board, once with a stand-in
 * backend that drives events exactly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { serveEngine, shutdownEngine, type EngineBackend, type EngineHost } from '../../../main/host/desktop/engineHost';
import { hostChannel, nodePort, type HostPort } from '../../../main/host/desktop/port';
import { WorkbenchService } from '../../../main/host/service/workbench';
import { DEFAULT_BOARD } from '../../../src/boards/builtin';
import { RpcClient, type WorkbenchReply } from '../../../src/api/rpc';
import { WORKBENCH_EVENTS, WORKBENCH_METHODS, type WorkbenchEvent } from '../../../src/api/workbench';

function channel(): { engineSide: HostPort; mainSide: HostPort } {
  const { port1, port2 } = new MessageChannel();
  return { engineSide: nodePort(port1), mainSide: nodePort(port2) };
}

function client(port: HostPort, log?: (line: string) => void): RpcClient {
  return new RpcClient(hostChannel(port, 'the engine process is gone'), log ? { log } : {});
}

/** Events in arrival order, and a way to wait for one that satisfies a test. */
class Events {
  readonly seen: WorkbenchEvent[] = [];
  private waiters: { test: (e: WorkbenchEvent) => boolean; resolve: (e: WorkbenchEvent) => void }[] = [];

  constructor(c: RpcClient) {
    c.onEvent((e) => {
      this.seen.push(e);
      this.waiters = this.waiters.filter((w) => (w.test(e) ? (w.resolve(e), false) : true));
    });
  }

  next(test: (e: WorkbenchEvent) => boolean): Promise<WorkbenchEvent> {
    const seen = this.seen.find(test);
    return seen !== undefined ? Promise.resolve(seen) : new Promise((resolve) => this.waiters.push({ test, resolve }));
  }
}

describe('engine host with the real WorkbenchService on the simulated board', () => {
  let root = '';
  let service: WorkbenchService;
  let host: EngineHost;
  let main: RpcClient;
  let events: Events;
  const logged: string[] = [];

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'amp-desktop-engine-'));
    service = new WorkbenchService({ capturesDir: join(root, 'captures') });
    const { engineSide, mainSide } = channel();
    host = serveEngine(engineSide, service, { coalesceMs: 10, log: (l) => logged.push(l) });
    main = client(mainSide, (l) => logged.push(l));
    events = new Events(main);
    main.onEvent((e) => void WORKBENCH_EVENTS[e.event].parse(e.data));
  });

  afterAll(async () => {
    await service.close();
    rmSync(root, { recursive: true, force: true });
  });

  async function call(method: string, params: unknown = {}): Promise<WorkbenchReply> {
    return main.request(method, params);
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

  it('connects the board and relays session events, and trace growth batched', async () => {
    const r = await call('session.connect', {});
    expect(r.ok).toBe(true);
    const state = WORKBENCH_METHODS['session.connect'].result.parse((r as { result: unknown }).result);
    expect(state.devices.length).toBeGreaterThan(0);
    expect(state.devices.every((d) => d.phase === 'ready')).toBe(true);

    const names = new Set(events.seen.map((e) => e.event));
    expect(names).toContain('session.stage');
    expect(names).toContain('session.device');
    expect(names).toContain('trace.reset');

    // Growth reaches main batched: totals never go back, and main catches up with what
    // trace.info reports in fewer messages than records.
    const work = await call('device.workload', { devNum: state.devices.find((d) => d.deviceType === 'rng')?.devNum ?? 0, kind: 'rng-read', params: { bytes: 16 } });
    expect(work.ok).toBe(true);
    const info = await call('trace.info');
    const count = WORKBENCH_METHODS['trace.info'].result.parse((info as { result: unknown }).result).count;
    await events.next((e) => e.event === 'trace.appended' && e.data.total >= count);
    const appended = events.seen.flatMap((e) => (e.event === 'trace.appended' ? [e.data] : []));
    expect(appended.map((a) => a.total)).toEqual([...appended.map((a) => a.total)].sort((a, b) => a - b));
    expect(appended.length).toBeLessThan(appended.at(-1)!.total);
  });

  it('shuts down: the session ends (session.closed relayed), then the host is done and refuses later requests', async () => {
    await shutdownEngine(main);
    await host.done;
    expect(events.seen.at(-1)).toMatchObject({ event: 'session.closed', data: { reason: 'the workbench is shutting down' } });
    const after = await call('session.state');
    expect(after).toMatchObject({ ok: false, error: { code: 'failed', method: 'session.state', message: 'the engine is shutting down' } });
    expect(logged).toEqual([]);
  });
});

describe('engine host batching and failure handling with a stand-in backend', () => {
  function standIn(): EngineBackend & { emit: (e: WorkbenchEvent) => void; answer: Map<string, (params: unknown) => Promise<WorkbenchReply>> } {
    const listeners = new Set<(e: WorkbenchEvent) => void>();
    const answer = new Map<string, (params: unknown) => Promise<WorkbenchReply>>();
    return {
      answer,
      emit: (e) => listeners.forEach((l) => l(e)),
      handle: (method, params) => answer.get(method as string)?.(params) ?? Promise.resolve({ ok: true, result: { echo: params } }),
      onEvent: (l) => (listeners.add(l), () => listeners.delete(l)),
      close: async () => undefined,
    };
  }

  it('sums a burst of 10,000 appended events into one message to main', async () => {
    const backend = standIn();
    const { engineSide, mainSide } = channel();
    serveEngine(engineSide, backend, { coalesceMs: 5 });
    const main = client(mainSide);
    const events = new Events(main);
    for (let i = 1; i <= 10_000; i++) backend.emit({ event: 'trace.appended', data: { count: 1, total: 500 + i } });
    const m = await events.next(() => true);
    expect(m).toEqual({ event: 'trace.appended', data: { count: 10_000, total: 10_500 } });
    // A later burst is a new message; a reset in between drops the counts of the old trace.
    backend.emit({ event: 'trace.appended', data: { count: 7, total: 10_507 } });
    backend.emit({ event: 'trace.reset', data: {} as never });
    backend.emit({ event: 'trace.appended', data: { count: 3, total: 3 } });
    await events.next((e) => e.event === 'trace.appended' && e !== m);
    expect(events.seen.slice(1)).toEqual([
      { event: 'trace.reset', data: {} },
      { event: 'trace.appended', data: { count: 3, total: 3 } },
    ]);
    await shutdownEngine(main);
  });

  it('gives each request its own reply even when they finish out of order', async () => {
    const backend = standIn();
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    backend.answer.set('trace.stats', async () => (await slow, { ok: true, result: 'slow' }));
    const { engineSide, mainSide } = channel();
    serveEngine(engineSide, backend);
    const main = client(mainSide);
    const first = main.request('trace.stats', {});
    const second = await main.request('trace.info', { n: 2 });
    expect(second).toEqual({ ok: true, result: { echo: { n: 2 } } });
    release();
    expect(await first).toEqual({ ok: true, result: 'slow' });
    await shutdownEngine(main);
  });

  /** An engine whose session.connect never answers, and a connect request open on it. */
  async function hanging(): Promise<{ engineSide: HostPort; main: RpcClient; open: Promise<WorkbenchReply> }> {
    const backend = standIn();
    backend.answer.set('session.connect', () => new Promise(() => undefined));
    const { engineSide, mainSide } = channel();
    serveEngine(engineSide, backend);
    const main = client(mainSide);
    const open = main.request('session.connect', {});
    await main.request('boards.list', {});
    return { engineSide, main, open };
  }

  it('answers open and later requests with the reason when the engine process dies', async () => {
    const { engineSide, main, open } = await hanging();
    main.close('the engine process exited with code 3; it was restarted, connect the board again');
    expect(await open).toEqual({
      ok: false,
      error: { code: 'failed', method: 'session.connect', message: 'the engine process exited with code 3; it was restarted, connect the board again' },
    });
    expect(await main.request('trace.info', {})).toMatchObject({ ok: false, error: { code: 'failed' } });
    engineSide.close();
  });

  it('a closed port answers what is open with the reason its binding gives', async () => {
    const { engineSide, open } = await hanging();
    engineSide.close();
    expect(await open).toEqual({ ok: false, error: { code: 'failed', method: 'session.connect', message: 'the engine process is gone' } });
  });

  it('answers messages that are not requests with an error value and logs them, instead of acting on them', async () => {
    const logged: string[] = [];
    const { engineSide, mainSide } = channel();
    serveEngine(engineSide, standIn(), { log: (l) => logged.push(l) });
    const replies: unknown[] = [];
    mainSide.onMessage((m) => replies.push(m));
    const main = client(mainSide);
    mainSide.post({ id: { one: 1 }, method: 'boards.list' });
    mainSide.post('hello');
    await main.request('boards.list', {});
    expect(logged).toEqual(['ignored a message that is not an object: "hello"']);
    expect(replies.slice(0, 2)).toEqual([
      { id: null, error: { code: 'bad-request', field: 'id', message: 'expected "id" to be a number or a string the reply will carry, saw {"one":1}' } },
      { id: null, error: { code: 'bad-request', message: 'expected an object {"id", "method", "params"}, saw "hello"' } },
    ]);
    await shutdownEngine(main);
  });
});
