/**
 * Finding rows by trace position in a (filtered) view, through trace.rows only. A filtered view's
 * rows report their trace position (`index`) in increasing order, so a binary search of about
 * log2(n) one-row requests finds any position.
 */
import type { TraceRow, WorkbenchApi } from '../../../../src/api/workbench';

/** Both filters at once; empty parts drop out. */
export function andFilters(a: string, b: string): string {
  const x = a.trim();
  const y = b.trim();
  return x === '' ? y : y === '' ? x : `(${x}) && (${y})`;
}

async function rowsOf(api: WorkbenchApi, filter: string, from: number, count: number): Promise<{ total: number; rows: TraceRow[] } | null> {
  const r = await api.call('trace.rows', { from, count, ...(filter.trim() !== '' ? { filter } : {}) });
  return r.ok ? r.result : null;
}

/** View index of the first row of `filter`'s view at trace position ≥ `position` (the view's size when none), and that row. */
export async function lowerBound(api: WorkbenchApi, filter: string, position: number): Promise<{ viewIndex: number; row: TraceRow | null }> {
  if (filter.trim() === '') {
    const r = await rowsOf(api, '', position, 1);
    return { viewIndex: Math.min(position, r?.total ?? position), row: r?.rows[0] ?? null };
  }
  const first = await rowsOf(api, filter, 0, 1);
  if (!first) return { viewIndex: 0, row: null };
  let lo = 0;
  let hi = first.total;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const row = (mid === 0 ? first : await rowsOf(api, filter, mid, 1))?.rows[0];
    if (!row || row.index >= position) hi = mid;
    else lo = mid + 1;
  }
  const row = lo < first.total ? ((lo === 0 ? first : await rowsOf(api, filter, lo, 1))?.rows[0] ?? null) : null;
  return { viewIndex: lo, row };
}

/**
 * The nearest row after (dir 1) or before (dir -1) trace position `position` that `what` accepts
 * within the view of `filter`; null when there is none.
 */
export async function neighbour(api: WorkbenchApi, filter: string, what: string, position: number, dir: 1 | -1): Promise<TraceRow | null> {
  const both = andFilters(filter, what);
  const { viewIndex, row } = await lowerBound(api, both, dir === 1 ? position + 1 : position);
  if (dir === 1) return row;
  if (viewIndex === 0) return null;
  return (await rowsOf(api, both, viewIndex - 1, 1))?.rows[0] ?? null;
}

/** Candidates looked at when finding a request's response (responses with the same token, in order). */
const RESPONSE_CANDIDATES = 200;

/**
 * The response to a request (or the no-response marker about it): the first later record whose
 * pairSeq is the request's seq. The recorder stores the pair on the response only (record.ts +48).
 */
export async function responseOf(api: WorkbenchApi, request: TraceRow): Promise<TraceRow | null> {
  const filter = `seq > ${request.seq} && ((type == response && token == ${request.token}) || msg == NO_RESPONSE)`;
  const r = await rowsOf(api, filter, 0, RESPONSE_CANDIDATES);
  return r?.rows.find((x) => x.pairSeq === request.seq) ?? null;
}

/** A record by seq, as a row (trace.record carries the row). */
export async function rowBySeq(api: WorkbenchApi, seq: number): Promise<TraceRow | null> {
  const r = await api.call('trace.record', { seq });
  return r.ok ? r.result.row : null;
}
