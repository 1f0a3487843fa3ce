import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { WorkbenchResult } from '../../src/api/workbench';
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
