/**
 * The desktop bridge seen from the page: calls and events through the preload's
 * `window.ampWorkbench`, trace growth over the MessagePort handed over after the page asked for
 * it, and a fresh port (engine restarted) replacing the old one.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { TRACE_PORT_MESSAGE, type DesktopBridge } from '../../src/api/desktop';
import type { WorkbenchEvent } from '../../src/api/workbench';
import { getApi } from '../../renderer/src/bridge/api';

afterEach(() => {
  delete window.ampWorkbench;
});

function fakeBridge(): { bridge: DesktopBridge; events: ((e: WorkbenchEvent) => void)[]; portRequests: number } {
  const state = { events: [] as ((e: WorkbenchEvent) => void)[], portRequests: 0 };
  const bridge: DesktopBridge = {
    call: async (method) => (method === 'trace.info' ? { ok: true, result: { live: true } } : { ok: false, error: { code: 'failed', message: 'no' } }) as never,
    onEvent: (l) => {
      state.events.push(l);
      return () => undefined;
    },
    requestTracePort: () => void state.portRequests++,
    desktop: { settings: async () => ({}) as never, updateSettings: async () => ({ ok: false, error: 'no' }), onCommand: () => () => undefined, pathForFile: () => '' },
  };
  return Object.assign(state, { bridge });
}

/** Hands the page a port the way the preload does (window.postMessage with the port). */
function handPort(): MessagePort {
  const channel = new MessageChannel();
  window.dispatchEvent(new MessageEvent('message', { source: window, data: { type: TRACE_PORT_MESSAGE }, ports: [channel.port2] }));
  return channel.port1;
}

const tick = () => new Promise((r) => setTimeout(r, 20));

describe('desktop bridge', () => {
  it('asks for the trace port only after listening, and merges port and preload events', async () => {
    const fake = fakeBridge();
    window.ampWorkbench = fake.bridge;
    const api = await getApi();
    expect(api.mode).toBe('electron');
    expect(fake.portRequests).toBe(1);
    const seen: string[] = [];
    api.onEvent((e) => seen.push(`${e.event}:${JSON.stringify(e.data)}`));

    fake.events[0]!({ event: 'session.closed', data: { reason: 'bye', capture: null, lost: false } } as WorkbenchEvent);
    const first = handPort();
    first.postMessage({ event: 'trace.appended', data: { count: 5, total: 5 } });
    await tick();
    // An engine restart brings a new port; the old one is closed and ignored.
    const second = handPort();
    first.postMessage({ event: 'trace.appended', data: { count: 1, total: 6 } });
    second.postMessage({ event: 'trace.appended', data: { count: 9, total: 9 } });
    await tick();

    expect(seen).toEqual(['session.closed:{"reason":"bye","capture":null,"lost":false}', 'trace.appended:{"count":5,"total":5}', 'trace.appended:{"count":9,"total":9}']);
    expect(await api.call('trace.info', {})).toEqual({ ok: true, result: { live: true } });
  });

  it('ignores window messages that are not the preload handing over a port', async () => {
    const fake = fakeBridge();
    window.ampWorkbench = fake.bridge;
    const api = await getApi();
    const seen: unknown[] = [];
    api.onEvent((e) => seen.push(e));
    const channel = new MessageChannel();
    window.dispatchEvent(new MessageEvent('message', { source: window, data: { type: 'something-else' }, ports: [channel.port2] }));
    channel.port1.postMessage({ event: 'trace.appended', data: { count: 1, total: 1 } });
    await tick();
    expect(seen).toEqual([]);
  });
});
