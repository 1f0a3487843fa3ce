import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { SessionStateJson, WorkbenchResult } from '../../src/api/workbench';
import { QueuesView } from '../../renderer/src/views/queues/QueuesView';
import { fakeApi, ok } from './fakeApi';
import { device, sessionState } from './fixtures';

// jsdom has no layout: give the virtualizer's scroller a size (docs/stack.md §11 pitfall 11). jsdom
// defines both on Element.prototype; the overrides on HTMLElement.prototype are removed after.
beforeAll(() => {
  Object.defineProperty(HTMLElement.prototype, 'clientHeight', { configurable: true, get: () => 300 });
  Object.defineProperty(HTMLElement.prototype, 'clientWidth', { configurable: true, get: () => 760 });
});
afterAll(() => {
  Reflect.deleteProperty(HTMLElement.prototype, 'clientHeight');
  Reflect.deleteProperty(HTMLElement.prototype, 'clientWidth');
});
afterEach(cleanup);

function inspectResult(availIdx: number): WorkbenchResult<'queue.inspect'> {
  const descriptors = Array.from({ length: 8 }, (_, i) => ({ index: i, addr: `0x${(0x20000 + i * 0x100).toString(16)}`, len: 0, flags: '', next: 0 }));
  descriptors[2] = { index: 2, addr: '0x20200', len: 16, flags: 'NEXT', next: 5 };
  descriptors[5] = { index: 5, addr: '0x20500', len: 64, flags: 'WRITE', next: 0 };
  return {
    devNum: 1,
    queue: 0,
    name: 'requestq',
    ring: {
      size: 8,
      descAddr: '0x10000',
      driverAddr: '0x10080',
      deviceAddr: '0x100c0',
      avail: { flags: 0, flagNames: '', idx: availIdx, used_event: null },
      used: { flags: 0, flagNames: '', idx: availIdx - 1, avail_event: null },
      lastSeenUsed: availIdx - 1,
      inFlight: 1,
      descriptors,
      chains: [{ availSlot: (availIdx - 1) % 8, head: 2, descriptors: [2, 5], readableBytes: 16, writableBytes: 64 }],
      usedNotSeen: [],
      recent: [],
      problems: [],
    },
  };
}

describe('QueuesView', () => {
  it('shows the ring indices and the descriptor table with the in-flight chain and its flags', async () => {
    let availIdx = 3;
    const api = fakeApi({
      'session.state': () => ok(sessionState([device(), device({ devNum: 1, deviceId: 34, deviceType: 'i2c', deviceName: 'I2C adapter' })])),
      'queue.inspect': () => ok(inspectResult(availIdx)),
      'trace.info': () => ({ ok: false, error: { code: 'no-session', message: 'no trace yet' } }),
    });
    render(<QueuesView api={api} />);
    fireEvent.click(await screen.findByRole('button', { name: /dev 1 i2c · 0 requestq/ }));
    const table = await screen.findByRole('table', { name: 'Descriptor table' });
    const rows = await waitFor(() => {
      const r = table.querySelectorAll('[data-desc]');
      expect(r.length).toBe(8);
      return r;
    });
    const cells = (i: number) => [...rows[i]!.querySelectorAll('[role=cell]')].map((c) => c.textContent);
    expect(cells(2)).toEqual(['2', '0x20200', '16', 'NEXT', '5', 'head 2', 'bytes']);
    expect(cells(5)).toEqual(['5', '0x20500', '64', 'WRITE', '', 'head 2', 'bytes']);
    expect(cells(0)).toEqual(['0', '0x20000', '0', '—', '', '', '']);
    expect(rows[2]!.classList.contains('in-chain')).toBe(true);
    expect(rows[0]!.classList.contains('in-chain')).toBe(false);

    const field = (name: string) => document.querySelector(`[data-field="${name}"]`)!.textContent;
    expect(field('avail.idx')).toBe('3');
    expect(field('used.idx')).toBe('2');
    expect(field('in flight')).toBe('1');
    expect(within(screen.getByRole('table', { name: 'Chains' })).getByText('2 → 5')).toBeTruthy();
    expect(api.callsOf('queue.inspect').at(-1)).toEqual({ devNum: 1, queue: 0 });

    availIdx = 4;
    fireEvent.click(screen.getByRole('button', { name: 'Refresh' }));
    await waitFor(() => expect(field('avail.idx')).toBe('4'));
  });
});

/** A 128-entry queue where only descriptors 0..2 were ever written, with the last used chains. */
function bigQueue(): WorkbenchResult<'queue.inspect'> {
  const base = inspectResult(3);
  const descriptors = Array.from({ length: 128 }, (_, i) => ({ index: i, addr: '0x0', len: 0, flags: '', next: 0 }));
  descriptors[0] = { index: 0, addr: '0x20000', len: 16, flags: 'NEXT', next: 1 };
  descriptors[1] = { index: 1, addr: '0x20010', len: 4, flags: 'WRITE', next: 0 };
  descriptors[2] = { index: 2, addr: '0x20020', len: 8, flags: '', next: 0 };
  return {
    ...base,
    ring: {
      ...base.ring,
      size: 128,
      descriptors,
      chains: [],
      inFlight: 0,
      recent: [
        { slot: 2, id: 0, len: 4, descriptors: [0, 1], readableBytes: 16, writableBytes: 4 },
        { slot: 1, id: 2, len: 0, descriptors: [2], readableBytes: 8, writableBytes: 0 },
      ],
    },
  };
}

const QUEUE_STATE = () => ok(sessionState([device({ queues: [{ index: 0, name: 'requestq', size: 128, maxSize: 256, descAddr: '0x10000', driverAddr: '0x10800', deviceAddr: '0x10a00', usedEvents: 3 }] })]));

describe('QueuesView: under load and at scale', () => {
  it('refreshes every second by default, shows the chains the device returned last, folds never-written descriptors and shows a buffer’s bytes', async () => {
    const api = fakeApi({
      'session.state': QUEUE_STATE,
      'queue.inspect': () => ok(bigQueue()),
      'queue.buffer': (p) => ok({ devNum: p.devNum, queue: p.queue, index: p.desc, addr: '0x20000', len: 16, flags: 'NEXT', bytes: '0102484920776f726c64000000000000', truncated: false }),
      'trace.info': () => ({ ok: false, error: { code: 'no-session', message: 'no trace yet' } }),
    });
    render(<QueuesView api={api} />);
    expect(((await screen.findByLabelText(/auto-refresh every 1 s/)) as HTMLInputElement).checked).toBe(true);
    await waitFor(() => expect(api.callsOf('queue.inspect').length).toBeGreaterThanOrEqual(2), { timeout: 2500 });

    const recent = await screen.findByRole('table', { name: 'Returned chains' });
    expect([...recent.querySelectorAll('tbody tr')].map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent))).toEqual([
      ['2', '0', '0 → 1', '16', '4', '4'],
      ['1', '2', '2', '8', '0', '0'],
    ]);
    const table = screen.getByRole('table', { name: 'Descriptor table' });
    expect([...table.querySelectorAll('[data-desc]')].map((r) => r.getAttribute('data-desc'))).toEqual(['0', '1', '2']);
    expect(table.querySelector('[data-empty]')!.textContent).toBe('3–127: 125 descriptors never written (all zero)');

    fireEvent.click(within(table).getByRole('button', { name: 'Bytes of descriptor 0' }));
    const bytes = await screen.findByTestId('buffer-bytes');
    expect(api.callsOf('queue.buffer')).toEqual([{ devNum: 0, queue: 0, desc: 0 }]);
    expect(bytes.textContent).toContain('Descriptor 0 buffer 0x20000 · 16 bytes · NEXT');
    expect(bytes.querySelector('pre')!.textContent).toBe('0000  01 02 48 49 20 77 6f 72 6c 64 00 00 00 00 00 00  ..HI world......');

    fireEvent.click(screen.getByLabelText('show all 128'));
    await waitFor(() => expect(table.querySelector('[data-empty]')).toBeNull());
    // Virtualized: the first rows of the whole table, zero rows included.
    expect(table.querySelector('[data-desc="3"]')).toBeTruthy();
  });

  it('draws occupancy scaled to its peak with labelled axes, not to the queue size', async () => {
    const max = Array.from({ length: 600 }, (_, i) => (i % 100 === 0 ? 2 : i % 7 === 0 ? 1 : null));
    const api = fakeApi({
      'session.state': QUEUE_STATE,
      'queue.inspect': () => ok(bigQueue()),
      'trace.info': () => ok({ firstNs: 0, lastNs: 6_000_000_000 } as WorkbenchResult<'trace.info'>),
      'trace.window': () => ok({ fromNs: 0, toNs: 6_000_000_001, bucketNs: 10_000_000, series: 'occupancy', count: [], sum: [], min: [], max, first: [] }),
    });
    render(<QueuesView api={api} />);
    const chart = await screen.findByRole('img', { name: 'Occupancy of queue 0 of device 0' });
    expect(screen.getByTestId('occupancy-caption').textContent).toBe('(chains in flight, max per 10.0 ms; peak 2 of queue size 128)');
    const labels = (axis: string) => [...chart.querySelectorAll(`[data-axis="${axis}"] text`)].map((t) => t.textContent);
    expect(labels('y')).toEqual(['0', '1', '2']);
    expect(labels('x')).toEqual(['0 ns', '3.00 s', '6.00 s']);
    // The tallest bar fills the plot: a peak of 2 is drawn at the top, not at 2/128 of it.
    expect(chart.querySelector('.occ-bars')!.getAttribute('d')).toContain('v-90.0');
  });

  it('keeps the picked queue across view switches and, once the session is over, keeps the last snapshot and says why it cannot refresh', async () => {
    const api = fakeApi({
      'session.state': () => ok(sessionState([device(), device({ devNum: 1, deviceId: 34, deviceType: 'i2c', deviceName: 'I2C adapter' })])),
      'queue.inspect': () => ok(inspectResult(3)),
      'trace.info': () => ({ ok: false, error: { code: 'no-session', message: 'no trace yet' } }),
    });
    const first = render(<QueuesView api={api} />);
    fireEvent.click(await screen.findByRole('button', { name: /dev 1 i2c · 0 requestq/ }));
    await screen.findByRole('region', { name: 'Queue 0 of device 1' });
    first.unmount();
    render(<QueuesView api={api} />);
    await screen.findByRole('region', { name: 'Queue 0 of device 1' });
    await screen.findByRole('table', { name: 'Chains' });
    act(() => api.emit({ event: 'session.closed', data: { reason: 'disconnected by the user', capture: '/tmp/cap', lost: false } }));
    const refresh = screen.getByRole('button', { name: 'Refresh' });
    expect(refresh.hasAttribute('disabled')).toBe(true);
    expect(refresh.title).toBe('The session has ended: the rings can no longer be read. What is shown is the last snapshot; connect again to read them.');
    expect(screen.getByRole('table', { name: 'Chains' })).toBeTruthy();
  });
});

describe('QueuesView: an opened capture', () => {
  it('shows the queues the capture holds, read once: a file does not change, so auto-refresh is off and says why', async () => {
    const capture = { connected: false, board: null, link: null, capture: '/tmp/cap.ampcap', source: 'capture', role: 'driver' } as Partial<SessionStateJson>;
    const api = fakeApi({
      'session.state': () => ok(sessionState([device()], capture)),
      'queue.inspect': () => ok(inspectResult(3)),
      'trace.info': () => ({ ok: false, error: { code: 'no-session', message: 'no trace yet' } }),
    });
    render(<QueuesView api={api} />);
    await screen.findByRole('table', { name: 'Chains' });
    const auto = screen.getByLabelText(/auto-refresh every 1 s/) as HTMLInputElement;
    expect([auto.checked, auto.disabled]).toEqual([false, true]);
    expect(auto.closest('label')!.title).toBe('An opened capture does not change: its rings are read once.');
    expect(screen.getByRole('button', { name: 'Refresh' }).hasAttribute('disabled')).toBe(false);
    await new Promise((r) => setTimeout(r, 1200));
    expect(api.callsOf('queue.inspect')).toHaveLength(1);
  });

  it("says the rings' memory is not in the capture and shows what SET_VQUEUE said, without empty ring sections", async () => {
    const capture = { connected: false, board: null, link: null, capture: '/tmp/cap', source: 'capture', role: 'driver' } as Partial<SessionStateJson>;
    const reason = "the rings' memory is not in the capture: the size and addresses are SET_VQUEUE's; indices, descriptors and chains are unknown";
    const known = inspectResult(3);
    const api = fakeApi({
      'session.state': () => ok(sessionState([device()], capture)),
      'queue.inspect': () =>
        ok({ ...known, ring: { ...known.ring, avail: null, used: null, lastSeenUsed: null, inFlight: null, descriptors: [], chains: [], problems: [{ code: 'not-captured', reason }] } }),
      'trace.info': () => ({ ok: false, error: { code: 'no-session', message: 'no trace yet' } }),
    });
    render(<QueuesView api={api} />);
    await screen.findByText(reason);
    expect(screen.getByText('0x10000')).toBeTruthy();
    expect(screen.queryByText(/not-captured/)).toBeNull();
    expect(screen.queryByText(/Chains in flight/)).toBeNull();
    expect(screen.queryByText(/the device has returned every chain/)).toBeNull();
    expect(screen.queryByText(/Descriptor table/)).toBeNull();
  });

  it("reads session.state again when the capture's devices arrive, so the reading notice ends with them", async () => {
    const capture = { connected: false, board: null, link: null, capture: '/tmp/cap', source: 'capture', role: 'driver' } as Partial<SessionStateJson>;
    let read = false;
    const api = fakeApi({
      'session.state': () => ok(sessionState(read ? [device()] : [], { ...capture, notices: read ? [] : ["reading the devices from the capture's messages (0 of 9 records)"] })),
      'queue.inspect': () => ok(inspectResult(3)),
      'trace.info': () => ({ ok: false, error: { code: 'no-session', message: 'no trace yet' } }),
    });
    render(<QueuesView api={api} />);
    await waitFor(() => expect(api.callsOf('session.state')).toHaveLength(1));
    read = true;
    act(() => api.emit({ event: 'session.device', data: { device: device() } }));
    await waitFor(() => expect(api.callsOf('session.state')).toHaveLength(2));
  });
});
