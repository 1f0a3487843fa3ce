/**
 * Y axes of the timeline's charts: SI-prefixed labels (200k, 1.2M) and a width measured from the
 * labels uPlot is about to draw, so none is clipped, yet at least the width every chart reserves on
 * each side, so the charts' time axes line up.
 */
import type uPlot from 'uplot';

const PREFIXES = ['', 'k', 'M', 'G', 'T', 'P'] as const;

/** 1250000 → "1.25M", 200000 → "200k", 12.5 → "12.5": three significant digits at most. */
export function formatSi(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  let x = Math.abs(v);
  let p = 0;
  for (;;) {
    x = Number(x.toPrecision(3));
    if (x < 1000 || p === PREFIXES.length - 1) break;
    x /= 1000;
    p++;
  }
  return `${v < 0 ? '-' : ''}${x}${PREFIXES[p]}`;
}

/** uPlot axis `values`: SI labels for the ticks. */
export const siValues = (_u: uPlot, splits: number[]): string[] => splits.map(formatSi);

/** uPlot's axis font (set explicitly so the measurement below uses what is drawn). */
export const AXIS_FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif';
/** uPlot's defaults: tick length and the gap between ticks and labels. */
const TICK_PX = 10;
const GAP_PX = 5;

let measurer: OffscreenCanvasRenderingContext2D | null | undefined;

/** Width of `text` in AXIS_FONT in CSS px (estimated where there is no canvas, as in jsdom). */
export function labelWidth(text: string): number {
  if (measurer === undefined) {
    measurer = typeof OffscreenCanvas === 'undefined' ? null : new OffscreenCanvas(1, 1).getContext('2d');
    if (measurer) measurer.font = AXIS_FONT;
  }
  return measurer ? measurer.measureText(text).width : text.length * 7;
}

/**
 * uPlot axis `size`: ticks, gap and the widest label, never below `min`. uPlot asks first without
 * values (before it has laid out the ticks), then again with the labels until the size settles.
 */
export function axisSize(min: number, ticks = true): uPlot.Axis.Size {
  return (_u, values) => {
    const widest = Math.max(0, ...(values ?? []).map((v) => (v ? labelWidth(v) : 0)));
    return Math.max(min, Math.ceil((ticks ? TICK_PX : 0) + GAP_PX + widest + 2));
  };
}
