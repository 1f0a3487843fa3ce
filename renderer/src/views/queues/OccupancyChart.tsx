/**
 * Occupancy of one virtqueue over the whole trace: trace.window series "occupancy" (in-flight
 * chains from vq-index records), max per bucket, drawn as bars with axes: chains in flight
 * scaled to the peak (rounded up to 1, 2 or 5 × 10ⁿ; the queue size is said, not drawn, since a
 * peak of 2 in a 128-entry queue would be a flat line), time since the capture start below.
 * Refetched when the trace grows, at most once a second.
 */
import { useEffect, useState } from 'react';

import type { WorkbenchApi, WorkbenchError, WorkbenchResult } from '../../../../src/api/workbench';
import { formatNs } from '../../../../src/trace/stats';

type Window = WorkbenchResult<'trace.window'>;

/** Buckets, one per plot pixel. */
const BUCKETS = 600;
const PLOT_H = 90;
/** Room for the y labels on the left and the time labels below. */
const LEFT = 40;
const BOTTOM = 20;
const TOP = 6;
const RIGHT = 12;

/** The smallest 1, 2 or 5 × 10ⁿ at or above `v` (at least 1): the top of the y axis. */
export function niceCeil(v: number): number {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((t) => t >= v)!;
}

/** The y ticks: 0, the middle when it is a whole number, the top. */
export function yTicks(top: number): number[] {
  return top % 2 === 0 ? [0, top / 2, top] : [0, top];
}

/** Bars as one SVG path: bucket i at x = i, height v / top of the plot. */
function barsPath(max: readonly (number | null)[], top: number): string {
  const w = BUCKETS / max.length;
  return max
    .map((v, i) => {
      if (v === null || v === 0) return '';
      const h = (v / top) * PLOT_H;
      return `M${(LEFT + i * w).toFixed(1)} ${(TOP + PLOT_H).toFixed(1)}v${(-h).toFixed(1)}h${Math.max(1, w).toFixed(1)}v${h.toFixed(1)}z`;
    })
    .join('');
}

export function OccupancyChart({ api, devNum, queue, size }: { api: WorkbenchApi; devNum: number; queue: number; size: number }) {
  const [info, setInfo] = useState<{ window: Window | null; error: WorkbenchError | null }>({ window: null, error: null });

  useEffect(() => {
    let alive = true;
    let grew = true;
    const load = async (): Promise<void> => {
      if (!grew) return;
      grew = false;
      const t = await api.call('trace.info', {});
      if (!alive) return;
      if (!t.ok) return setInfo({ window: null, error: t.error });
      const { firstNs, lastNs } = t.result;
      if (firstNs === null || lastNs === null || lastNs <= firstNs) return;
      const r = await api.call('trace.window', { fromNs: firstNs, toNs: lastNs + 1, buckets: BUCKETS, series: 'occupancy', dev: devNum, queue });
      if (alive) setInfo(r.ok ? { window: r.result, error: null } : { window: null, error: r.error });
    };
    const off = api.onEvent((e) => {
      if (e.event === 'trace.appended' || e.event === 'trace.reset') grew = true;
    });
    void load();
    const timer = setInterval(() => void load(), 1000);
    return () => {
      alive = false;
      off();
      clearInterval(timer);
    };
  }, [api, devNum, queue]);

  const w = info.window;
  const peak = w ? w.max.reduce<number | null>((m, v) => (v === null ? m : Math.max(m ?? 0, v)), null) : null;
  const top = niceCeil(peak ?? 0);
  const width = LEFT + BUCKETS + RIGHT;
  const height = TOP + PLOT_H + BOTTOM;
  const y = (v: number): number => TOP + PLOT_H - (v / top) * PLOT_H;
  const times = w ? [w.fromNs, (w.fromNs + w.toNs) / 2, w.toNs] : [];

  return (
    <div className="occupancy">
      <h4>
        Occupancy over time{' '}
        <span className="muted" data-testid="occupancy-caption">
          (chains in flight, max per {w ? formatNs(w.bucketNs) : 'bucket'}
          {peak !== null ? `; peak ${peak} of queue size ${size}` : ''})
        </span>
      </h4>
      {info.error && <p className="muted">{info.error.message}</p>}
      {!info.error && w === null && <p className="muted">No trace yet.</p>}
      {w && (
        <svg className="occupancy-chart" viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="img" aria-label={`Occupancy of queue ${queue} of device ${devNum}`}>
          <path className="occ-bars" d={barsPath(w.max, top)} />
          <g className="occ-axis" data-axis="y">
            <line x1={LEFT} y1={TOP} x2={LEFT} y2={TOP + PLOT_H} />
            {yTicks(top).map((t) => (
              <g key={t}>
                <line x1={LEFT - 4} y1={y(t)} x2={LEFT + BUCKETS} y2={y(t)} className={t === 0 ? undefined : 'occ-grid'} />
                <text x={LEFT - 6} y={y(t) + 4} textAnchor="end">
                  {t}
                </text>
              </g>
            ))}
          </g>
          <g className="occ-axis" data-axis="x">
            {times.map((ns, i) => (
              <text key={i} x={LEFT + (i * BUCKETS) / 2} y={TOP + PLOT_H + 15} textAnchor={i === 0 ? 'start' : i === 2 ? 'end' : 'middle'}>
                {formatNs(ns)}
              </text>
            ))}
          </g>
        </svg>
      )}
      {w && <p className="muted occ-note">time since the capture started; bars: the most chains in flight within each bucket</p>}
    </div>
  );
}
