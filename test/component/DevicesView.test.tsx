import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';

import { WORKLOADS } from '../../src/devices/registry';
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
