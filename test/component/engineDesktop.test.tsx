/**
 * The page's engine client in the desktop app: it asks the preload for its port only after
 * listening for it, then calls and events travel over that MessagePort (the RPC core), here
 * served by a stand-in for main.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { ENGINE_PORT_MESSAGE, type DesktopPreload } from '../../src/api/desktop';
import { serveRpc, type RpcChannel, type RpcHandler, type RpcServer } from '../../src/api/rpc';
import { getApi } from '../../renderer/src/engine/api';

afterEach(() => {
  delete window.ampWorkbench;
});

function served(port: MessagePort, handler: RpcHandler): RpcServer {
  const channel: RpcChannel = {
    send: (m) => port.postMessage(m),
    onMessage: (l) => {
      port.onmessage = (e) => l(e.data);
    },
    onClose: () => undefined,
  };
  return serveRpc(channel, handler);
}

/** Hands the page a port the way the preload does (window.postMessage with the port). */
function handPort(type: string, handler: RpcHandler): RpcServer {
  const channel = new MessageChannel();
  window.dispatchEvent(new MessageEvent('message', { source: window, data: { type }, ports: [channel.port2] }));
  return served(channel.port1, handler);
}

/** A preload that answers requestPort at once, as main does, with `before` handed over first. */
function fakePreload(handler: RpcHandler, before: () => void = () => undefined): { preload: DesktopPreload; servers: RpcServer[] } {
  const servers: RpcServer[] = [];
  const preload: DesktopPreload = {
    requestPort: () => {
      before();
      servers.push(handPort(ENGINE_PORT_MESSAGE, handler));
    },
    desktop: { settings: async () => ({}) as never, updateSettings: async () => ({ ok: false, error: 'no' }), onCommand: () => () => undefined, pathForFile: () => '' },
  };
  return { preload, servers };
}

const answer: RpcHandler = async (method, params) =>
  method === 'device.reset' ? { ok: false, error: { code: 'no-session', method, message: 'no board is connected; connect a board first' } } : { ok: true, result: { method, params } };

describe('engine client in the desktop app', () => {
  it('asks for the port only after listening, then calls and hears events over it', async () => {
    const fake = fakePreload(answer);
    window.ampWorkbench = fake.preload;
    const api = await getApi();
    expect(api.mode).toBe('electron');
    expect(api.controlling()).toBe(true);
    expect(fake.servers).toHaveLength(1);

    expect(await api.call('trace.rows', { from: 0, count: 5 })).toEqual({ ok: true, result: { method: 'trace.rows', params: { from: 0, count: 5 } } });
    expect(await api.call('device.reset', { devNum: 1 })).toEqual({ ok: false, error: { code: 'no-session', method: 'device.reset', message: 'no board is connected; connect a board first' } });

    const seen: string[] = [];
    api.onEvent((e) => seen.push(`${e.event}:${JSON.stringify(e.data)}`));
    fake.servers[0]!.emit({ event: 'session.closed', data: { reason: 'bye', capture: null, lost: false } });
    fake.servers[0]!.emit({ event: 'trace.appended', data: { count: 5, total: 5 } });
    await expect.poll(() => seen).toEqual(['session.closed:{"reason":"bye","capture":null,"lost":false}', 'trace.appended:{"count":5,"total":5}']);
  });

  it('ignores window messages that are not the preload handing over its port', async () => {
    let foreignCalls = 0;
    const fake = fakePreload(answer, () =>
      handPort('something-else', async () => {
        foreignCalls++;
        return { ok: true, result: 'foreign' };
      }),
    );
    window.ampWorkbench = fake.preload;
    const api = await getApi();
    expect(await api.call('trace.info', {})).toEqual({ ok: true, result: { method: 'trace.info', params: {} } });
    expect(foreignCalls).toBe(0);
  });
});
