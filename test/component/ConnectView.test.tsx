import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';

import { ConnectView } from '../../renderer/src/views/connect/ConnectView';
import { fakeApi, ok } from './fakeApi';
import { BOARDS, device, sessionState } from './fixtures';

afterEach(cleanup);

const BROKEN = '{\n  "schema": "amp-board-profile/0",\n  "id": "x",\n  "bus": {"format": "nope"}\n}\n';

describe('ConnectView', () => {
  it('shows each profile error at its field and under the line it points at', async () => {
    const api = fakeApi({
      'boards.list': () => ok({ boards: BOARDS }),
      'session.state': () => ok(sessionState([], { connected: false, board: null, link: null, capture: null })),
      'profile.validate': () =>
        ok({
          valid: false,
          errors: [
            { field: 'bus.format', message: 'expected one of "spsc-v0", "spsc-v1", saw "nope"', line: 4, column: 21 },
            { field: 'hostRole', message: 'expected one of "driver", "device", saw nothing', line: 1, column: 1 },
          ],
        }),
    });
    render(<ConnectView api={api} />);
    const input = screen.getByLabelText('Profile file');
    fireEvent.change(input, { target: { files: [new File([BROKEN], 'broken.json', { type: 'application/json' })] } });

    const item = await waitFor(() => {
      const el = document.querySelector('[data-field="bus.format"]');
      expect(el).not.toBeNull();
      return el as HTMLElement;
    });
    expect(item.textContent).toContain('bus.format');
    expect(item.textContent).toContain('line 4:21');
    expect(item.textContent).toContain('saw "nope"');
    // The annotation sits under source line 4, the one with "format": "nope".
    const line = document.querySelector('[data-field-at-line="bus.format"]')!.parentElement!;
    expect(line.textContent).toContain('"format": "nope"');
    expect(line.querySelector('.src-no')!.textContent).toBe('4');
    expect(document.querySelector('[data-field="hostRole"]')!.textContent).toContain('line 1:1');
    expect(api.callsOf('profile.validate')).toEqual([{ text: BROKEN, fileName: 'broken.json' }]);
    expect(screen.queryByText('Connect with this profile')).toBeNull();
  });

  it('connects to the default simulated board in one click, showing the handshake stages', async () => {
    let finish: (() => void) | null = null;
    const api = fakeApi({
      'boards.list': () => ok({ boards: BOARDS }),
      'session.state': () => ok(sessionState([], { connected: false, board: null, link: null, capture: null })),
      'session.connect': () =>
        new Promise((res) => {
          finish = () => res(ok({ ...sessionState([device()]), bringUpError: null }));
        }),
    });
    let connected = 0;
    render(<ConnectView api={api} onConnected={() => connected++} />);
    const button = await screen.findByRole('button', { name: 'Connect to simulated board (sim-qemu-amp-pci)' });
    fireEvent.click(button);
    await waitFor(() => expect(finish).not.toBeNull());
    expect(api.callsOf('session.connect')).toEqual([{ board: 'sim-qemu-amp-pci' }]);
    api.emit({ event: 'session.stage', data: { stage: 'layout-written', detail: 'queue layout at 0x0' } });
    api.emit({ event: 'session.stage', data: { stage: 'peer-wait', detail: 'waiting for the device side' } });
    const progress = await screen.findByRole('region', { name: 'Attach progress' });
    await within(progress).findByText('waiting for the device side');
    expect(within(progress).getByText('Connecting to sim-qemu-amp-pci…')).toBeTruthy();
    finish!();
    await waitFor(() => expect(connected).toBe(1));
    expect(screen.getByTestId('connected-board').textContent).toBe('sim-qemu-amp-pci');
  });

  it('says what to try when connecting fails', async () => {
    const api = fakeApi({
      'boards.list': () => ok({ boards: BOARDS }),
      'session.state': () => ok(sessionState([], { connected: false })),
      'session.connect': () => ({ ok: false, error: { code: 'failed', method: 'session.connect', message: 'connecting to versal-vek280 failed: no /dev/uio0' } }),
    });
    render(<ConnectView api={api} />);
    const row = (await screen.findByText('versal-vek280')).closest('tr')!;
    fireEvent.click(within(row).getByRole('button', { name: 'Connect' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('no /dev/uio0');
    expect(alert.textContent).toContain('Connect to the simulated board to check the workbench itself.');
  });
});

describe('ConnectView: hardware, switching and recent captures', () => {
  const RECENT = {
    folder: '/var/captures',
    captures: [
      { path: '/var/captures/2026-12-07T21-40-00-sim-qemu-amp-pci', board: 'sim-qemu-amp-pci', link: 'sim', startMs: Date.UTC(2026, 11, 7, 21, 40), records: 1532 },
      { path: '/var/captures/2026-12-07T21-00-00-sim-versal', board: 'sim-versal', link: 'sim', startMs: Date.UTC(2026, 11, 7, 21, 0), records: null },
    ],
  };

  it('says which hardware is present and why not', async () => {
    const api = fakeApi({ 'boards.list': () => ok({ boards: BOARDS }), 'session.state': () => ok(sessionState([], { connected: false })), 'capture.recent': () => ok(RECENT) });
    render(<ConnectView api={api} />);
    const versal = (await screen.findByText('versal-vek280')).closest('tr')!;
    expect(versal.querySelector('[data-presence]')!.getAttribute('data-presence')).toBe('absent');
    expect(within(versal).getByText('not found')).toBeTruthy();
    expect(within(versal).getByText('no PCI function 10ee:9038 in /sys/bus/pci/devices')).toBeTruthy();
    const sim = document.querySelector<HTMLElement>('tr[data-board="sim-qemu-amp-pci"]')!;
    expect(within(sim).getByText('present')).toBeTruthy();
  });

  it('switches boards without a manual disconnect: the session ends, then the other board connects', async () => {
    const api = fakeApi({
      'boards.list': () => ok({ boards: BOARDS }),
      'session.state': () => ok(sessionState([device()])),
      'capture.recent': () => ok(RECENT),
      'session.disconnect': () => ok({ capture: '/var/captures/x', records: 10 }),
      'session.connect': () => ok({ ...sessionState([]), board: 'versal-vek280', bringUpError: null }),
    });
    let connected = 0;
    render(<ConnectView api={api} onConnected={() => connected++} />);
    await screen.findByTestId('connected-board');
    await screen.findByText('versal-vek280');
    const current = document.querySelector<HTMLElement>('tr[data-board="sim-qemu-amp-pci"]')!;
    const same = within(current).getByRole('button', { name: 'Connected' }) as HTMLButtonElement;
    expect(same.disabled).toBe(true);
    expect(same.title).toBe('connected to sim-qemu-amp-pci now');
    const row = screen.getByText('versal-vek280').closest('tr')!;
    const sw = within(row).getByRole('button', { name: 'Switch' });
    expect(sw.title).toBe('Connect to versal-vek280 (ends the session on sim-qemu-amp-pci; its capture stays on disk)');
    fireEvent.click(sw);
    await waitFor(() => expect(connected).toBe(1));
    expect(api.calls.map((c) => c.method).filter((m) => m.startsWith('session.') && m !== 'session.state')).toEqual(['session.disconnect', 'session.connect']);
  });

  it('lists recent captures and opens one, or a file from this computer (uploaded in web mode)', async () => {
    const uploaded: string[] = [];
    const api = Object.assign(
      fakeApi({
        'boards.list': () => ok({ boards: BOARDS }),
        'session.state': () => ok(sessionState([], { connected: false })),
        'capture.recent': () => ok(RECENT),
        'capture.open': (p) => ok({ source: 'file' as const, path: p.path, count: 1532, dropped: 0, board: 'sim-qemu-amp-pci', revision: null, queueFormat: null, link: 'sim', startMonoNs: '0', startWallNs: '0', firstNs: 0, lastNs: 1, notes: [], residentBytes: 0, residentLimit: 1 }),
      }),
      { files: { upload: async (f: File) => (uploaded.push(f.name), { ok: true as const, value: `/srv/up/${f.name}` }), downloadHref: (p: string) => p } },
    );
    const opened: string[] = [];
    render(<ConnectView api={api} onOpened={(i) => opened.push(i.path)} />);
    const recent = await screen.findByRole('region', { name: 'Recent captures' });
    const rows = await within(recent).findAllByRole('row');
    expect(rows).toHaveLength(3);
    expect(within(rows[1]!).getByText('1,532')).toBeTruthy();
    expect(within(rows[2]!).getByText('not closed')).toBeTruthy();
    fireEvent.click(within(rows[1]!).getByRole('button', { name: 'Open' }));
    await waitFor(() => expect(opened).toEqual([RECENT.captures[0]!.path]));
    fireEvent.change(within(recent).getByLabelText('Capture file'), { target: { files: [new File(['{}'], 'bench.jsonl')] } });
    await waitFor(() => expect(opened).toEqual([RECENT.captures[0]!.path, '/srv/up/bench.jsonl']));
    expect(uploaded).toEqual(['bench.jsonl']);
    expect(api.callsOf('session.disconnect')).toEqual([]);
  });

  it('disables connecting in a viewer window, saying why', async () => {
    const why = 'This window only views the session: take control in the header first.';
    const api = fakeApi({ 'boards.list': () => ok({ boards: BOARDS }), 'session.state': () => ok(sessionState([], { connected: false })), 'capture.recent': () => ok(RECENT) });
    render(<ConnectView api={api} blocked={why} />);
    const big = await screen.findByRole('button', { name: 'Connect to simulated board (sim-qemu-amp-pci)' });
    expect((big as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByRole('note').textContent).toBe(why);
    for (const b of screen.getAllByRole('button', { name: 'Connect' })) expect((b as HTMLButtonElement).title).toBe(why);
    for (const b of screen.getAllByRole('button', { name: 'Open' })) expect((b as HTMLButtonElement).disabled).toBe(true);
  });
});
