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
