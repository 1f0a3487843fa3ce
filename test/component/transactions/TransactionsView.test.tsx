import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';

import { PAGE_ROWS, TransactionsView } from '../../../renderer/src/views/transactions/TransactionsView';
import type { TransactionRow, WorkbenchParams } from '../../../src/api/workbench';
import { navLog, traceRow } from '../analysisFixtures';
import { fakeApi, ok } from '../fakeApi';

afterEach(cleanup);

/** Request i: request record 2i, ended by record 2i+1; every 10th timed out. */
function request(i: number): TransactionRow {
  const timedOut = i % 10 === 9;
  return {
    kind: 'request',
    name: 'GET_CONFIG',
    dev: 1,
    request: traceRow(2 * i),
    end: timedOut ? traceRow(2 * i + 1, { kind: 'marker', name: 'NO_RESPONSE', summary: '' }) : traceRow(2 * i + 1, { dir: 'device-to-driver', summary: 'data=01020304' }),
    outcome: timedOut ? 'no-response' : 'answered',
    latencyNs: timedOut ? null : 21_471_000,
  };
}

function operation(i: number): TransactionRow {
  const done = i > 0;
  return {
    kind: 'virtqueue',
    dev: 1,
    queue: 0,
    avail: traceRow(10 * i, { name: 'EVENT_AVAIL' }),
    eventUsed: done ? traceRow(10 * i + 2, { name: 'EVENT_USED' }) : null,
    usedEntry: done ? traceRow(10 * i + 3, { kind: 'vq-index', name: 'VQ_INDEX', summary: 'avail 3 used 3 in flight 0' }) : null,
    entries: done ? 1 : 0,
    // "GET /\r\n" to the device; 20 bytes back, the first 16 kept.
    buffers: done
      ? [
          { seq: 10 * i - 1, toDevice: true, head: 0, length: 7, bytes: '474554202f0d0a' },
          { seq: 10 * i + 4, toDevice: false, head: 0, length: 20, bytes: '48656c6c6f2c20776f726c6421000102' },
        ]
      : [],
    latencyNs: done ? 52_000 : null,
  };
}

function api(total: { requests: number; virtqueue: number }) {
  return fakeApi({
    'trace.transactions': (p: WorkbenchParams<'trace.transactions'>) => {
      const n = total[p.kind];
      const from = p.from ?? Math.floor(Math.max(0, n - 1) / p.count) * p.count;
      const rows = Array.from({ length: Math.max(0, Math.min(n, from + p.count) - from) }, (_, k) => (p.kind === 'requests' ? request(from + k) : operation(from + k)));
      return ok({ total: n, from, rows, queueLatency: [] });
    },
  });
}

const range = (): string => screen.getByTestId('transactions-range').textContent!;
const bodyRows = (name: string): HTMLElement[] => within(screen.getByRole('table', { name })).getAllByRole('row').slice(1);

describe('TransactionsView', () => {
  it('opens on the newest page, following, and pages back and forth by asking for one page at a time', async () => {
    const a = api({ requests: 250, virtqueue: 0 });
    render(<TransactionsView api={a} nav={navLog()} />);
    await waitFor(() => expect(range()).toBe('201–250 of 250'));
    expect(screen.getByText('following the newest')).toBeTruthy();
    expect(a.callsOf('trace.transactions')[0]).toEqual({ kind: 'requests', count: PAGE_ROWS });
    fireEvent.click(screen.getByRole('button', { name: 'first page' }));
    await waitFor(() => expect(range()).toBe(`1–${PAGE_ROWS} of 250`));
    expect(bodyRows('request transactions')).toHaveLength(PAGE_ROWS);
    fireEvent.click(screen.getByRole('button', { name: 'next page' }));
    await waitFor(() => expect(range()).toBe('101–200 of 250'));
    expect(a.callsOf('trace.transactions').at(-1)).toEqual({ kind: 'requests', from: 100, count: PAGE_ROWS });
    fireEvent.click(screen.getByRole('button', { name: 'next page' }));
    await waitFor(() => expect(screen.getByText('following the newest')).toBeTruthy());
    // Another trace (a capture opened): back to its newest page.
    fireEvent.click(screen.getByRole('button', { name: 'first page' }));
    await waitFor(() => expect(range()).toBe(`1–${PAGE_ROWS} of 250`));
    act(() => a.emit({ event: 'trace.reset', data: {} } as never));
    await waitFor(() => expect(range()).toBe('201–250 of 250'));
    // Six pages of rows rendered in jsdom: slow on a loaded machine.
  }, 20_000);

  it('shows a request with what ended it and its latency, and jumps to either record', async () => {
    const nav = navLog();
    render(<TransactionsView api={api({ requests: 10, virtqueue: 0 })} nav={nav} />);
    await waitFor(() => expect(bodyRows('request transactions')).toHaveLength(10));
    const [first] = bodyRows('request transactions');
    expect(first!.textContent).toContain('21.5 ms');
    expect(first!.textContent).toContain('data=01020304');
    const timedOut = bodyRows('request transactions')[9]!;
    expect(timedOut.dataset.outcome).toBe('no-response');
    expect(timedOut.textContent).toContain('no response');
    fireEvent.click(within(first!).getByRole('button', { name: '0' }));
    fireEvent.click(within(first!).getByRole('button', { name: '1' }));
    expect(nav.jumps).toEqual([0, 1]);
  });

  it('lists virtqueue operations from EVENT_AVAIL through EVENT_USED to the used entries, in flight ones said so', async () => {
    const nav = navLog();
    render(<TransactionsView api={api({ requests: 0, virtqueue: 3 })} nav={nav} />);
    await screen.findByText('No request has been answered or timed out yet.');
    fireEvent.click(screen.getByLabelText(/Virtqueue operations/));
    await waitFor(() => expect(bodyRows('virtqueue operations')).toHaveLength(3));
    const [inFlight, done] = bodyRows('virtqueue operations');
    expect(inFlight!.textContent).toContain('in flight');
    expect(done!.textContent).toContain('52.0 µs');
    expect(done!.textContent).toContain('avail 3 used 3 in flight 0');
    fireEvent.click(within(done!).getByRole('button', { name: '13' }));
    expect(nav.jumps).toEqual([13]);
    // The chains' bytes: totals, then a hex + ASCII dump per buffer record.
    expect(inFlight!.textContent).not.toContain('→');
    expect(within(done!).getByText('→ 7 B ← 20 B')).toBeTruthy();
    expect(within(done!).getByLabelText('bytes of record 9').textContent).toBe('0000  47 45 54 20 2f 0d 0a' + ' '.repeat(47 - 20) + '  GET /..');
    expect(within(done!).getByLabelText('bytes of record 14').textContent).toBe('0000  48 65 6c 6c 6f 2c 20 77 6f 72 6c 64 21 00 01 02  Hello, world!...');
    expect(done!.textContent).toContain('used, head 0: 20 bytes (first 16 kept)');
    fireEvent.click(within(done!).getByRole('button', { name: '9' }));
    expect(nav.jumps).toEqual([13, 9]);
  });
});
