// @vitest-environment node
/**
 * The page's engine client in web mode against a real WebSocket server speaking the server's wire
 * shape. Node environment with the page's globals the client uses stood in (jsdom's WebSocket and
 * Node's events do not mix): `ws` as WebSocket, an address bar, and reportError collecting.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket as NodeWebSocket, WebSocketServer, type WebSocket as ServerSocket } from 'ws';

import { connectWebSocketApi, type LinkState } from '../../renderer/src/engine/api';

const reported: unknown[] = [];
let address = 'http://127.0.0.1:1234/?token=secret#x';
beforeAll(() => {
  Object.assign(globalThis, {
    WebSocket: NodeWebSocket,
    reportError: (e: unknown) => reported.push(e),
    location: {
      get href() {
        return address;
      },
      host: '127.0.0.1:1234',
    },
    history: { state: null, replaceState: (_s: unknown, _t: string, url: string) => (address = new URL(url, address).href) },
  });
});

let wss: WebSocketServer | null = null;
afterEach(async () => {
  await new Promise((r) => wss?.close(r) ?? r(undefined));
  wss = null;
});

/** A server answering every request with its method and params echoed; returns its socket list. */
async function echoServer(): Promise<{ url: string; sockets: ServerSocket[] }> {
  const sockets: ServerSocket[] = [];
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss!.once('listening', r));
  wss.on('connection', (ws) => {
    sockets.push(ws);
    ws.send(JSON.stringify({ event: 'control.changed', data: { controller: true } }));
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as { id: number; method: string; params: unknown };
      if (m.method === 'trace.info') return; // never answered
      ws.send(JSON.stringify(m.method === 'device.reset' ? { id: m.id, error: { code: 'no-session', message: 'no board' } } : { id: m.id, result: { echo: m.method, params: m.params } }));
    });
  });
  const { port } = wss.address() as { port: number };
  return { url: `ws://127.0.0.1:${port}/ws`, sockets };
}

describe('connectWebSocketApi', () => {
  it('pairs replies with requests by id, fans events out and remembers who controls', async () => {
    const { url, sockets } = await echoServer();
    const api = await connectWebSocketApi(url);
    const [a, b] = await Promise.all([api.call('session.state', {}), api.call('trace.rows', { from: 5, count: 10 })]);
    expect(a).toEqual({ ok: true, result: { echo: 'session.state', params: {} } });
    expect(b).toEqual({ ok: true, result: { echo: 'trace.rows', params: { from: 5, count: 10 } } });
    expect(await api.call('device.reset', { devNum: 0 })).toEqual({ ok: false, error: { code: 'no-session', message: 'no board' } });
    await expect.poll(() => api.controlling()).toBe(true);

    const seen: string[] = [];
    const off = api.onEvent((e) => seen.push(e.event));
    api.onEvent(() => {
      throw new Error('a broken listener');
    });
    sockets[0]!.send(JSON.stringify({ event: 'trace.appended', data: { count: 3, total: 3 } }));
    await expect.poll(() => seen).toEqual(['trace.appended']);
    expect(reported.map((e) => (e as Error).message)).toEqual(['a broken listener']);
    off();
    // Connected: the token left the address bar (the cookie carries it from now on).
    expect(address).toBe('http://127.0.0.1:1234/#x');
  });

  it('fails what is pending when the link drops, then reconnects', async () => {
    const { url, sockets } = await echoServer();
    const api = await connectWebSocketApi(url);
    const states: LinkState['state'][] = [];
    api.onLink((s) => states.push(s.state));
    const pending = api.call('trace.info', {});
    await expect.poll(() => sockets.length).toBe(1);
    sockets[0]!.close(1011, 'engine restarting');
    const r = await pending;
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.message).toContain('engine restarting');
    // Until the link is back a call fails at once, saying so in words; the method is for programs.
    const meanwhile = await api.call('device.reset', { devNum: 0 });
    expect(meanwhile).toMatchObject({ ok: false, error: { code: 'failed', method: 'device.reset' } });
    expect(!meanwhile.ok && meanwhile.error.message).toMatch(/^not connected to the workbench \(the workbench closed the link: engine restarting; reconnecting in .*\); wait for the link to come back or reload the page$/);
    await expect.poll(() => states, { timeout: 5000 }).toEqual(['reconnecting', 'open']);
    expect(await api.call('session.state', {})).toEqual({ ok: true, result: { echo: 'session.state', params: {} } });
  });

  it('rejects with what to try when the first connection is refused', async () => {
    const { url } = await echoServer();
    await new Promise((r) => wss!.close(r));
    await expect(connectWebSocketApi(url)).rejects.toThrow(/Open the exact URL `amp-workbench serve` printed/);
  });
});
