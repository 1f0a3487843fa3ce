/**
 * The Timeline: a lane per device (messages per bucket) and per device virtqueue (descriptors in
 * flight, the max per bucket), event lanes (markers and bookmarks; errors and findings;
 * NO_RESPONSE), messages/s and bytes/s charts and a latency histogram per request type and per
 * virtqueue's operations. Everything is a windowed query at screen resolution: trace.window with
 * one bucket per pixel of plot width (docs/stack.md §6 rule 4), so the engine reduces the trace
 * and the page draws only what fits; zoomed in far enough, a bucket is one record.
 *
 * Wheel zooms around the pointer, dragging pans, Shift+drag zooms to the range dragged. A click
 * opens the first record of the bucket under the pointer in the Trace view; Alt+click places the
 * Δt cursors A and B, measured in time and messages between. Each lane says its value under the
 * pointer; the lanes share one time axis, in seconds since the capture start.
 */
import { useCallback, useEffect, useMemo, useRef, useState, type PointerEvent, type WheelEvent } from 'react';
import uPlot from 'uplot';

import type { WorkbenchApi, WorkbenchParams, WorkbenchResult } from '../../../../src/api/workbench';
import { EVENT_LANE_FILTERS } from '../../../../src/trace/events';
import type { ViewNav } from '../../ui/nav';
import { useTraceTick } from '../../ui/useTraceTick';
import { formatNs } from '../trace/traceFormat';
import { AXIS_FONT, axisSize, formatRange, formatSi, labelWidth, siValues, timeValues } from './axes';
import { Plot } from './Plot';
import './timeline.css';

type Stats = WorkbenchResult<'trace.stats'>;
type Window = WorkbenchResult<'trace.window'>;
type Latency = Stats['latency'][number];

interface Lane {
  key: string;
  label: string;
  series: 'messages' | 'occupancy' | 'records';
  /** What the readout calls the value. */
  unit: string;
  tone: 'accent' | 'warn' | 'danger' | 'muted';
  dev?: number;
  queue?: number;
  filter?: string;
}

/**
 * Records drawn as events: one tick per bucket that holds any, each a click away from the record.
 * Their filters are the event index's (src/trace/events.ts): the service answers them without a scan.
 */
export const EVENT_LANES: readonly Lane[] = [
  { key: 'ev-marks', label: 'markers and bookmarks', series: 'records', unit: 'markers', tone: 'accent', filter: EVENT_LANE_FILTERS.marks },
  { key: 'ev-errors', label: 'errors and findings', series: 'records', unit: 'errors', tone: 'danger', filter: EVENT_LANE_FILTERS.errors },
  { key: 'ev-noresp', label: 'NO_RESPONSE', series: 'records', unit: 'timeouts', tone: 'warn', filter: EVENT_LANE_FILTERS.noResponse },
];

/**
 * Width every chart keeps on each side of its plot (a y axis, or padding where it has none), so
 * the plots' time axes line up and a pointer maps to a time. SI labels fit in it; a wider one
 * widens its axis rather than being clipped.
 */
const Y_AXIS_PX = 56;
const LANE_PX = 56;
const EVENT_PX = 30;
/** The charts at the bottom carry the shared time axis below their plot. */
const X_AXIS_PX = 44;
const REFRESH_MS = 1000;
/** Narrowest window zooming goes to. */
const MIN_SPAN_NS = 1000;
/** A pointer that moved less than this between down and up clicked. */
const CLICK_PX = 4;
/** A click this close to a bucket with records still finds them (events are one pixel wide). */
const HIT_PX = 3;

function cssColor(name: string, fallback: string): string {
  const v = typeof document === 'undefined' ? '' : getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v === '' ? fallback : v;
}

function lanesOf(stats: Stats): Lane[] {
  const lanes: Lane[] = [];
  for (const d of stats.devices) {
    if (d.dev !== null) lanes.push({ key: `d${d.dev}`, label: `dev ${d.dev} messages`, series: 'messages', unit: 'messages', tone: 'accent', dev: d.dev });
  }
  for (const o of stats.occupancy) {
    if (o.dev !== null) lanes.push({ key: `d${o.dev}q${o.queue}`, label: `dev ${o.dev} vq ${o.queue} in flight`, series: 'occupancy', unit: 'in flight', tone: 'warn', dev: o.dev, queue: o.queue });
  }
  return lanes.sort((a, b) => a.dev! - b.dev! || (a.queue ?? -1) - (b.queue ?? -1));
}

/** The colour at 30 % opacity, for area fills (canvas may not parse color-mix()). */
function translucent(color: string): string {
  if (/^#[0-9a-f]{6}$/i.test(color)) return `${color}4d`;
  const rgb = /^rgb\((.*)\)$/.exec(color);
  return rgb ? `rgba(${rgb[1]}, 0.3)` : color;
}

/** Bucket start times in seconds, uPlot's x values. */
function xs(w: Window): number[] {
  return w.count.map((_, i) => (w.fromNs + i * w.bucketNs) / 1e9);
}

/** A y axis with SI labels, as wide as they need (at least Y_AXIS_PX); `extra` places and labels it. */
function yAxis(stroke: string, extra: uPlot.Axis = {}): uPlot.Axis {
  const ticks = extra.ticks?.show !== false;
  return { size: axisSize(Y_AXIS_PX, ticks), stroke, font: AXIS_FONT, values: siValues, ...extra };
}

/** The shared time axis: seconds since the capture start, decimals as the ticks need. */
function xAxis(stroke: string, show: boolean): uPlot.Axis {
  // A hidden axis keeps no room: its size and label would still be taken from the plot's height.
  return show ? { stroke, font: AXIS_FONT, values: timeValues, label: 'time since capture start (s)', labelSize: 16, labelFont: AXIS_FONT, size: X_AXIS_PX - 16 } : { show: false };
}

/** The lane's largest value is its axis's only tick above 0, so a short lane reads "0 … 12", not "0". */
const laneScale: uPlot.Scale = { range: (_u, _min, max) => [0, max > 0 ? max : 1] };
const laneSplits = (u: uPlot): number[] => [0, u.scales['y']?.max ?? 1];

type Readout = (idx: number | null) => void;

/** Calls `readout` with the bucket under the cursor (null when it leaves). */
function cursorHook(readout: { current: Readout | undefined }): ((u: uPlot) => void)[] {
  return [(u) => readout.current?.(u.cursor.idx ?? null)];
}

interface View {
  fromNs: number;
  toNs: number;
}

interface Cursors {
  a: number | null;
  b: number | null;
}

export function TimelineView({ api, nav }: { api: WorkbenchApi; nav: ViewNav }) {
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(800);
  const [stats, setStats] = useState<Stats | null>(null);
  const [opLatency, setOpLatency] = useState<Latency[]>([]);
  /** null: the whole trace, growing with it. */
  const [zoom, setZoom] = useState<View | null>(null);
  const [windows, setWindows] = useState<Map<string, Window>>(new Map());
  const [latencyName, setLatencyName] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [cursors, setCursors] = useState<Cursors>({ a: null, b: null });
  const [between, setBetween] = useState<number | null>(null);
  const [selection, setSelection] = useState<View | null>(null);
  // The trace grew or was replaced: query again, at most once per REFRESH_MS.
  const resetZoom = useCallback(() => {
    setZoom(null);
    setCursors({ a: null, b: null });
  }, []);
  const tick = useTraceTick(api, REFRESH_MS, resetZoom);
  const drag = useRef<{ x: number; view: View; select: boolean; moved: boolean } | null>(null);

  const plotWidth = Math.max(1, width - 2 * Y_AXIS_PX - 8);
  const fullTo = Math.max(MIN_SPAN_NS, (stats?.lastNs ?? 0) + 1);
  const view: View = zoom ?? { fromNs: 0, toNs: fullTo };

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = (): void => setWidth(el.clientWidth || 800);
    measure();
    if (typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    let live = true;
    void Promise.all([api.call('trace.stats', {}), api.call('trace.transactions', { kind: 'virtqueue', count: 1 })]).then(([r, t]) => {
      if (!live) return;
      if (r.ok) {
        setStats(r.result);
        setError(null);
      } else setError(r.error.message);
      if (t.ok) setOpLatency(t.result.queueLatency.map((q) => ({ ...q, name: `${q.name} operations` })));
    });
    return () => {
      live = false;
    };
  }, [api, tick]);

  const lanes = useMemo(() => (stats ? lanesOf(stats) : []), [stats]);

  useEffect(() => {
    if (!stats || stats.records === 0) return;
    let live = true;
    const query = (key: string, q: Omit<WorkbenchParams<'trace.window'>, 'fromNs' | 'toNs' | 'buckets'>) =>
      api.call('trace.window', { fromNs: Math.floor(view.fromNs), toNs: Math.ceil(view.toNs), buckets: Math.min(100_000, plotWidth), ...q }).then((r) => [key, r] as const);
    const asks = [
      query('throughput', { series: 'messages' }),
      query('bytes', { series: 'bytes' }),
      ...[...lanes, ...EVENT_LANES].map((l) =>
        query(l.key, { series: l.series, ...(l.dev !== undefined ? { dev: l.dev } : {}), ...(l.queue !== undefined ? { queue: l.queue } : {}), ...(l.filter ? { filter: l.filter } : {}) }),
      ),
    ];
    void Promise.all(asks).then((answers) => {
      if (!live) return;
      const next = new Map<string, Window>();
      for (const [key, r] of answers) {
        if (r.ok) next.set(key, r.result);
        else setError(r.error.message);
      }
      setWindows(next);
    });
    return () => {
      live = false;
    };
  }, [api, stats, lanes, view.fromNs, view.toNs, plotWidth]);

  // Δt: the messages between the cursors, counted by the engine.
  useEffect(() => {
    setBetween(null);
    if (cursors.a === null || cursors.b === null || cursors.a === cursors.b) return;
    let live = true;
    const fromNs = Math.floor(Math.min(cursors.a, cursors.b));
    const toNs = Math.max(fromNs + 1, Math.ceil(Math.max(cursors.a, cursors.b)));
    void api.call('trace.window', { fromNs, toNs, buckets: 1, series: 'messages' }).then((r) => live && r.ok && setBetween(r.result.count[0] ?? 0));
    return () => {
      live = false;
    };
  }, [api, cursors.a, cursors.b, tick]);

  const colors = useMemo(
    () => ({ accent: cssColor('--accent', '#3b82f6'), muted: cssColor('--muted', '#888'), warn: cssColor('--warn', '#d97706'), danger: cssColor('--danger', '#c62828') }),
    [],
  );
  // Readouts write into the lane labels directly (uPlot calls them per pointer move): no re-render.
  const readoutEls = useRef(new Map<string, HTMLSpanElement>());
  const latestWindows = useRef(windows);
  latestWindows.current = windows;
  const readouts = useRef(new Map<string, { current: Readout | undefined }>());
  const readoutFor = (key: string): { current: Readout | undefined } => {
    let r = readouts.current.get(key);
    if (!r) readouts.current.set(key, (r = { current: undefined }));
    return r;
  };

  const allLanes = useMemo(() => [...lanes, ...EVENT_LANES], [lanes]);
  const laneOpts = useMemo(() => {
    const map = new Map<string, Omit<uPlot.Options, 'width' | 'height'>>();
    allLanes.forEach((l) => {
      const stroke = colors[l.tone];
      const events = l.series === 'records';
      map.set(l.key, {
        legend: { show: false },
        cursor: { drag: { x: false, y: false }, sync: { key: 'timeline' } },
        scales: { x: { time: false }, y: laneScale },
        // The right padding lines the plots up with the rate charts'; top and bottom as small as the
        // labels allow (uPlot's automatic padding would leave a 30 px event lane no plot at all).
        padding: events ? [2, Y_AXIS_PX, 2, null] : [8, Y_AXIS_PX, 8, null],
        // Event lanes keep the axis's width (the time axes line up) without its labels.
        axes: [xAxis(colors.muted, false), yAxis(stroke, { label: l.label, labelSize: 0, ticks: { show: false }, splits: events ? () => [] : laneSplits })],
        series: [{}, events ? { label: l.label, stroke, fill: stroke, paths: uPlot.paths.bars!({ size: [1, Infinity, 2] }) } : { label: l.label, stroke, fill: translucent(stroke), width: 1 }],
        hooks: { setCursor: cursorHook(readoutFor(l.key)) },
      });
      readoutFor(l.key).current = (idx) => {
        const el = readoutEls.current.get(l.key);
        const w = latestWindows.current.get(l.key);
        if (!el) return;
        if (idx === null || !w) {
          el.textContent = '';
          return;
        }
        const at = formatNs(w.fromNs + idx * w.bucketNs);
        const n = l.series === 'occupancy' ? (w.max[idx] ?? null) : w.count[idx]!;
        const first = w.first[idx];
        const what = n === null || n === 0 ? 'none' : l.series === 'records' ? `${n} ${l.unit} from record ${first}` : `${formatSi(n)} ${l.unit}${first === null ? '' : ` from record ${first}`}`;
        el.textContent = ` · at ${at}: ${what}`;
      };
    });
    return map;
  }, [allLanes, colors]);

  const readout = useRef<HTMLSpanElement>(null);
  const throughputReadout = useRef<Readout | undefined>(undefined);
  throughputReadout.current = (idx) => {
    if (!readout.current) return;
    const m = latestWindows.current.get('throughput');
    const b = latestWindows.current.get('bytes');
    if (idx === null || !m) {
      readout.current.textContent = '';
      return;
    }
    const rate = (w: Window | undefined, v: number | undefined): number => (w && v !== undefined ? (v * 1e9) / w.bucketNs : 0);
    readout.current.textContent = `at ${formatNs(m.fromNs + idx * m.bucketNs)}: ${formatSi(rate(m, m.count[idx]))} messages/s · ${formatSi(rate(b, b?.sum[idx]))} bytes/s`;
  };
  const rateOpts = useMemo(() => {
    const opts = (label: string, stroke: string, showX: boolean): Omit<uPlot.Options, 'width' | 'height'> => ({
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, sync: { key: 'timeline' } },
      scales: { x: { time: false } },
      padding: [null, Y_AXIS_PX, null, null],
      axes: [xAxis(colors.muted, showX), yAxis(stroke)],
      series: [{}, { label, stroke, width: 1 }],
      hooks: { setCursor: cursorHook(throughputReadout) },
    });
    // messages/s and bytes/s each on a chart of their own: one line never hides the other.
    return { messages: opts('messages/s', colors.accent, false), bytes: opts('bytes/s', colors.warn, true) };
  }, [colors]);

  const latency = useMemo(() => [...(stats?.latency ?? []), ...opLatency], [stats, opLatency]);
  // Until the user picks one: the request type with the most answers, the one worth looking at.
  const shownLatency = latency.find((l) => l.name === latencyName) ?? latency.reduce<Latency | undefined>((a, l) => (!a || l.count > a.count ? l : a), undefined);
  const histogramOpts = useMemo<Omit<uPlot.Options, 'width' | 'height'>>(() => {
    const edges = shownLatency?.histogram.map((b) => b.fromNs) ?? [];
    const slots = Math.max(edges.length, 8);
    // Label every step-th bucket, so labels (each as wide as the widest) never overlap or clip.
    const widest = Math.max(0, ...edges.map((e) => labelWidth(formatNs(e))));
    const step = Math.max(1, Math.ceil((widest + 12) / Math.max(1, plotWidth / slots)));
    return {
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      // Room on the right for the last label, centred on its bar.
      padding: [null, Y_AXIS_PX, null, null],
      // One slot per bucket, labelled at its lower edge, so a single bucket is one bar, not the whole width.
      scales: { x: { time: false, range: () => [-0.5, slots - 0.5] } },
      axes: [
        {
          stroke: colors.muted,
          font: AXIS_FONT,
          splits: () => edges.flatMap((_, i) => (i % step === 0 ? [i] : [])),
          values: (_u, ticks) => ticks.map((t) => (edges[t] === undefined ? '' : formatNs(edges[t]!))),
          label: 'latency (bucket lower edge)',
          labelSize: 16,
          labelFont: AXIS_FONT,
        },
        // Counts: whole-number ticks only.
        { ...yAxis(colors.accent), incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 1e7] },
      ],
      series: [{}, { label: 'count', stroke: colors.accent, fill: colors.accent, paths: uPlot.paths.bars!({ size: [0.9] }) }],
    };
  }, [shownLatency, colors, plotWidth]);

  const perSecond = (w: Window | undefined, pick: 'count' | 'sum'): (number | null)[] => (w ? w[pick].map((x) => (x * 1e9) / w.bucketNs) : []);
  const throughput = windows.get('throughput');
  const bytes = windows.get('bytes');
  const messagesData: uPlot.AlignedData = [throughput ? xs(throughput) : [], perSecond(throughput, 'count')];
  const bytesData: uPlot.AlignedData = [bytes ? xs(bytes) : [], perSecond(bytes, 'sum')];

  const span = view.toNs - view.fromNs;
  const fractionAt = (clientX: number): number => {
    const rect = box.current?.getBoundingClientRect();
    return rect ? Math.max(0, Math.min(1, (clientX - rect.left - Y_AXIS_PX) / plotWidth)) : 0.5;
  };
  const timeAt = (clientX: number): number => view.fromNs + fractionAt(clientX) * span;
  const clamp = (fromNs: number, toNs: number): View | null => {
    const s = Math.max(MIN_SPAN_NS, Math.min(fullTo, toNs - fromNs));
    if (s >= fullTo) return null;
    const from = Math.max(0, Math.min(fullTo - s, fromNs));
    return { fromNs: from, toNs: from + s };
  };
  const onWheel = (e: WheelEvent<HTMLDivElement>): void => {
    const f = fractionAt(e.clientX);
    const t = view.fromNs + f * span;
    const s = span * (e.deltaY > 0 ? 1.25 : 0.8);
    setZoom(clamp(t - f * s, t - f * s + s));
  };
  const onPointerDown = (e: PointerEvent<HTMLDivElement>): void => {
    drag.current = { x: e.clientX, view, select: e.shiftKey, moved: false };
    e.currentTarget.setPointerCapture?.(e.pointerId);
  };
  const onPointerMove = (e: PointerEvent<HTMLDivElement>): void => {
    const d = drag.current;
    if (!d) return;
    if (Math.abs(e.clientX - d.x) >= CLICK_PX) d.moved = true;
    if (!d.moved) return;
    if (d.select) {
      const a = timeAt(d.x);
      const b = timeAt(e.clientX);
      setSelection({ fromNs: Math.min(a, b), toNs: Math.max(a, b) });
      return;
    }
    const dt = ((d.x - e.clientX) / plotWidth) * (d.view.toNs - d.view.fromNs);
    setZoom(clamp(d.view.fromNs + dt, d.view.toNs + dt));
  };
  /** The first record of the bucket under the pointer in lane `key` (or a bucket a few pixels away). */
  const recordAt = (key: string, clientX: number): number | null => {
    const w = windows.get(key === 'bytes' ? 'bytes' : key);
    if (!w) return null;
    const i = Math.min(w.count.length - 1, Math.floor(fractionAt(clientX) * w.count.length));
    for (let d = 0; d <= HIT_PX; d++) {
      for (const j of [i - d, i + d]) {
        const s = w.first[j];
        if (s !== undefined && s !== null) return s;
      }
    }
    return null;
  };
  const onPointerUp = (e: PointerEvent<HTMLDivElement>): void => {
    const d = drag.current;
    drag.current = null;
    if (d?.select && d.moved && selection) {
      setSelection(null);
      setZoom(clamp(selection.fromNs, selection.toNs));
      return;
    }
    setSelection(null);
    if (!d || d.moved) return;
    if (e.altKey) {
      const t = timeAt(e.clientX);
      setCursors((c) => (c.a === null || c.b !== null ? { a: t, b: null } : { a: c.a, b: t }));
      return;
    }
    const lane = (e.target as Element).closest?.('[data-lane]')?.getAttribute('data-lane');
    const seq = lane ? recordAt(lane, e.clientX) : null;
    if (seq !== null) nav.jump(seq);
  };

  /** A vertical line at time `t` across the lanes, or nothing when it is out of view. */
  const mark = (t: number | null, cls: string, text: string) => {
    if (t === null || t < view.fromNs || t > view.toNs) return null;
    const left = Y_AXIS_PX + ((t - view.fromNs) / span) * plotWidth;
    return (
      <div className={`timeline-mark ${cls}`} style={{ left }} aria-hidden="true">
        <span>{text}</span>
      </div>
    );
  };
  const delta = cursors.a !== null && cursors.b !== null ? Math.abs(cursors.b - cursors.a) : null;

  return (
    <div className="timeline-view" ref={box}>
      <div className="timeline-toolbar">
        <span data-testid="timeline-range">
          {formatRange(view.fromNs, view.toNs)} ({formatNs(span)} across {plotWidth} px)
        </span>
        <button type="button" disabled={zoom === null} onClick={() => setZoom(null)}>
          Whole trace
        </button>
        <button type="button" disabled={stats === null || stats.records === 0} onClick={() => nav.exportScope({ label: `the visible range ${formatRange(view.fromNs, view.toNs)}`, fromNs: Math.floor(view.fromNs), toNs: Math.ceil(view.toNs) })}>
          Export range…
        </button>
        <span className="timeline-hint">click: go to record · wheel: zoom · drag: pan · Shift+drag: zoom to range · Alt+click: Δt cursors</span>
        {error ? (
          <span role="alert" className="timeline-error">
            {error}
          </span>
        ) : null}
      </div>
      {cursors.a !== null ? (
        <div className="timeline-measure" data-testid="timeline-measure">
          <span>A {formatNs(cursors.a)}</span>
          {cursors.b !== null ? <span>B {formatNs(cursors.b)}</span> : <span className="timeline-hint">Alt+click to place B</span>}
          {delta !== null ? (
            <span>
              Δt {formatNs(delta)}
              {between !== null ? ` · ${between.toLocaleString('en-US')} messages${delta > 0 ? ` (${formatSi((between * 1e9) / delta)} messages/s)` : ''}` : ''}
            </span>
          ) : null}
          <button type="button" onClick={() => setCursors({ a: null, b: null })}>
            Clear cursors
          </button>
        </div>
      ) : null}
      {stats === null || stats.records === 0 ? <p className="timeline-empty">No trace yet: connect a board or open a capture.</p> : null}
      <div
        className="timeline-lanes"
        aria-label="lanes"
        onWheel={onWheel}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
        onPointerCancel={() => {
          drag.current = null;
          setSelection(null);
        }}
      >
        {allLanes.map((l) => {
          const w = windows.get(l.key);
          const data: uPlot.AlignedData = w ? [xs(w), l.series === 'occupancy' ? w.max : w.count] : [[], []];
          const events = l.series === 'records';
          return (
            <div key={l.key} className={events ? 'timeline-lane timeline-events' : 'timeline-lane'} data-lane={l.key}>
              <span className="timeline-lane-label">
                {l.label}
                <span
                  className="timeline-readout"
                  data-testid={`readout-${l.key}`}
                  ref={(el) => {
                    if (el) readoutEls.current.set(l.key, el);
                    else readoutEls.current.delete(l.key);
                  }}
                />
              </span>
              <Plot options={laneOpts.get(l.key)!} data={data} width={width - 8} height={events ? EVENT_PX : LANE_PX} />
            </div>
          );
        })}
        <div className="timeline-lane" data-lane="throughput">
          <span className="timeline-lane-label">
            <span className="timeline-series-messages">messages/s</span> · <span className="timeline-series-bytes">bytes/s</span> (below){' '}
            <span ref={readout} className="timeline-readout" data-testid="throughput-readout" />
          </span>
          <Plot options={rateOpts.messages} data={messagesData} width={width - 8} height={100} />
        </div>
        <div className="timeline-lane" data-lane="bytes">
          <Plot options={rateOpts.bytes} data={bytesData} width={width - 8} height={100 + X_AXIS_PX} />
        </div>
        {mark(cursors.a, 'timeline-cursor', 'A')}
        {mark(cursors.b, 'timeline-cursor', 'B')}
        {selection ? (
          <div
            className="timeline-selection"
            style={{ left: Y_AXIS_PX + ((selection.fromNs - view.fromNs) / span) * plotWidth, width: ((selection.toNs - selection.fromNs) / span) * plotWidth }}
            aria-hidden="true"
          />
        ) : null}
      </div>
      <section className="timeline-latency" aria-label="latency histogram">
        <label>
          latency of{' '}
          <select value={shownLatency?.name ?? ''} onChange={(e) => setLatencyName(e.target.value)} disabled={latency.length === 0}>
            {latency.map((l) => (
              <option key={l.name} value={l.name}>
                {l.name} ({l.count})
              </option>
            ))}
          </select>
        </label>
        {shownLatency ? (
          <>
            <span className="timeline-latency-facts">
              min {formatNs(shownLatency.minNs)} · p50 {formatNs(shownLatency.p50Ns)} · p90 {formatNs(shownLatency.p90Ns)} · p99 {formatNs(shownLatency.p99Ns)} · max{' '}
              {formatNs(shownLatency.maxNs)}
            </span>
            <Plot options={histogramOpts} data={[shownLatency.histogram.map((_, i) => i), shownLatency.histogram.map((b) => b.count)]} width={width - 8} height={180} />
          </>
        ) : (
          <p className="timeline-empty">No request has had its response yet.</p>
        )}
      </section>
    </div>
  );
}
