/**
 * The Timeline's behaviour with its charts stubbed (jsdom has no canvas; Chromium draws them in
 * test/e2e/analysis.test.ts): the windowed queries it makes, event lanes whose filters compile,
 * click to jump, Δt cursors with the messages between, Shift+drag to zoom, range labels that stay
 * apart when zoomed in, and workload-operation latency in the histogram's choice.
 */
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';

import type { WorkbenchParams, WorkbenchResult } from '../../../src/api/workbench';
import { compileFilter } from '../../../src/trace/filter';
import { navLog } from '../analysisFixtures';
import { fakeApi, ok } from '../fakeApi';

// uPlot asks matchMedia when imported; jsdom has none.
vi.hoisted(() => {
  window.matchMedia = ((query: string) => ({ matches: false, media: query, addEventListener: () => undefined, removeEventListener: () => undefined })) as unknown as typeof window.matchMedia;
});
vi.mock('../../../renderer/src/views/timeline/Plot', () => ({
  Plot: ({ data, height }: { data: unknown[][]; height: number }) => <div className="timeline-plot" data-points={data[0]!.length} data-height={height} />,
}));

const { TimelineView, EVENT_LANES } = await import('../../../renderer/src/views/timeline/TimelineView');

afterEach(cleanup);

const latency = (name: string, count: number) => ({ name, count, minNs: 1000, meanNs: 2000, p50Ns: 2000, p90Ns: 3000, p99Ns: 4000, maxNs: 5000, histogram: [{ fromNs: 1000, toNs: 2000, count }] });

const stats = {
  records: 1000,
  firstNs: 0,
  lastNs: 999_999_999,
  kinds: { message: 900, doorbell: 0, 'queue-state': 0, 'vq-index': 90, marker: 10, finding: 0, buffer: 0 },
  directions: { toDevice: { messages: 500, bytes: 8000 }, toDriver: { messages: 400, bytes: 6400 } },
  names: [],
  devices: [{ dev: 1, messages: 900, toDevice: 500, toDriver: 400, bytes: 14_400 }],
  problems: [],
  latency: [latency('GET_CONFIG', 4)],
  throughput: { originNs: 0, bucketNs: 1e6, messages: [], bytes: [] },
  occupancy: [{ dev: 1, queue: 0, samples: 90, maxInFlight: 2, lastInFlight: 0, maxPerBucket: [] }],
  findings: [],
} satisfies WorkbenchResult<'trace.stats'>;

/** Each lane's window: bucket 100 holds record 4242 of the markers lane, every bucket one message. */
function windowAnswer(p: WorkbenchParams<'trace.window'>): WorkbenchResult<'trace.window'> {
  const n = p.buckets;
  const marks = p.filter === EVENT_LANES[0]!.filter;
  const count = Array.from({ length: n }, (_, i) => (p.series === 'records' ? (marks && i === 100 ? 1 : 0) : n === 1 ? 77 : 1));
  return {
    fromNs: p.fromNs,
    toNs: p.toNs,
    bucketNs: (p.toNs - p.fromNs) / n,
    series: p.series,
    count,
    sum: count,
    min: count.map((c) => (c ? 1 : null)),
    max: count.map((c) => (c ? 1 : null)),
    first: count.map((c, i) => (c ? (marks ? 4242 : i) : null)),
  };
}

function api() {
  return fakeApi({
    'trace.stats': () => ok(stats),
    'trace.window': (p) => ok(windowAnswer(p)),
    'trace.transactions': () => ok({ total: 0, from: 0, rows: [], queueLatency: [{ ...latency('dev 1 vq 0', 9), dev: 1, queue: 0, operations: 9 }] }),
  });
}

/** jsdom lays nothing out: the view measures 800 px, so the plots are 680 px from x = 56. */
const PLOT_LEFT = 56;
const PLOT_PX = 680;
const lanes = (): HTMLElement => screen.getByLabelText('lanes');
const lane = (key: string): HTMLElement => document.querySelector<HTMLElement>(`[data-lane="${key}"] .timeline-plot`)!;

function click(el: HTMLElement, x: number, opts: { altKey?: boolean } = {}): void {
  fireEvent.pointerDown(el, { clientX: x, pointerId: 1 });
  fireEvent.pointerUp(el, { clientX: x, pointerId: 1, ...opts });
}

describe('TimelineView', () => {
  it('asks one window per lane at one bucket per pixel, with event lanes whose filters compile', async () => {
    const a = api();
    render(<TimelineView api={a} nav={navLog()} />);
    await waitFor(() => expect(document.querySelectorAll('[data-lane]').length).toBe(2 + EVENT_LANES.length + 2));
    const windows = a.callsOf('trace.window') as WorkbenchParams<'trace.window'>[];
    expect(new Set(windows.map((w) => w.buckets))).toEqual(new Set([PLOT_PX]));
    for (const l of EVENT_LANES) {
      expect(compileFilter(l.filter!).ok, l.filter).toBe(true);
      expect(windows.some((w) => w.filter === l.filter && w.series === 'records')).toBe(true);
    }
    expect(screen.getByTestId('timeline-range').textContent).toBe('0.00 – 1.00 s (1.00 s across 680 px)');
    // Workload latency beside the request types.
    expect([...screen.getByRole('combobox').querySelectorAll('option')].map((o) => o.textContent)).toEqual(['GET_CONFIG (4)', 'dev 1 vq 0 operations (9)']);
  });

  it('opens the record under a click in the Trace view', async () => {
    const nav = navLog();
    render(<TimelineView api={api()} nav={nav} />);
    await waitFor(() => expect(lane('ev-marks').dataset.points).toBe(String(PLOT_PX)));
    // Bucket 100 of the markers lane; a pixel off still finds it.
    click(lane('ev-marks'), PLOT_LEFT + 101.5);
    expect(nav.jumps).toEqual([4242]);
    // An empty stretch of an event lane: nothing to open.
    click(lane('ev-noresp'), PLOT_LEFT + 300);
    expect(nav.jumps).toEqual([4242]);
  });

  it('places Δt cursors with Alt+click and counts the messages between them', async () => {
    const a = api();
    render(<TimelineView api={a} nav={navLog()} />);
    await waitFor(() => expect(lane('d1')).toBeTruthy());
    click(lane('d1'), PLOT_LEFT + 68, { altKey: true });
    expect(screen.getByTestId('timeline-measure').textContent).toContain('Alt+click to place B');
    click(lane('d1'), PLOT_LEFT + 340, { altKey: true });
    await waitFor(() => expect(screen.getByTestId('timeline-measure').textContent).toMatch(/Δt 400 ms · 77 messages \(193 messages\/s\)/));
    expect(a.callsOf('trace.window').at(-1)).toEqual({ fromNs: 100_000_000, toNs: 500_000_000, buckets: 1, series: 'messages' });
    fireEvent.click(screen.getByRole('button', { name: 'Clear cursors' }));
    expect(screen.queryByTestId('timeline-measure')).toBeNull();
  });

  it('zooms to a Shift+dragged range, and its labels stay apart however far it zooms', async () => {
    const a = api();
    render(<TimelineView api={a} nav={navLog()} />);
    await waitFor(() => expect(lane('d1')).toBeTruthy());
    fireEvent.pointerDown(lane('d1'), { clientX: PLOT_LEFT + 68, shiftKey: true, pointerId: 1 });
    fireEvent.pointerMove(lane('d1'), { clientX: PLOT_LEFT + 136, pointerId: 1 });
    expect(document.querySelector('.timeline-selection')).toBeTruthy();
    fireEvent.pointerUp(lane('d1'), { clientX: PLOT_LEFT + 136, pointerId: 1 });
    await waitFor(() => expect(screen.getByTestId('timeline-range').textContent).toBe('100 – 200 ms (100 ms across 680 px)'));
    await waitFor(() => expect((a.callsOf('trace.window') as WorkbenchParams<'trace.window'>[]).some((w) => w.fromNs === 100_000_000 && w.toNs === 200_000_000)).toBe(true));
    for (let i = 0; i < 60; i++) fireEvent.wheel(lanes(), { clientX: PLOT_LEFT + 340, deltaY: -100 });
    const text = screen.getByTestId('timeline-range').textContent!;
    const [from, to] = text.split(' (')[0]!.replace(/ [a-zµ]+$/, '').split(' – ');
    expect(from).not.toBe(to);
    expect(text).toMatch(/\(1\.00 µs across 680 px\)$/);
  });
});
