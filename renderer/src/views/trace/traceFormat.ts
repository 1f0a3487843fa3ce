/** How trace values read in the UI: times from the capture start, directions, field values. */
import type { RecordDetail, TraceRow } from '../../../../src/api/workbench';
import { formatNs } from '../../../../src/trace/stats';
import { hexNum } from '../../../../src/util/hex';

export { formatNs };

/** Seconds with microseconds, fixed width so the column lines up: "12.345678". */
export function formatTime(ns: number): string {
  return (ns / 1e9).toFixed(6);
}

export function formatDir(dir: TraceRow['dir']): string {
  return dir === 'driver-to-device' ? 'drv → dev' : dir === 'device-to-driver' ? 'dev → drv' : '';
}

export function formatValue(v: RecordDetail['fields'][number]['value']): string {
  if (typeof v === 'number') return v > 9 ? `${v} (${hexNum(v)})` : String(v);
  if (typeof v === 'string') return v;
  return v.length > 32 ? `${v.length} values: ${v.slice(0, 32).join(', ')}, …` : v.join(', ');
}

export function formatBytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1 << 10 ? `${(n / (1 << 10)).toFixed(1)} KiB` : `${n} B`;
}

/** The CSS row height (--row-h) in px; the virtualizer needs it as a number. */
export function rowHeightPx(el: Element | null): number {
  const v = el ? parseFloat(getComputedStyle(el).getPropertyValue('--row-h')) : NaN;
  return Number.isFinite(v) && v > 0 ? v : 22;
}
