import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';

import type { LoadProgress, SessionStateJson } from '../../src/api/workbench';
import { WORKLOADS } from '../../src/devices/registry';
import { toHex } from '../../src/util/hex';
import { DevicesView } from '../../renderer/src/views/devices/DevicesView';
import { fakeApi, ok } from './fakeApi';
import { device, sessionState } from './fixtures';

afterEach(cleanup);

const I2C = device({
  devNum: 1,
  deviceId: 34,
  deviceType: 'i2c',
  deviceName: 'I2C adapter',
  status: 0x4f,
  statusNames: ['ACKNOWLEDGE', 'DRIVER', 'DRIVER_OK', 'FEATURES_OK', 'DEVICE_NEEDS_RESET'],
  phase: 'needs-reset',
  featuresOffered: '0x100000001',
  featuresNegotiated: '0x100000000',
  features: [
    { bit: 0, name: 'VIRTIO_I2C_F_ZERO_LENGTH_REQUEST', offered: true, negotiated: false },
    { bit: 32, name: 'VIRTIO_F_VERSION_1', offered: true, negotiated: true },
  ],
  generation: 7,
  configSize: 4,
  config: '01000000',
  configFields: [],
});

describe('DevicesView', () => {
  /** [name, tone, set] of every status chip of a card. */
  const statusChips = (card: HTMLElement, devNum: number) =>
    [...within(card).getByLabelText(`Status of device ${devNum}`).querySelectorAll('.chip')].map((c) => [c.textContent, c.getAttribute('data-tone'), !c.classList.contains('chip-off')]);

  it('shows every status bit as a named chip, set ones emphasized and the trouble bits loudest, and features offered versus negotiated', async () => {
    const api = fakeApi({ 'session.state': () => ok(sessionState([device(), I2C])) });
    render(<DevicesView api={api} />);
    const card = await screen.findByRole('region', { name: 'Device 1' });
    const status = within(card).getByLabelText('Status of device 1');
    // Names and values from the protocol's STATUS table (Appendix C), unset bits included.
    expect(statusChips(card, 1)).toEqual([
      ['ACKNOWLEDGE', 'neutral', true],
      ['DRIVER', 'neutral', true],
      ['DRIVER_OK', 'ok', true],
      ['FEATURES_OK', 'neutral', true],
      ['SUSPEND', 'neutral', false],
      ['DEVICE_NEEDS_RESET', 'danger', true],
      ['FAILED', 'neutral', false],
    ]);
    expect(within(status).getByLabelText('DEVICE_NEEDS_RESET (0x40) set').getAttribute('title')).toBe('DEVICE_NEEDS_RESET (0x40) set');
    expect(within(status).getByLabelText('FAILED (0x80) not set')).toBeTruthy();
    // The status byte in hex with its set bits by name; feature words as the protocol's two zero-padded 32-bit words.
    expect(within(card).getByText(/^status 0x/).textContent).toBe('status 0x4f ACKNOWLEDGE | DRIVER | DRIVER_OK | FEATURES_OK | DEVICE_NEEDS_RESET');
    expect(card.querySelector('[data-field="offered"]')!.textContent).toBe('0x00000001 00000001');
    expect(card.querySelector('[data-field="negotiated"]')!.textContent).toBe('0x00000001 00000000');
    const rows = [...within(card).getByRole('table', { name: 'Features of device 1' }).querySelectorAll('tbody tr')];
    expect(rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent))).toEqual([
      ['0', 'VIRTIO_I2C_F_ZERO_LENGTH_REQUEST', '✓', '—'],
      ['32', 'VIRTIO_F_VERSION_1', '✓', '✓'],
    ]);
    expect(within(card).getByTestId('generation-1').textContent).toBe('7');
    expect(card.textContent).toContain('0000  01 00 00 00');
    expect(card.textContent).toContain('vendor 0x554d4551');
    // i2c devices get the transfer form.
    expect(within(card).getByRole('button', { name: 'Run transfer' })).toBeTruthy();
  });

  it('follows session.device events and shows a workload result', async () => {
    const api = fakeApi({
      'session.state': () => ok(sessionState([device()])),
      'device.workload': () => ok({ kind: 'rng-read', devNum: 0, succeeded: true, error: null, latencyUs: 42, reads: ['a1b2c3'] }),
    });
    render(<DevicesView api={api} />);
    const card = await screen.findByRole('region', { name: 'Device 0' });
    expect(within(card).getByText('FAILED').getAttribute('data-tone')).toBe('neutral');
    api.emit({ event: 'session.device', data: { device: device({ status: 0x8f, statusNames: ['ACKNOWLEDGE', 'DRIVER', 'DRIVER_OK', 'FEATURES_OK', 'FAILED'], phase: 'failed' }) } });
    const failed = await within(card).findByLabelText('FAILED (0x80) set');
    expect(failed.getAttribute('data-tone')).toBe('danger');

    fireEvent.change(within(card).getByLabelText('Random bytes'), { target: { value: '3' } });
    fireEvent.click(within(card).getByRole('button', { name: 'Read' }));
    const result = await screen.findByTestId('workload-result-0');
    expect(result.textContent).toContain('succeeded');
    expect(result.textContent).toContain('a1 b2 c3');
    expect(api.callsOf('device.workload')).toEqual([{ devNum: 0, kind: 'rng-read', params: { bytes: 3 } }]);
  });

  it('names a set bit the protocol does not define by its value, and says a reset device is reset', async () => {
    const api = fakeApi({ 'session.state': () => ok(sessionState([device({ devNum: 0, status: 0x21, statusNames: ['ACKNOWLEDGE', '0x20'] }), device({ devNum: 1, status: 0, statusNames: [] })])) });
    render(<DevicesView api={api} />);
    const odd = await screen.findByRole('region', { name: 'Device 0' });
    expect(statusChips(odd, 0).filter(([, , set]) => set)).toEqual([
      ['ACKNOWLEDGE', 'neutral', true],
      ['0x20', 'neutral', true],
    ]);
    const reset = screen.getByRole('region', { name: 'Device 1' });
    expect(statusChips(reset, 1).every(([, tone, set]) => tone === 'neutral' && !set)).toBe(true);
    expect(within(reset).getByLabelText('Status of device 1').textContent).toContain('status 0x00 (reset)');
  });

  it('resets a device and shows the state it came back in', async () => {
    const api = fakeApi({
      'session.state': () => ok(sessionState([device({ phase: 'needs-reset', statusNames: ['DEVICE_NEEDS_RESET'], status: 0x40 })])),
      'device.reset': () => ok({ device: device() }),
    });
    render(<DevicesView api={api} />);
    const card = await screen.findByRole('region', { name: 'Device 0' });
    fireEvent.click(within(card).getByRole('button', { name: 'Reset & renegotiate' }));
    await waitFor(() => expect(within(card).getByText('DEVICE_NEEDS_RESET').classList.contains('chip-off')).toBe(true));
    expect(within(card).getByLabelText('DRIVER_OK (0x04) set')).toBeTruthy();
    expect(api.callsOf('device.reset')).toEqual([{ devNum: 0 }]);
  });

  it.each([...WORKLOADS.values()].map((w) => [w.workload.kind, w] as const))(
    '%s: the device type gets its workload form, which starts from the descriptor’s defaults',
    async (kind, { device: type, workload }) => {
      const api = fakeApi({
        'session.state': () => ok(sessionState([device({ deviceId: type.id, deviceType: type.name })])),
        'device.workload': () => ok({ kind, devNum: 0, succeeded: true, error: null, latencyUs: 1, reads: [] }),
      });
      render(<DevicesView api={api} />);
      const card = await screen.findByRole('region', { name: 'Device 0' });
      expect(within(card).getByRole('heading', { name: `Workload: ${kind}` })).toBeTruthy();
      fireEvent.submit(card.querySelector('form.workload-form')!);
      await screen.findByTestId('workload-result-0');
      expect(api.callsOf('device.workload')).toEqual([{ devNum: 0, kind, params: workload.defaults }]);
    },
  );
});

/** A device.load progress report as the engine sends it. */
function progress(over: Partial<LoadProgress> = {}): LoadProgress {
  return { devNum: 0, kind: 'rng-read', count: 20, done: 0, failed: 0, running: true, elapsedMs: 0, latencyUs: null, recentUs: [], errors: [], stopped: null, ...over };
}

const CONSOLE = device({ devNum: 2, deviceId: 3, deviceType: 'console', deviceName: 'console' });

describe('DevicesView: what a device shows', () => {
  it('says a device still probing is being identified, not "reserved (invalid)", and an R0 config’s size as read', async () => {
    const api = fakeApi({
      'session.state': () =>
        ok(
          sessionState([
            device({ devNum: 0, deviceId: 0, deviceType: 'reserved', deviceName: 'reserved (invalid)', phase: 'probing', status: 0, statusNames: [] }),
            device({ devNum: 1, configSize: null, config: '50000000', configFields: [{ name: 'cols', offset: 0, size: 2, type: 'le16', value: 80, valid: true, validWhen: null }] }),
          ]),
        ),
    });
    render(<DevicesView api={api} />);
    const probing = await screen.findByRole('region', { name: 'Device 0' });
    expect(within(probing).getByRole('heading', { level: 3 }).textContent).toBe('dev_num 0 · identifying…');
    expect(probing.textContent).not.toContain('reserved');
    const r0 = screen.getByRole('region', { name: 'Device 1' });
    expect(within(r0).getByTestId('config-size-1').textContent).toBe('4 bytes read; the device does not report its config size (revision 0 has no such field)');
    expect(r0.textContent).not.toContain('? bytes');
    // A config value in hex padded to its field's size, the dump with its ASCII column.
    expect(within(r0).getByText('80 (0x0050)')).toBeTruthy();
    expect(r0.querySelector('pre.hex')!.textContent).toMatch(/^0000 {2}50 00 00 00 +P\.\.\.$/);
  });
});

describe('DevicesView: workloads', () => {
  it('keeps the form and its result across a switch to another view', async () => {
    const api = fakeApi({
      'session.state': () => ok(sessionState([I2C])),
      'device.workload': () => ok({ kind: 'i2c-transfer', devNum: 1, succeeded: true, error: null, latencyUs: 21471, reads: ['48690a'] }),
    });
    const first = render(<DevicesView api={api} />);
    let card = await screen.findByRole('region', { name: 'Device 1' });
    fireEvent.change(within(card).getByLabelText('I2C address'), { target: { value: '0x56' } });
    fireEvent.change(within(card).getByLabelText('Bytes to read'), { target: { value: '3' } });
    fireEvent.click(within(card).getByRole('button', { name: 'Run transfer' }));
    expect((await screen.findByTestId('workload-result-1')).textContent).toContain('21.5 ms');
    first.unmount();

    render(<DevicesView api={api} />);
    card = await screen.findByRole('region', { name: 'Device 1' });
    expect((within(card).getByLabelText('I2C address') as HTMLInputElement).value).toBe('0x56');
    expect((within(card).getByLabelText('Bytes to read') as HTMLInputElement).value).toBe('3');
    const result = within(card).getByTestId('workload-result-1');
    expect(result.textContent).toContain('48 69 0a');
    expect(result.textContent).toContain('Hi.');
    expect(api.callsOf('device.workload')).toHaveLength(1);
  });

  it('runs a workload N times with live progress and latency, and stops it', async () => {
    const api = fakeApi({
      'session.state': () => ok(sessionState([device()])),
      'device.load': (p) => ok(progress({ count: p.count })),
      'device.stopLoad': () => ok(progress({ done: 7, running: false, stopped: 'stopped by the user', elapsedMs: 700 })),
    });
    render(<DevicesView api={api} />);
    const card = await screen.findByRole('region', { name: 'Device 0' });
    fireEvent.click(within(card).getByLabelText('repeat'));
    fireEvent.change(within(card).getByLabelText('Repeat count'), { target: { value: '20' } });
    fireEvent.click(within(card).getByRole('button', { name: 'Run 20×' }));
    await waitFor(() => expect(api.callsOf('device.load')).toEqual([{ devNum: 0, kind: 'rng-read', params: { bytes: 16 }, count: 20 }]));
    act(() => api.emit({ event: 'device.load', data: progress({ done: 5, elapsedMs: 500, latencyUs: { samples: 5, last: 120, p50: 110, p99: 21471, max: 21471, mean: 4400 }, recentUs: [100, 110, 120, 21471, 120] }) }));
    const panel = within(card).getByTestId('load-0');
    expect(panel.querySelector('[data-field="operations"]')!.textContent).toBe('5 of 20 operations');
    expect(panel.querySelector('[data-field="latency"]')!.textContent).toContain('last 120 µs · p50 110 µs · p99 21.5 ms · max 21.5 ms');
    expect(panel.textContent).toContain('10 op/s over 500 ms');
    expect(within(panel).getByRole('img').getAttribute('aria-label')).toBe('latency of the last 5 operations, 100 µs to 21.5 ms');
    // While it runs the device takes no other workload.
    expect((within(card).getByRole('button', { name: 'Run 20×' }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(within(card).getByRole('button', { name: 'Stop' }));
    await waitFor(() => expect(panel.textContent).toContain('Stopped: stopped by the user'));
    expect(api.callsOf('device.stopLoad')).toEqual([{ devNum: 0 }]);
    expect(within(card).queryByRole('button', { name: 'Stop' })).toBeNull();
  });

  it('runs continuously (count null) and shows the first failures', async () => {
    const api = fakeApi({ 'session.state': () => ok(sessionState([device()])), 'device.load': (p) => ok(progress({ count: p.count })) });
    render(<DevicesView api={api} />);
    const card = await screen.findByRole('region', { name: 'Device 0' });
    fireEvent.click(within(card).getByLabelText('continuously'));
    fireEvent.click(within(card).getByRole('button', { name: 'Start' }));
    await waitFor(() => expect(api.callsOf('device.load')).toEqual([{ devNum: 0, kind: 'rng-read', params: { bytes: 16 }, count: null }]));
    act(() => api.emit({ event: 'device.load', data: progress({ count: null, done: 3, failed: 3, errors: ['operation 0: no used entry within 1000 ms'] }) }));
    const panel = within(card).getByTestId('load-0');
    expect(panel.querySelector('[data-field="operations"]')!.textContent).toBe('3 operations');
    expect(panel.querySelector('[data-field="failed"]')!.className).toBe('error-text');
    expect(panel.textContent).toContain('no operation has succeeded yet');
    expect(panel.textContent).toContain('operation 0: no used entry within 1000 ms');
  });
});

describe('DevicesView: console terminal', () => {
  it('opens, shows what the device writes, sends a typed line with its newline, and keeps the transcript across view switches', async () => {
    const api = fakeApi({
      'session.state': () => ok(sessionState([CONSOLE])),
      'console.open': (p) => ok(p),
      'console.write': (p) => ok({ devNum: p.devNum, bytes: p.text.length }),
      'console.close': (p) => ok(p),
    });
    const first = render(<DevicesView api={api} />);
    const card = await screen.findByRole('region', { name: 'Device 2' });
    const input = within(card).getByLabelText('Console input') as HTMLInputElement;
    expect(input.disabled).toBe(true);
    expect(input.title).toBe('Open the terminal first.');
    fireEvent.click(within(card).getByRole('button', { name: 'Open terminal' }));
    await waitFor(() => expect(input.disabled).toBe(false));
    expect(api.callsOf('console.open')).toEqual([{ devNum: 2 }]);
    act(() => api.emit({ event: 'console.output', data: { devNum: 2, data: toHex(new TextEncoder().encode('login: '), ''), ended: null } }));
    fireEvent.change(input, { target: { value: 'root' } });
    fireEvent.submit(input.closest('form')!);
    await waitFor(() => expect(api.callsOf('console.write')).toEqual([{ devNum: 2, text: 'root\n' }]));
    expect(input.value).toBe('');
    // Output of another device is not this one's; UTF-8 split across two events still decodes.
    act(() => api.emit({ event: 'console.output', data: { devNum: 9, data: '41', ended: null } }));
    act(() => api.emit({ event: 'console.output', data: { devNum: 2, data: '726f6f740ac3', ended: null } }));
    act(() => api.emit({ event: 'console.output', data: { devNum: 2, data: 'a90a', ended: null } }));
    expect(within(card).getByRole('log', { name: 'Console of device 2' }).textContent).toBe('login: root\né\n');
    first.unmount();

    // Output that arrives while another view is open is kept.
    act(() => api.emit({ event: 'console.output', data: { devNum: 2, data: toHex(new TextEncoder().encode('# '), ''), ended: null } }));
    render(<DevicesView api={api} />);
    const again = await screen.findByRole('region', { name: 'Device 2' });
    expect(within(again).getByRole('log').textContent).toBe('login: root\né\n# ');
    fireEvent.click(within(again).getByRole('button', { name: 'Close terminal' }));
    act(() => api.emit({ event: 'console.output', data: { devNum: 2, data: '', ended: 'closed by the user' } }));
    expect(within(again).getByText('Terminal closed: closed by the user')).toBeTruthy();
    expect((within(again).getByLabelText('Console input') as HTMLInputElement).disabled).toBe(true);
  });
});

describe('DevicesView: controls that cannot work say why', () => {
  const buttons = (card: HTMLElement) => within(card).getAllByRole('button').filter((b) => b.closest('form') || b.textContent !== 'bytes');

  it('an opened capture shows its devices read-only', async () => {
    const capture = { connected: false, board: null, link: null, capture: '/tmp/cap.ampcap', source: 'capture', role: 'driver' } as Partial<SessionStateJson>;
    const api = fakeApi({ 'session.state': () => ok(sessionState([device(), CONSOLE], capture)) });
    render(<DevicesView api={api} />);
    const card = await screen.findByRole('region', { name: 'Device 0' });
    const reason = 'An opened capture is read-only: connect a board for a live session.';
    expect(screen.getByRole('status').textContent).toBe(`The last known state of each device. ${reason}`);
    for (const b of [...buttons(card), ...buttons(screen.getByRole('region', { name: 'Device 2' }))]) {
      expect(b.hasAttribute('disabled'), b.textContent!).toBe(true);
      expect(b.title, b.textContent!).toBe(reason);
    }
  });

  it('an opened capture without device state says so', async () => {
    const capture = { connected: false, board: null, link: null, capture: '/tmp/cap.ampcap', source: 'capture', role: 'driver' } as Partial<SessionStateJson>;
    render(<DevicesView api={fakeApi({ 'session.state': () => ok(sessionState([], capture)) })} />);
    expect((await screen.findByText(/^The opened capture/)).textContent).toBe('The opened capture holds no device state: connect a board for a live session.');
  });

  it('a monitor session, the device side, a read-only viewer and a lost session each say their reason', async () => {
    const monitor = fakeApi({ 'session.state': () => ok(sessionState([device()], { role: 'monitor' } as Partial<SessionStateJson>)) });
    const m = render(<DevicesView api={monitor} />);
    const reset = await screen.findByRole('button', { name: 'Reset & renegotiate' });
    expect(reset.title).toBe('A monitor session only watches the bus: it sends nothing.');
    m.unmount();

    const deviceSide = fakeApi({ 'session.state': () => ok(sessionState([device()], { role: 'device' } as Partial<SessionStateJson>)) });
    const d = render(<DevicesView api={deviceSide} />);
    expect((await screen.findByRole('button', { name: 'Reset & renegotiate' })).title).toBe('The workbench plays the device side here: the driver resets and runs workloads.');
    d.unmount();

    const viewer = Object.assign(fakeApi({ 'session.state': () => ok(sessionState([device()])) }), { controlling: () => false });
    const v = render(<DevicesView api={viewer} />);
    const viewerReset = await screen.findByRole('button', { name: 'Reset & renegotiate' });
    expect(viewerReset.title).toBe('This window only views the session: take control in the header first.');
    act(() => viewer.emit({ event: 'control.changed', data: { controller: true } }));
    expect(viewerReset.hasAttribute('disabled')).toBe(false);
    v.unmount();

    const live = fakeApi({ 'session.state': () => ok(sessionState([device()])) });
    render(<DevicesView api={live} />);
    const liveReset = await screen.findByRole('button', { name: 'Reset & renegotiate' });
    expect(liveReset.hasAttribute('disabled')).toBe(false);
    act(() => live.emit({ event: 'session.closed', data: { reason: 'lost the board: the link closed', capture: '/tmp/cap', lost: true } }));
    expect(liveReset.hasAttribute('disabled')).toBe(true);
    expect(liveReset.title).toBe('The session is over: lost the board: the link closed');
    expect((screen.getByRole('button', { name: 'Read' }) as HTMLButtonElement).title).toBe('The session is over: lost the board: the link closed');
  });
});
