/**
 * The Timeline: a lane per device (messages per bucket) and per device virtqueue (descriptors in
 * flight, the max per bucket), a throughput chart and a latency histogram per request type.
 * Everything is a windowed query at screen resolution: trace.window with one bucket per pixel of
 * plot width (docs/stack.md §6 rule 4), so the engine reduces the trace and the page draws only
 * what fits. Wheel zooms around the pointer, dragging pans; the lanes share one time axis.
 */
import { useCallback, useEffect, useMemo, useRef, useState, type PointerEvent, type WheelEvent } from 'react';
import uPlot from 'uplot';

import type { WorkbenchApi, WorkbenchParams, WorkbenchResult } from '../../../../src/api/workbench';
import type { ViewNav } from '../../ui/nav';
import { useTraceTick } from '../../ui/useTraceTick';
import { formatNs } from '../trace/traceFormat';
import { AXIS_FONT, axisSize, formatSi, siValues } from './axes';
import { Plot } from './Plot';
import './timeline.css';

type Stats = WorkbenchResult<'trace.stats'>;
type Window = WorkbenchResult<'trace.window'>;

interface Lane {
  key: string;
  label: string;
  series: 'messages' | 'occupancy';
  dev: number;
  queue?: number;
}

/**
 * Width every chart keeps on each side of its plot (a y axis, or padding where it has none), so
 * the plots' time axes line up and a pointer maps to a time. SI labels fit in it; a wider one
 * widens its axis rather than being clipped.
 */
const Y_AXIS_PX = 56;
const LANE_PX = 56;
/** The last lane carries the shared time axis below its plot. */
const X_AXIS_PX = 40;
const REFRESH_MS = 1000;
/** Narrowest window zooming goes to. */
const MIN_SPAN_NS = 1000;

function cssColor(name: string, fallback: string): string {
  const v = typeof document === 'undefined' ? '' : getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v === '' ? fallback : v;
}

function lanesOf(stats: Stats): Lane[] {
  const lanes: Lane[] = [];
  for (const d of stats.devices) {
    if (d.dev !== null) lanes.push({ key: `d${d.dev}`, label: `dev ${d.dev} messages`, series: 'messages', dev: d.dev });
  }
  for (const o of stats.occupancy) {
    if (o.dev !== null) lanes.push({ key: `d${o.dev}q${o.queue}`, label: `dev ${o.dev} vq ${o.queue} in flight`, series: 'occupancy', dev: o.dev, queue: o.queue });
  }
  return lanes.sort((a, b) => a.dev - b.dev || (a.queue ?? -1) - (b.queue ?? -1));
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

function laneOptions(label: string, stroke: string, showX: boolean): Omit<uPlot.Options, 'width' | 'height'> {
  return {
    legend: { show: false },
    cursor: { drag: { x: false, y: false }, sync: { key: 'timeline' } },
    scales: { x: { time: false } },
    // The right padding stands in for the throughput chart's right axis.
    padding: [null, Y_AXIS_PX, null, null],
    axes: [{ show: showX, stroke, font: AXIS_FONT }, yAxis(stroke, { label, labelSize: 0, ticks: { show: false } })],
    series: [{}, { label, stroke, fill: translucent(stroke), width: 1 }],
  };
}

interface View {
  fromNs: number;
  toNs: number;
}

export function TimelineView({ api, nav }: { api: WorkbenchApi; nav: ViewNav }) {
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(800);
  const [stats, setStats] = useState<Stats | null>(null);
  /** null: the whole trace, growing with it. */
  const [zoom, setZoom] = useState<View | null>(null);
  const [windows, setWindows] = useState<Map<string, Window>>(new Map());
  const [latencyName, setLatencyName] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  // The trace grew or was replaced: query again, at most once per REFRESH_MS.
  const resetZoom = useCallback(() => setZoom(null), []);
  const tick = useTraceTick(api, REFRESH_MS, resetZoom);
  const drag = useRef<{ x: number; view: View } | null>(null);

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
    void api.call('trace.stats', {}).then((r) => {
      if (!live) return;
      if (r.ok) {
        setStats(r.result);
        setError(null);
      } else setError(r.error.message);
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
      ...lanes.map((l) => query(l.key, { series: l.series, dev: l.dev, ...(l.queue !== undefined ? { queue: l.queue } : {}) })),
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

  const colors = useMemo(() => ({ accent: cssColor('--accent', '#3b82f6'), muted: cssColor('--muted', '#888'), warn: cssColor('--warn', '#d97706') }), []);
  const laneOpts = useMemo(() => new Map(lanes.map((l, i) => [l.key, laneOptions(l.label, l.series === 'messages' ? colors.accent : colors.warn, i === lanes.length - 1)])), [lanes, colors]);
  // The values under the cursor (on any lane: the cursors are synced) go into the lane's label.
  const readout = useRef<HTMLSpanElement>(null);
  const throughputOpts = useMemo<Omit<uPlot.Options, 'width' | 'height'>>(
    () => ({
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, sync: { key: 'timeline' } },
      scales: { x: { time: false }, bytes: {} },
      axes: [{ stroke: colors.muted, font: AXIS_FONT }, yAxis(colors.accent), yAxis(colors.warn, { scale: 'bytes', side: 1 })],
      series: [{}, { label: 'messages/s', stroke: colors.accent, width: 1 }, { label: 'bytes/s', stroke: colors.warn, scale: 'bytes', width: 1 }],
      hooks: {
        setCursor: [
          (u) => {
            if (!readout.current) return;
            const i = u.cursor.idx;
            const [x, messages, bytes] = u.data.map((d) => (i === null || i === undefined ? null : d[i]));
            readout.current.textContent =
              x === null || x === undefined ? '' : `at ${formatNs(x * 1e9)}: ${formatSi(messages ?? 0)} messages/s · ${formatSi(bytes ?? 0)} bytes/s`;
          },
        ],
      },
    }),
    [colors],
  );

  const latency = stats?.latency ?? [];
  // Until the user picks one: the request type with the most answers, the one worth looking at.
  const shownLatency = latency.find((l) => l.name === latencyName) ?? latency.reduce<(typeof latency)[number] | undefined>((a, l) => (!a || l.count > a.count ? l : a), undefined);
  const histogramOpts = useMemo<Omit<uPlot.Options, 'width' | 'height'>>(() => {
    const edges = shownLatency?.histogram.map((b) => b.fromNs) ?? [];
    return {
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      // One slot per bucket, labelled at its lower edge, so a single bucket is one bar, not the whole width.
      scales: { x: { time: false, range: () => [-0.5, Math.max(edges.length, 8) - 0.5] } },
      axes: [
        {
          stroke: colors.muted,
          font: AXIS_FONT,
          splits: () => edges.map((_, i) => i),
          values: (_u, ticks) => ticks.map((t) => (edges[t] === undefined ? '' : formatNs(edges[t]!))),
        },
        // Counts: whole-number ticks only.
        { ...yAxis(colors.accent), incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 1e7] },
      ],
      series: [{}, { label: 'requests', stroke: colors.accent, fill: colors.accent, paths: uPlot.paths.bars!({ size: [0.9] }) }],
    };
  }, [shownLatency, colors]);

  const perSecond = (w: Window | undefined, pick: 'count' | 'sum'): (number | null)[] => (w ? w[pick].map((x) => (x * 1e9) / w.bucketNs) : []);
  const throughput = windows.get('throughput');
  const throughputData: uPlot.AlignedData = [throughput ? xs(throughput) : [], perSecond(throughput, 'count'), perSecond(windows.get('bytes'), 'sum')];

  const span = view.toNs - view.fromNs;
  const timeAt = (clientX: number): { f: number; t: number } => {
    const rect = box.current?.getBoundingClientRect();
    const f = rect ? Math.max(0, Math.min(1, (clientX - rect.left - Y_AXIS_PX) / plotWidth)) : 0.5;
    return { f, t: view.fromNs + f * span };
  };
  const clamp = (fromNs: number, toNs: number): View | null => {
    const s = Math.max(MIN_SPAN_NS, Math.min(fullTo, toNs - fromNs));
    if (s >= fullTo) return null;
    const from = Math.max(0, Math.min(fullTo - s, fromNs));
    return { fromNs: from, toNs: from + s };
  };
  const onWheel = (e: WheelEvent<HTMLDivElement>): void => {
    const { f, t } = timeAt(e.clientX);
    const s = span * (e.deltaY > 0 ? 1.25 : 0.8);
    setZoom(clamp(t - f * s, t - f * s + s));
  };
  const onPointerDown = (e: PointerEvent<HTMLDivElement>): void => {
    drag.current = { x: e.clientX, view };
    e.currentTarget.setPointerCapture?.(e.pointerId);
  };
  const onPointerMove = (e: PointerEvent<HTMLDivElement>): void => {
    const d = drag.current;
    if (!d) return;
    const dt = ((d.x - e.clientX) / plotWidth) * (d.view.toNs - d.view.fromNs);
    setZoom(clamp(d.view.fromNs + dt, d.view.toNs + dt));
  };

  return (
    <div className="timeline-view" ref={box}>
      <div className="timeline-toolbar">
        <span>
          {formatNs(view.fromNs)} – {formatNs(view.toNs)} ({formatNs(span)} across {plotWidth} px)
        </span>
        <button type="button" disabled={zoom === null} onClick={() => setZoom(null)}>
          Whole trace
        </button>
        <span className="timeline-hint">wheel: zoom · drag: pan</span>
        {error ? (
          <span role="alert" className="timeline-error">
            {error}
          </span>
        ) : null}
      </div>
      {stats === null || stats.records === 0 ? <p className="timeline-empty">No trace yet: connect a board or open a capture.</p> : null}
      <div
        className="timeline-lanes"
        aria-label="lanes"
        onWheel={onWheel}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={() => (drag.current = null)}
        onPointerCancel={() => (drag.current = null)}
      >
        {lanes.map((l, i) => {
          const w = windows.get(l.key);
          const data: uPlot.AlignedData = w ? [xs(w), l.series === 'messages' ? w.count : w.max] : [[], []];
          return (
            <div key={l.key} className="timeline-lane" data-lane={l.key}>
              <span className="timeline-lane-label">{l.label}</span>
              <Plot options={laneOpts.get(l.key)!} data={data} width={width - 8} height={i === lanes.length - 1 ? LANE_PX + X_AXIS_PX : LANE_PX} />
            </div>
          );
        })}
        <div className="timeline-lane" data-lane="throughput">
          <span className="timeline-lane-label">
            throughput: <span className="timeline-series-messages">messages/s</span> (left) · <span className="timeline-series-bytes">bytes/s</span> (right){' '}
            <span ref={readout} className="timeline-readout" data-testid="throughput-readout" />
          </span>
          <Plot options={throughputOpts} data={throughputData} width={width - 8} height={140} />
        </div>
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
            <Plot options={histogramOpts} data={[shownLatency.histogram.map((_, i) => i), shownLatency.histogram.map((b) => b.count)]} width={width - 8} height={160} />
          </>
        ) : (
          <p className="timeline-empty">No request has had its response yet.</p>
        )}
      </section>
    </div>
  );
}
