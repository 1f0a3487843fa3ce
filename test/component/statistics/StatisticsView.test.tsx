import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';

import { StatisticsView } from '../../../renderer/src/views/statistics/StatisticsView';
import type { WorkbenchResult } from '../../../src/api/workbench';
import { compileFilter } from '../../../src/trace/filter';
import { navLog } from '../analysisFixtures';
import { fakeApi, ok } from '../fakeApi';

afterEach(cleanup);

const latency = (name: string, p50Ns: number) => ({ name, count: 4, minNs: 1000, meanNs: 21_471_000, p50Ns, p90Ns: p50Ns, p99Ns: p50Ns, maxNs: 30_000_000, histogram: [] });

const stats: WorkbenchResult<'trace.stats'> = {
  records: 12_345,
  firstNs: 0,
  lastNs: 2_000_000_000,
  kinds: { message: 10_000, doorbell: 2000, 'queue-state': 0, 'vq-index': 300, marker: 45, finding: 0, buffer: 0 },
  directions: { toDevice: { messages: 6000, bytes: 96_000 }, toDriver: { messages: 4000, bytes: 64_000 } },
  names: [{ name: 'EVENT_AVAIL', count: 3000, toDevice: 3000, toDriver: 0, bytes: 48_000 }],
  devices: [
    { dev: 1, messages: 9000, toDevice: 5000, toDriver: 4000, bytes: 150_000 },
    { dev: null, messages: 1000, toDevice: 1000, toDriver: 0, bytes: 10_000 },
  ],
  problems: [{ code: 'no-response', count: 2 }],
  latency: [latency('GET_CONFIG', 21_471_000)],
  // Two 1 s buckets: 4000 then 6000 messages.
  throughput: { originNs: 0, bucketNs: 1e9, messages: [4000, 6000], bytes: [64_000, 96_000] },
  occupancy: [{ dev: 1, queue: 0, samples: 300, maxInFlight: 2, lastInFlight: 0, maxPerBucket: [2, 1] }],
  findings: [{ rule: 'request-answered', severity: 'error', count: 2 }],
};

function transactions(): WorkbenchResult<'trace.transactions'> {
  return { total: 0, from: 0, rows: [], queueLatency: [{ ...latency('dev 1 vq 0', 52_000), dev: 1, queue: 0, operations: 5 }] };
}

describe('StatisticsView', () => {
  it('shows what stats computes: summary, traffic, throughput, per message and device, latency in readable units', async () => {
    const api = fakeApi({ 'trace.stats': () => ok(stats), 'trace.transactions': () => ok(transactions()) });
    render(<StatisticsView api={api} nav={navLog()} />);
    const summary = await screen.findByRole('table', { name: 'Summary' });
    expect(summary.textContent).toContain('12,345');
    expect(summary.textContent).toContain('0 ns – 2.00 s (2.00 s)');
    const tput = screen.getByRole('table', { name: /^Throughput/ });
    // mean 10000 messages over 2 s, peak 6000 in one 1 s bucket
    expect(within(tput).getByText('mean').parentElement!.textContent).toBe('mean5k80k');
    expect(within(tput).getByText('peak').parentElement!.textContent).toBe('peak6k96k');
    const lat = screen.getByRole('table', { name: 'Latency per request type' });
    expect(lat.textContent).toContain('21.5 ms');
    expect(lat.textContent).not.toContain('µs21471');
    const ops = await screen.findByRole('table', { name: /Latency of virtqueue operations/ });
    expect(ops.textContent).toContain('dev 1 vq 0');
    expect(ops.textContent).toContain('52.0 µs');
    expect(screen.getByRole('table', { name: 'Per device' }).textContent).toContain('no header');
  });

  it('opens the Trace view filtered to a name, a device, a problem or a direction, with filters that compile', async () => {
    const api = fakeApi({ 'trace.stats': () => ok(stats), 'trace.transactions': () => ok(transactions()) });
    const nav = navLog();
    render(<StatisticsView api={api} nav={nav} />);
    fireEvent.click(await screen.findByRole('button', { name: 'EVENT_AVAIL' }));
    fireEvent.click(screen.getByRole('button', { name: 'dev 1' }));
    fireEvent.click(screen.getByRole('button', { name: 'no-response' }));
    fireEvent.click(screen.getByRole('button', { name: 'device → driver' }));
    fireEvent.click(screen.getByRole('button', { name: 'GET_CONFIG' }));
    fireEvent.click(screen.getByRole('button', { name: 'request-answered' }));
    expect(nav.follows).toEqual(['msg == EVENT_AVAIL', 'dev == 1', 'problem == no-response', 'dir == to-driver', 'msg == GET_CONFIG && type == response', 'finding == request-answered']);
    for (const f of nav.follows) expect(compileFilter(f).ok, f).toBe(true);
  });

  it('narrows to a filter, exports what it counts, and clears the tables when the filter is bad', async () => {
    const api = fakeApi({
      'trace.stats': (p) =>
        p.filter === 'dev ==' ? { ok: false, error: { code: 'bad-filter', message: 'filter "dev ==": error at column 7: expected a value' } } : ok(p.filter ? { ...stats, records: 77 } : stats),
      'trace.transactions': () => ok(transactions()),
    });
    const nav = navLog();
    render(<StatisticsView api={api} nav={nav} />);
    await screen.findByRole('table', { name: 'Summary' });
    fireEvent.change(screen.getByLabelText('statistics filter'), { target: { value: 'dev == 1' } });
    fireEvent.click(screen.getByRole('button', { name: 'Apply' }));
    await waitFor(() => expect(screen.getByRole('table', { name: 'Summary' }).textContent).toContain('77'));
    fireEvent.click(screen.getByRole('button', { name: 'Export…' }));
    expect(nav.exports).toEqual([{ label: 'records matching dev == 1', filter: 'dev == 1' }]);
    fireEvent.change(screen.getByLabelText('statistics filter'), { target: { value: 'dev ==' } });
    fireEvent.click(screen.getByRole('button', { name: 'Apply' }));
    expect((await screen.findByRole('alert')).textContent).toContain('error at column 7');
    expect(screen.queryByRole('table', { name: 'Summary' })).toBeNull();
  });
});
