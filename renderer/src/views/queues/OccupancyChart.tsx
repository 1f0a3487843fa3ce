/**
 * Occupancy of one virtqueue over the whole trace: trace.window series "occupancy" (in-flight
 * chains from vq-index records) at one bucket per CSS pixel, drawn as max-per-bucket bars on a
 * canvas. Refetched when the trace grows, at most once a second.
 */
import { useEffect, useRef, useState } from 'react';

import type { WorkbenchApi, WorkbenchError, WorkbenchResult } from '../../../../src/api/workbench';

type Window = WorkbenchResult<'trace.window'>;

const WIDTH = 600;
const HEIGHT = 90;

function draw(canvas: HTMLCanvasElement, w: Window, size: number): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const css = getComputedStyle(canvas);
  const ratio = window.devicePixelRatio || 1;
  canvas.width = WIDTH * ratio;
  canvas.height = HEIGHT * ratio;
  ctx.scale(ratio, ratio);
  ctx.clearRect(0, 0, WIDTH, HEIGHT);
  const top = Math.max(1, size, ...w.max.map((v) => v ?? 0));
  ctx.fillStyle = css.getPropertyValue('--accent').trim() || '#2563eb';
  const bar = WIDTH / w.max.length;
  w.max.forEach((v, i) => {
    if (v === null) return;
    const h = (v / top) * (HEIGHT - 2);
    ctx.fillRect(i * bar, HEIGHT - h, Math.max(1, bar), h);
  });
  ctx.strokeStyle = css.getPropertyValue('--border').trim() || '#ccc';
  ctx.strokeRect(0.5, 0.5, WIDTH - 1, HEIGHT - 1);
}

export function OccupancyChart({ api, devNum, queue, size }: { api: WorkbenchApi; devNum: number; queue: number; size: number }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [info, setInfo] = useState<{ window: Window | null; error: WorkbenchError | null; peak: number | null }>({ window: null, error: null, peak: null });

  useEffect(() => {
    let alive = true;
    let grew = true;
    const load = async (): Promise<void> => {
      if (!grew) return;
      grew = false;
      const t = await api.call('trace.info', {});
      if (!t.ok) return alive ? setInfo({ window: null, error: t.error, peak: null }) : undefined;
      const { firstNs, lastNs } = t.result;
      if (firstNs === null || lastNs === null || lastNs <= firstNs) return;
      const r = await api.call('trace.window', { fromNs: firstNs, toNs: lastNs + 1, buckets: WIDTH, series: 'occupancy', dev: devNum, queue });
      if (!alive) return;
      if (!r.ok) return setInfo({ window: null, error: r.error, peak: null });
      const peak = r.result.max.reduce<number | null>((m, v) => (v === null ? m : Math.max(m ?? 0, v)), null);
      setInfo({ window: r.result, error: null, peak });
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

  useEffect(() => {
    if (canvas.current && info.window) draw(canvas.current, info.window, size);
  }, [info.window, size]);

  return (
    <div className="occupancy">
      <h4>
        Occupancy over time <span className="muted">(chains in flight, max per bucket{info.peak !== null ? `; peak ${info.peak} of ${size}` : ''})</span>
      </h4>
      {info.error && <p className="muted">{info.error.message}</p>}
      {!info.error && info.window === null && <p className="muted">No trace yet.</p>}
      <canvas ref={canvas} className="occupancy-canvas" width={WIDTH} height={HEIGHT} aria-label={`Occupancy of queue ${queue} of device ${devNum}`} />
    </div>
  );
}
