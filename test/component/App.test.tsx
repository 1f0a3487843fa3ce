import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { App } from '../../renderer/src/App';
import type { EngineApi } from '../../renderer/src/engine/api';
import { filterCommands } from '../../renderer/src/ui/CommandPalette';
import { fakeApi, ok } from './fakeApi';
import { device, sessionState } from './fixtures';

// jsdom has no matchMedia: the system theme asks it whether the desktop is dark, and uPlot (in
// the Timeline view) asks it when imported, so the stub goes in before the imports.
vi.hoisted(() => {
  window.matchMedia = ((query: string) => ({ matches: false, media: query, addEventListener: () => undefined, removeEventListener: () => undefined })) as unknown as typeof window.matchMedia;
});
afterEach(() => {
  cleanup();
  localStorage.clear();
});

function engineApi(): EngineApi & ReturnType<typeof fakeApi> {
  const api = fakeApi({
    'session.state': () => ok(sessionState([device()])),
    'trace.stats': () => ({ ok: false, error: { code: 'no-session', message: 'no trace yet' } }),
  });
  return Object.assign(api, { mode: 'web' as const, link: () => ({ state: 'open' as const, detail: 'connected' }), onLink: () => () => undefined, controlling: () => true });
}

describe('App shell', () => {
  it('switches views with the keys 1–5 and shows the board in the header', async () => {
    render(<App api={engineApi()} />);
    expect((await screen.findByTestId('header-board')).textContent).toBe('sim-qemu-amp-pci');
    fireEvent.keyDown(window, { key: '2' });
    expect(screen.getByRole('tab', { name: 'Devices' }).getAttribute('aria-selected')).toBe('true');
    await screen.findByRole('region', { name: 'Device 0' });
    fireEvent.keyDown(window, { key: '3' });
    expect(screen.getByRole('tab', { name: 'Queues' }).getAttribute('aria-selected')).toBe('true');
  });

  it('runs a command from the palette (Ctrl+K) and keeps the theme chosen', async () => {
    render(<App api={engineApi()} />);
    await screen.findByTestId('header-board');
    fireEvent.keyDown(window, { key: 'k', ctrlKey: true });
    const palette = screen.getByRole('dialog', { name: 'Command palette' });
    const input = within(palette).getByRole('textbox', { name: 'Command' });
    fireEvent.change(input, { target: { value: 'theme dark' } });
    expect(within(palette).getAllByRole('option').map((o) => o.textContent)).toEqual(['Theme: dark']);
    fireEvent.keyDown(input, { key: 'Enter' });
    expect(screen.queryByRole('dialog', { name: 'Command palette' })).toBeNull();
    expect(document.documentElement.dataset.theme).toBe('dark');
    expect(localStorage.getItem('amp-workbench.theme')).toBe('dark');
  });

  it('counts problems and messages in the status bar from trace events', async () => {
    const api = engineApi();
    render(<App api={api} />);
    await screen.findByTestId('header-board');
    await act(async () => api.emit({ event: 'trace.appended', data: { count: 40, total: 40 } }));
    // The rate shows on the next one-second tick; the record total follows the event at once there too.
    await screen.findByText('40 msg/s', undefined, { timeout: 2500 });
    expect(screen.getByTestId('status-records').textContent).toBe('40 records');
  });

  it('says why when the session is lost under the user, not when the user disconnects', async () => {
    const api = engineApi();
    render(<App api={api} />);
    await screen.findByTestId('header-board');
    const banner = () => document.querySelector('.app-notice');
    await act(async () => api.emit({ event: 'session.closed', data: { reason: 'disconnected by the user', capture: '/c', lost: false } }));
    expect(banner()).toBeNull();
    const reason = 'lost the board: the board stopped its side of the bus (peer queue head dropped from RUN to INIT). The trace so far is kept; connect again when the board is back';
    await act(async () => api.emit({ event: 'session.closed', data: { reason, capture: '/c', lost: true } }));
    expect(within(banner() as HTMLElement).getByRole('alert').textContent).toBe(reason);
    fireEvent.click(within(banner() as HTMLElement).getByRole('button', { name: 'Dismiss' }));
    expect(banner()).toBeNull();
  });

  it('filters commands by every word typed', () => {
    const cmds = ['Go to Trace', 'Theme: dark', 'Export the trace…'].map((title) => ({ id: title, title, run: () => undefined }));
    expect(filterCommands(cmds, 'trace').map((c) => c.title)).toEqual(['Go to Trace', 'Export the trace…']);
    expect(filterCommands(cmds, 'exp TRACE').map((c) => c.title)).toEqual(['Export the trace…']);
    expect(filterCommands(cmds, '').length).toBe(3);
  });

  it('opens a capture dropped on the window in the desktop app, and explains why not in web mode', async () => {
    const web = engineApi();
    render(<App api={web} />);
    await screen.findByTestId('header-board');
    const file = new File(['x'], 'session.pcapng');
    const drop = () => fireEvent.drop(document.querySelector('.app')!, { dataTransfer: { types: ['Files'], files: [file] } });
    drop();
    expect(await screen.findByText(/Web mode opens captures on the server machine only/)).toBeTruthy();
    expect(web.callsOf('capture.open')).toEqual([]);
    cleanup();

    const desktop = Object.assign(engineApi(), { mode: 'electron' as const });
    desktop.calls.length = 0;
    const handlers = desktop.call.bind(desktop);
    desktop.call = (async (method: string, params: unknown) =>
      method === 'capture.open' ? (desktop.calls.push({ method: 'capture.open', params }), ok({ live: false, path: '/captures/session.pcapng' })) : handlers(method as never, params as never)) as typeof desktop.call;
    window.ampWorkbench = { desktop: { pathForFile: (f: { name: string }) => `/captures/${f.name}`, onCommand: () => () => undefined } } as unknown as NonNullable<typeof window.ampWorkbench>;
    try {
      render(<App api={desktop} />);
      await screen.findByTestId('header-board');
      drop();
      await act(async () => undefined);
      expect(desktop.callsOf('capture.open')).toEqual([{ path: '/captures/session.pcapng' }]);
      expect(screen.getByRole('tab', { name: 'Trace' }).getAttribute('aria-selected')).toBe('true');
    } finally {
      delete window.ampWorkbench;
    }
  });
});
