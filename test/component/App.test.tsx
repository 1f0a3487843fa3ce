import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { App, editable } from '../../renderer/src/App';
import { linkDetail } from '../../renderer/src/ui/linkDetail';
import type { EngineApi } from '../../renderer/src/engine/api';
import { filterCommands, modifierKey } from '../../renderer/src/ui/CommandPalette';
import { fakeApi, ok, type Handlers } from './fakeApi';
import { BOARDS, device, sessionState, traceInfo } from './fixtures';

// jsdom has no matchMedia: the system theme asks it whether the desktop is dark, and uPlot (in
// the Timeline view) asks it when imported, so the stub goes in before the imports.
vi.hoisted(() => {
  window.matchMedia = ((query: string) => ({ matches: false, media: query, addEventListener: () => undefined, removeEventListener: () => undefined })) as unknown as typeof window.matchMedia;
});
afterEach(() => {
  cleanup();
  localStorage.clear();
});

const INFO = traceInfo({ source: 'file', path: '/captures/bring-up.jsonl', count: 1234, board: 'sim-versal', lastNs: 1e9, residentLimit: 1 });

function engineApi(handlers: Handlers = {}, over: Partial<EngineApi> = {}): EngineApi & ReturnType<typeof fakeApi> {
  const api = fakeApi({
    'session.state': () => ok(sessionState([device()])),
    'trace.stats': () => ({ ok: false, error: { code: 'no-session', message: 'no trace yet' } }),
    'trace.info': () => ok({ ...INFO, source: 'live' as const, path: '/tmp/cap', board: 'sim-qemu-amp-pci' }),
    'boards.list': () => ok({ boards: BOARDS }),
    ...handlers,
  });
  return Object.assign(api, {
    mode: 'web' as const,
    files: null,
    link: () => ({ state: 'open' as const, detail: 'connected' }),
    onLink: () => () => undefined,
    controlling: () => true,
    ...over,
  });
}

async function palette(text: string): Promise<HTMLElement> {
  fireEvent.keyDown(window, { key: 'k', ctrlKey: true });
  const p = screen.getByRole('dialog', { name: 'Command palette' });
  fireEvent.change(within(p).getByRole('textbox', { name: 'Command' }), { target: { value: text } });
  return p;
}

const options = (p: HTMLElement): string[] => within(p).queryAllByRole('option').map((o) => o.textContent ?? '');

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

  it('opens a capture dropped on the window: uploaded first in web mode, by its path in the desktop app', async () => {
    const uploaded: string[] = [];
    const web = engineApi(
      { 'capture.open': () => ok(INFO) },
      {
        files: {
          upload: async (f: File) => (uploaded.push(f.name), { ok: true as const, value: `/uploads/1-${f.name}` }),
          downloadHref: (p: string) => `/download?path=${p}`,
        },
      },
    );
    render(<App api={web} />);
    await screen.findByTestId('header-board');
    const file = new File(['x'], 'session.pcapng');
    const drop = () => fireEvent.drop(document.querySelector('.app')!, { dataTransfer: { types: ['Files'], files: [file] } });
    drop();
    await waitFor(() => expect(web.callsOf('capture.open')).toEqual([{ path: '/uploads/1-session.pcapng' }]));
    expect(uploaded).toEqual(['session.pcapng']);
    await waitFor(() => expect(screen.getByRole('tab', { name: 'Trace' }).getAttribute('aria-selected')).toBe('true'));
    cleanup();

    const desktop = engineApi({ 'capture.open': () => ok(INFO) }, { mode: 'electron' as const });
    window.ampWorkbench = { desktop: { pathForFile: (f: { name: string }) => `/captures/${f.name}`, onCommand: () => () => undefined } } as unknown as NonNullable<typeof window.ampWorkbench>;
    try {
      render(<App api={desktop} />);
      await screen.findByTestId('header-board');
      drop();
      await waitFor(() => expect(desktop.callsOf('capture.open')).toEqual([{ path: '/captures/session.pcapng' }]));
      await waitFor(() => expect(screen.getByRole('tab', { name: 'Trace' }).getAttribute('aria-selected')).toBe('true'));
    } finally {
      delete window.ampWorkbench;
    }
  });

  it('says the board once in the header, and an opened capture says what it is', async () => {
    render(<App api={engineApi()} />);
    const header = (await screen.findByTestId('header-board')).closest('header')!;
    expect(header.textContent!.split('sim-qemu-amp-pci').length - 1).toBe(1);
    expect(within(header).getByText('(simulated, device side in a worker thread)')).toBeTruthy();
    expect(linkDetail('versal-vek280 at PCI 0000:03:00.0, polling', 'versal-vek280')).toBe('at PCI 0000:03:00.0, polling');
    cleanup();

    // A monitor session says so, and does not offer the driver's requests.
    render(<App api={engineApi({ 'session.state': () => ok(sessionState([device()], { role: 'monitor' })) })} />);
    await screen.findByText('monitor (read-only)');
    const m = await palette('reset device');
    expect(options(m)).toEqual(['Reset device 0 (entropy source) — A monitor session only watches the bus: it sends nothing.']);
    cleanup();

    const api = engineApi({
      'session.state': () => ok(sessionState([], { connected: false, source: 'capture', board: null, link: null, capture: '/captures/bring-up.jsonl' })),
      'trace.info': () => ok(INFO),
    });
    render(<App api={api} />);
    await waitFor(() => expect(screen.getByTestId('header-board').textContent).toBe('bring-up.jsonl'));
    const head = screen.getByTestId('header-board').closest('header')!;
    await within(head).findByText('recorded on sim-versal · 1,234 records · read-only');
    expect(within(head).getByText('capture')).toBeTruthy();
    expect(screen.getByTestId('status-link').textContent).toBe('capture bring-up.jsonl (read-only)');
    // Live-only commands say why they cannot run on a capture, and do nothing.
    const p = await palette('bookmark before reset');
    expect(options(p)[0]).toBe('Add bookmark “before reset” — An opened capture is read-only: connect a board for a live session.');
    fireEvent.keyDown(within(p).getByRole('textbox'), { key: 'Enter' });
    expect(api.callsOf('trace.bookmark')).toEqual([]);
  });

  it('keeps the view keys working after a checkbox click, not while typing', async () => {
    render(<App api={engineApi()} />);
    await screen.findByTestId('header-board');
    const box = document.createElement('input');
    box.type = 'checkbox';
    document.body.appendChild(box);
    box.focus();
    fireEvent.keyDown(box, { key: '4' });
    expect(screen.getByRole('tab', { name: 'Trace' }).getAttribute('aria-selected')).toBe('true');
    const text = document.createElement('input');
    document.body.appendChild(text);
    fireEvent.keyDown(text, { key: '2' });
    expect(screen.getByRole('tab', { name: 'Trace' }).getAttribute('aria-selected')).toBe('true');
    expect(editable(box)).toBe(false);
    expect(editable(text)).toBe(true);
    box.remove();
    text.remove();
  });

  it('makes the tabs one Tab stop, moved with the arrow keys and Home', async () => {
    render(<App api={engineApi()} />);
    await screen.findByTestId('header-board');
    const tabs = screen.getAllByRole('tab');
    expect(tabs.map((t) => t.tabIndex)).toEqual(tabs.map((_, i) => (i === 0 ? 0 : -1)));
    fireEvent.keyDown(tabs[0]!, { key: 'ArrowRight' });
    expect(screen.getByRole('tab', { name: 'Devices' }).getAttribute('aria-selected')).toBe('true');
    expect(document.activeElement).toBe(screen.getByRole('tab', { name: 'Devices' }));
    expect(screen.getByRole('tab', { name: 'Devices' }).tabIndex).toBe(0);
    fireEvent.keyDown(document.activeElement!, { key: 'ArrowRight' });
    expect(screen.getByRole('tab', { name: 'Queues' }).getAttribute('aria-selected')).toBe('true');
    fireEvent.keyDown(document.activeElement!, { key: 'ArrowLeft' });
    expect(document.activeElement).toBe(screen.getByRole('tab', { name: 'Devices' }));
    fireEvent.keyDown(document.activeElement!, { key: 'Home' });
    expect(tabs[0]!.getAttribute('aria-selected')).toBe('true');
    expect(screen.getByRole('tabpanel', { name: 'Connect' })).toBeTruthy();
  });

  it('runs the richer palette: go to record, bookmark, reset, workload, connect to a named board', async () => {
    const api = engineApi({
      'trace.bookmark': () => ok({ seq: 77 }),
      'device.reset': () => ok({ device: device() }),
      'device.workload': () => ok({ kind: 'rng-read' as const, devNum: 0, succeeded: true, error: null, latencyUs: 41.6, reads: ['00'] }),
      'session.disconnect': () => ok({ capture: '/tmp/cap', records: 10 }),
      'session.connect': () => ok({ ...sessionState([]), board: 'versal-vek280', bringUpError: null }),
    });
    render(<App api={api} />);
    await screen.findByTestId('header-board');
    expect(screen.getByRole('button', { name: /^Commands/ }).textContent).toBe(`Commands ${modifierKey()}K`);

    let p = await palette('go to record 120');
    expect(options(p)[0]).toBe('Go to record 120');
    fireEvent.keyDown(within(p).getByRole('textbox'), { key: 'Enter' });
    expect(screen.getByRole('tab', { name: 'Trace' }).getAttribute('aria-selected')).toBe('true');

    p = await palette('bookmark the fault');
    fireEvent.keyDown(within(p).getByRole('textbox'), { key: 'Enter' });
    await screen.findByText('Bookmark “the fault” added as record 77');
    expect(api.callsOf('trace.bookmark')).toEqual([{ text: 'the fault' }]);

    p = await palette('reset device 0');
    expect(options(p)).toEqual(['Reset device 0 (entropy source)']);
    fireEvent.keyDown(within(p).getByRole('textbox'), { key: 'Enter' });
    await waitFor(() => expect(api.callsOf('device.reset')).toEqual([{ devNum: 0 }]));

    p = await palette('run rng-read');
    fireEvent.keyDown(within(p).getByRole('textbox'), { key: 'Enter' });
    await screen.findByText('rng-read on device 0 succeeded in 42 µs');
    expect(api.callsOf('device.workload')).toEqual([{ devNum: 0, kind: 'rng-read', params: { bytes: 16 } }]);

    // The board connected now is not offered again; another one switches in one step.
    p = await palette('connect to sim-qemu');
    expect(options(p)).toEqual(['Connect to sim-qemu-amp-pci (simulated) — connected to sim-qemu-amp-pci now']);
    fireEvent.keyDown(within(p).getByRole('textbox'), { key: 'Escape' });
    p = await palette('connect to versal');
    fireEvent.keyDown(within(p).getByRole('textbox'), { key: 'Enter' });
    await waitFor(() => expect(api.callsOf('session.connect')).toEqual([{ board: 'versal-vek280' }]));
    expect(api.calls.map((c) => c.method).filter((m) => m === 'session.disconnect' || m === 'session.connect')).toEqual(['session.disconnect', 'session.connect']);
    expect(modifierKey('MacIntel')).toBe('⌘');
    expect(modifierKey('Linux x86_64')).toBe('Ctrl+');
  });

  it('disables what a viewer or a lost link cannot do, saying why, and shows Export in the header', async () => {
    const api = engineApi({}, { controlling: () => false });
    render(<App api={api} />);
    await screen.findByTestId('header-board');
    const exportButton = screen.getByRole('button', { name: 'Export…' });
    await waitFor(() => expect((exportButton as HTMLButtonElement).disabled).toBe(true));
    expect(exportButton.title).toBe('This window only views the session: take control in the header first.');
    expect(screen.getByText('viewer (read-only)')).toBeTruthy();
    const p = await palette('disconnect');
    expect(options(p)).toEqual(['Disconnect the board — This window only views the session: take control in the header first.']);
    fireEvent.keyDown(within(p).getByRole('textbox'), { key: 'Enter' });
    expect(api.callsOf('session.disconnect')).toEqual([]);
    cleanup();

    const lost = engineApi({}, { link: () => ({ state: 'reconnecting' as const, detail: 'the link to the workbench dropped (code 1006); reconnecting in 1 s', attempt: 1 }) });
    render(<App api={lost} />);
    await screen.findByTestId('header-board');
    expect((screen.getByRole('button', { name: 'Open capture…' }) as HTMLButtonElement).title).toBe(
      'The workbench is not reachable (the link to the workbench dropped (code 1006); reconnecting in 1 s).',
    );
  });

  it('shows the new trace\'s count at once after a reconnect, not the last session\'s', async () => {
    const api = engineApi();
    render(<App api={api} />);
    await screen.findByTestId('header-board');
    await act(async () => api.emit({ event: 'trace.appended', data: { count: 5000, total: 5000 } }));
    await act(async () => api.emit({ event: 'trace.reset', data: { ...INFO, source: 'live', count: 3 } }));
    expect(screen.getByTestId('status-records').textContent).toBe('3 records');
  });
});
