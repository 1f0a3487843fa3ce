import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';

import { ConnectView } from '../../renderer/src/views/connect/ConnectView';
import { fakeApi, ok } from './fakeApi';
import { BOARDS, sessionState } from './fixtures';

afterEach(cleanup);

describe('ConnectView: the Monitor choice', () => {
  it('connects as a monitor with the link given, and as the driver by default', async () => {
    const api = fakeApi({
      'boards.list': () => ok({ boards: BOARDS }),
      'session.state': () => ok(sessionState([], { connected: false, board: null, link: null, capture: null })),
      'session.connect': () => ({ ok: false, error: { code: 'failed', method: 'session.connect', message: 'monitoring failed: no such file' } }),
    });
    render(<ConnectView api={api} />);
    const row = (await screen.findByText('versal-vek280')).closest('tr')!;
    fireEvent.click(within(row).getByRole('button', { name: 'Connect' }));
    await waitFor(() => expect(api.callsOf('session.connect')).toHaveLength(1));
    fireEvent.click(screen.getByRole('radio', { name: /^Monitor: watch the board's own driver and device, read-only/ }));
    fireEvent.change(screen.getByPlaceholderText('sim, shm-file:FILE, serial:PORT@BAUD, pci[:BDF]'), { target: { value: 'shm-file:/dev/shm/amp0' } });
    fireEvent.click(within(row).getByRole('button', { name: 'Connect' }));
    await waitFor(() => expect(api.callsOf('session.connect')).toHaveLength(2));
    expect(api.callsOf('session.connect')).toEqual([{ board: 'versal-vek280' }, { board: 'versal-vek280', link: 'shm-file:/dev/shm/amp0', role: 'monitor' }]);
  });
});
