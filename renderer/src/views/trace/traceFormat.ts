/** How trace values read in the UI: times from the capture start, directions, field values. */
import type { RecordDetail, TraceRow } from '../../../../src/api/workbench';
import { formatNs } from '../../../../src/trace/stats';
import { hexNum } from '../../../../src/util/hex';

export { formatNs };

/** Seconds with microseconds, fixed width so the column lines up: "12.345678". */
export function formatTime(ns: number): string {
  return (ns / 1e9).toFixed(6);
}

/** Seconds with nanoseconds, from the integer so no digit is lost to floating point: "12.345678901"; negative for times before a reference. */
export function formatTimeNs(ns: number): string {
  const sign = ns < 0 ? '-' : '';
  const a = Math.abs(ns);
  return `${sign}${Math.floor(a / 1e9)}.${String(a % 1e9).padStart(9, '0')}`;
}

/** A signed offset in seconds with microseconds (Δ and reference times): "+0.000120", "-1.500000". */
export function formatOffset(ns: number): string {
  return `${ns < 0 ? '-' : '+'}${formatTime(Math.abs(ns))}`;
}

/** Wall-clock time of day in UTC with microseconds: "04:40:00.123456", from the capture's start (ns since the epoch) and a record's offset. */
export function formatWall(startWallNs: bigint, ns: number): string {
  const t = startWallNs + BigInt(ns);
  const secondOfDay = Number((t / 1_000_000_000n) % 86_400n);
  const hms = [Math.floor(secondOfDay / 3600), Math.floor(secondOfDay / 60) % 60, secondOfDay % 60].map((v) => String(v).padStart(2, '0')).join(':');
  return `${hms}.${String((t % 1_000_000_000n) / 1000n).padStart(6, '0')}`;
}

/** A full wall-clock date and time in UTC with nanoseconds, for the detail pane: "2025-11-21 04:40:00.123456789 UTC". */
export function formatWallDate(wallNs: bigint): string {
  const date = new Date(Number(wallNs / 1_000_000n)).toISOString().slice(0, 19).replace('T', ' ');
  return `${date}.${String(wallNs % 1_000_000_000n).padStart(9, '0')} UTC`;
}

export function formatDir(dir: TraceRow['dir']): string {
  return dir === 'driver-to-device' ? 'drv → dev' : dir === 'device-to-driver' ? 'dev → drv' : '';
}

export function formatValue(v: RecordDetail['fields'][number]['value']): string {
  if (typeof v === 'number') return v > 9 ? `${v} (${hexNum(v)})` : String(v);
  // Feature words and the like read as hex words, zero-padded.
  if (Array.isArray(v) && v.length <= 32) return v.map((w) => hexNum(w, 8)).join(' ');
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
