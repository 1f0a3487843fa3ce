/**
 * trace.rows ordered by a column (the Trace view's sortable columns, as Wireshark sorts its
 * packet list): the view's positions ordered by a key read from each record, ties kept in trace
 * order. A sorted view is a snapshot of the view as it stands when asked, computed again when
 * the view has grown; it holds at most MAX_SORTED_ROWS rows (a key and a position each), so a
 * bigger view is narrowed with a filter first.
 */
import type { SortColumn } from '../../../src/api/workbench';
import { NAME_SLOTS, nameSlot } from '../../../src/trace/names';
import { NO_DEV, RECORD_FLAGS, RECORD_KINDS, timeBase, type RecordView, type TimeBase } from '../../../src/trace/record';
import type { TraceStore } from './traceStore';

export const MAX_SORTED_ROWS = 2_000_000;

/** Each name slot's place in alphabetical order, so msg sorts by name with one lookup. */
const NAME_RANK: Float64Array = (() => {
  const order = NAME_SLOTS.map((name, slot) => ({ name, slot })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const rank = new Float64Array(NAME_SLOTS.length);
  order.forEach((o, i) => (rank[o.slot] = i));
  return rank;
})();

/** Records without the column's value (dev of a doorbell, latency of a request) sort after all others, ascending. */
const ABSENT = Number.MAX_VALUE;

const KIND_MESSAGE = RECORD_KINDS.indexOf('message');

const KEYS: Readonly<Record<SortColumn, (v: RecordView, base: TimeBase) => number>> = {
  seq: (v) => v.seq,
  time: (v, base) => v.relNs(base),
  dir: (v) => (v.dirCode === 0 ? ABSENT : v.dirCode),
  dev: (v) => (v.devNum === NO_DEV ? ABSENT : v.devNum),
  msg: (v) => NAME_RANK[nameSlot(v)]!,
  token: (v) => (v.kindCode === KIND_MESSAGE && (v.flags & RECORD_FLAGS.noHeader) === 0 ? v.token : ABSENT),
  queue: (v) => v.channel,
  size: (v) => v.dataLength,
  latency: (v) => ((v.flags & RECORD_FLAGS.response) !== 0 && v.pairSeq >= 0 ? v.latencyNs : ABSENT),
};

interface Sorted {
  total: number;
  /** The view's first position: a rolling capture that dropped records starts later. */
  first: number | undefined;
  /** Trace positions in sorted order. */
  order: Uint32Array;
}

/** Why a view is not sorted: it holds more rows than a sort keeps. */
export function tooManyToSort(total: number): string {
  return `sorting holds at most ${MAX_SORTED_ROWS.toLocaleString('en')} rows and this view has ${total.toLocaleString('en')}: narrow it with a filter first`;
}

/** The last few sorted views, by store, filter, column and direction. */
const cache = new WeakMap<TraceStore, Map<string, Sorted>>();
const MAX_CACHED = 2;

/** Positions of rows [from, from + n) of `positions` (the view, in trace order, at most MAX_SORTED_ROWS) sorted by `column`, and the view's size. */
export function sortedRows(s: TraceStore, viewKey: string, positions: readonly number[], column: SortColumn, descending: boolean, from: number, n: number): { total: number; positions: number[] } {
  let byKey = cache.get(s);
  if (!byKey) cache.set(s, (byKey = new Map()));
  const key = `${column}|${descending}|${viewKey}`;
  let sorted = byKey.get(key);
  // The view grew (or a rolling capture dropped records): sort it again.
  if (!sorted || sorted.total !== positions.length || sorted.first !== positions[0]) {
    const read = KEYS[column];
    const base = timeBase(s.source.meta.startMonoNs);
    const keys = new Float64Array(positions.length);
    positions.forEach((p, i) => {
      const v = s.at(p);
      keys[i] = v ? read(v, base) : ABSENT;
    });
    const idx = new Uint32Array(positions.length).map((_, i) => i);
    const sign = descending ? -1 : 1;
    idx.sort((a, b) => (keys[a] === keys[b] ? a - b : keys[a]! < keys[b]! ? -sign : sign));
    sorted = { total: positions.length, first: positions[0], order: idx.map((i) => positions[i]!) };
    byKey.delete(key);
    byKey.set(key, sorted);
    while (byKey.size > MAX_CACHED) byKey.delete(byKey.keys().next().value!);
  }
  return { total: sorted.total, positions: Array.from(sorted.order.subarray(Math.min(from, sorted.total), Math.min(sorted.total, from + n))) };
}
