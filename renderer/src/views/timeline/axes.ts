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

/**
 * The time axis's labels: seconds since the capture start with as many decimals as the tick step
 * needs, so neighbouring labels never collapse into one ("137.829 / 137.83") however far it zooms.
 */
export function timeDecimals(stepS: number): number {
  return stepS > 0 ? Math.min(9, Math.max(0, Math.ceil(-Math.log10(stepS) - 1e-9))) : 0;
}

/** uPlot axis `values` for the time axis (x in seconds): every label with the step's decimals. */
export const timeValues = (_u: uPlot, splits: number[], _axis: number, _space: number, incr: number): string[] => splits.map((s) => s.toFixed(timeDecimals(incr)));

/**
 * A time range in one unit (that of its end) with the decimals that keep a hundredth of its span
 * visible: "137.82900 – 137.83000 s", never "138 s – 138 s".
 */
export function formatRange(fromNs: number, toNs: number): string {
  const [div, unit] = toNs >= 1e9 ? [1e9, 's'] : toNs >= 1e6 ? [1e6, 'ms'] : toNs >= 1e3 ? [1e3, 'µs'] : [1, 'ns'];
  const resolution = Math.max(1, (toNs - fromNs) / 100);
  const decimals = Math.min(9, Math.max(0, Math.ceil(Math.log10(div / resolution))));
  return `${(fromNs / div).toFixed(decimals)} – ${(toNs / div).toFixed(decimals)} ${unit}`;
}
