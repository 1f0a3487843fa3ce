/**
 * The virtualized trace table. One native scroller cannot hold more than about 1.6 M rows
 * (Chromium clamps an element's height at 33,554,428 px: docs/stack.md §6 rule 3, §11 pitfall 12), so
 * the virtualizer covers a window of at most WINDOW_ROWS view rows starting at `base`; scrolling
 * near the window's edge slides the window by half its size and moves the scroll position back
 * by as much, so the rows under the pointer do not move. The overview bar on the right maps the
 * whole view: click or drag it to go anywhere. The window also bounds the virtualizer's own
 * per-row bookkeeping, which would otherwise be redone over the whole trace on every append.
 */
import { useVirtualizer } from '@tanstack/react-virtual';
import { forwardRef, useEffect, useImperativeHandle, useLayoutEffect, useReducer, useRef, useState, type PointerEvent } from 'react';

import { SORT_COLUMNS, type SortColumn, type TraceRow } from '../../../../src/api/workbench';
import { formatDir, formatNs, rowHeightPx } from './traceFormat';
import type { TraceRows } from './traceRows';

/** View rows the native scroller holds at once (2.2 M px at 22 px rows: under every browser's limit). */
export const WINDOW_ROWS = 100_000;
/** Rows from the window's edge at which it slides. */
const EDGE_ROWS = 200;

/**
 * The columns: header text, the cell class (trace.css), the default width in px (the summary
 * takes what is left, at least its width) and whether it is shown by default. "dev" as the
 * filter names it; "No." is the record number (seq), as Wireshark's first column.
 */
export const COLUMNS = [
  { id: 'seq', label: 'No.', cls: 'c-seq', width: 56, shown: true },
  { id: 'time', label: 'time', cls: 'c-time', width: 92, shown: true },
  { id: 'dir', label: 'direction', cls: 'c-dir', width: 72, shown: true },
  { id: 'dev', label: 'dev', cls: 'c-dev', width: 32, shown: true },
  { id: 'msg', label: 'message', cls: 'c-msg', width: 150, shown: true },
  { id: 'token', label: 'token', cls: 'c-token', width: 48, shown: true },
  { id: 'queue', label: 'queue', cls: 'c-queue', width: 44, shown: false },
  { id: 'size', label: 'size', cls: 'c-size', width: 36, shown: true },
  { id: 'summary', label: 'summary', cls: 'c-summary', width: 120, shown: true },
  { id: 'latency', label: 'latency', cls: 'c-latency', width: 72, shown: true },
] as const;
export type ColumnId = (typeof COLUMNS)[number]['id'];
export const DEFAULT_COLUMNS: readonly ColumnId[] = COLUMNS.filter((c) => c.shown).map((c) => c.id);
const MIN_WIDTH = 28;

/** The grid's columns: fixed widths, the summary stretching. */
export function gridTemplate(columns: readonly ColumnId[], widths: Readonly<Partial<Record<ColumnId, number>>>): string {
  return COLUMNS.filter((c) => columns.includes(c.id))
    .map((c) => (c.id === 'summary' ? `minmax(${widths[c.id] ?? c.width}px, 1fr)` : `${widths[c.id] ?? c.width}px`))
    .join(' ');
}

export interface TraceTableHandle {
  /** Brings view row `index` into view: 'nearest' scrolls as little as possible, 'center' centers it. */
  reveal(index: number, align: 'nearest' | 'center'): void;
  /** Rows that fit on screen (for page up/down). */
  pageRows(): number;
}

interface TraceTableProps {
  rows: TraceRows;
  /** useSyncExternalStore's snapshot of `rows`: a new value re-renders. */
  version: number;
  selected: number | null;
  follow: boolean;
  columns: readonly ColumnId[];
  widths: Readonly<Partial<Record<ColumnId, number>>>;
  /** The time column's header and text (seconds, ns, Δ, from a reference, wall clock). */
  timeLabel: string;
  timeText(row: TraceRow, index: number): string;
  /** Seqs the user marked. */
  marked: ReadonlySet<number>;
  /** The colour of each colour rule, by the index a row's `colour` names. */
  colours: readonly string[];
  onSelect(index: number): void;
  onOpen(index: number): void;
  onFollowChange(follow: boolean): void;
  /** Right click on row `index` at page position (x, y). */
  onMenu(index: number, x: number, y: number): void;
  onResize(column: ColumnId, width: number): void;
  sort: { column: SortColumn; descending: boolean } | null;
  /** A click on a sortable column's header. */
  onSort(column: SortColumn): void;
}

function rowClass(row: TraceRow | undefined, selected: boolean, marked: boolean, colours: readonly string[]): string {
  const c = ['trace-row'];
  if (!row) c.push('loading');
  else {
    const colour = row.colour === undefined ? undefined : colours[row.colour];
    if (colour) c.push(`colour-${colour}`);
    if (row.problems.length > 0) c.push('problem');
    if (row.kind !== 'message') c.push('marker');
    if (row.name === 'BOOKMARK') c.push('bookmark');
  }
  if (marked) c.push('marked');
  if (selected) c.push('selected');
  return c.join(' ');
}

/** A cell's text (on screen the message cell carries its marks as well; the time cell's text depends on the time format). */
export function cellText(id: Exclude<ColumnId, 'time'>, row: TraceRow): string {
  const message = row.kind === 'message';
  switch (id) {
    case 'seq':
      return String(row.seq);
    case 'msg':
      return row.name;
    case 'dir':
      return formatDir(row.dir);
    case 'dev':
      return row.dev === null ? '' : String(row.dev);
    case 'token':
      return message ? String(row.token) : '';
    case 'queue':
      return message || row.kind === 'vq-index' ? String(row.channel) : '';
    // A marker's "size" would be its text's length: only messages have a size worth a column.
    case 'size':
      return message ? String(row.size) : '';
    case 'summary':
      return row.summary;
    case 'latency':
      return row.latencyNs === null ? '' : formatNs(row.latencyNs);
  }
}

function Cells({ row, columns, time }: { row: TraceRow; columns: readonly ColumnId[]; time: string }) {
  return (
    <>
      {COLUMNS.filter((c) => columns.includes(c.id)).map((c) =>
        c.id === 'msg' ? (
          <span key={c.id} role="gridcell" className="c-msg">
            {row.name === 'BOOKMARK' ? <span className="trace-bookmark-mark" aria-label="bookmark">★ </span> : null}
            {row.problems.length > 0 ? <span className="trace-problem-mark" aria-label={`problems: ${row.problems.join(', ')}`}>⚠ </span> : null}
            {row.name}
          </span>
        ) : (
          <span key={c.id} role="gridcell" className={c.cls} title={c.id === 'summary' ? row.summary : undefined}>
            {c.id === 'time' ? time : cellText(c.id, row)}
          </span>
        ),
      )}
    </>
  );
}

const sortable = (id: ColumnId): id is SortColumn => (SORT_COLUMNS as readonly string[]).includes(id);

interface HeaderCellProps {
  id: ColumnId;
  label: string;
  cls: string;
  width: number;
  onResize(column: ColumnId, width: number): void;
  /** Sorted by this column: its direction. */
  sorted: 'ascending' | 'descending' | null;
  onSort(column: SortColumn): void;
}

/** A header cell: a click sorts by the column (where the engine can), the drag handle on its right edge resizes it. */
function HeaderCell({ id, label, cls, width, onResize, sorted, onSort }: HeaderCellProps) {
  const drag = (e: PointerEvent<HTMLSpanElement>): void => {
    e.preventDefault();
    const startX = e.clientX;
    const handle = e.currentTarget;
    handle.setPointerCapture?.(e.pointerId);
    const move = (m: globalThis.PointerEvent): void => onResize(id, Math.max(MIN_WIDTH, Math.round(width + m.clientX - startX)));
    const up = (): void => {
      handle.removeEventListener('pointermove', move);
      handle.removeEventListener('pointerup', up);
    };
    handle.addEventListener('pointermove', move);
    handle.addEventListener('pointerup', up);
  };
  return (
    <span role="columnheader" className={cls} aria-sort={sorted ?? (sortable(id) ? 'none' : undefined)}>
      {sortable(id) ? (
        <button type="button" className="trace-sort" title={`Sort by ${label} (again: reverse, a third time: trace order)`} onClick={() => onSort(id)}>
          {label}
          {sorted === 'ascending' ? ' ▲' : sorted === 'descending' ? ' ▼' : ''}
        </button>
      ) : (
        label
      )}
      <span className="trace-col-resize" aria-hidden="true" data-testid={`resize-${id}`} onPointerDown={drag} />
    </span>
  );
}

export const TraceTable = forwardRef<TraceTableHandle, TraceTableProps>(function TraceTable(p, ref) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const [rowH, setRowH] = useState(22);
  useLayoutEffect(() => setRowH(rowHeightPx(scrollRef.current)), []);
  const [, rerender] = useReducer((x: number) => x + 1, 0);
  const total = p.rows.total;
  const count = Math.min(total, WINDOW_ROWS);
  const baseRef = useRef(0);
  // Following: the window ends at the end of the view.
  baseRef.current = p.follow ? total - count : Math.max(0, Math.min(baseRef.current, total - count));
  const base = baseRef.current;

  // No flushSync: scroll positions are also set from layout effects (following the tail), where React cannot flush.
  const virtualizer = useVirtualizer({ count, getScrollElement: () => scrollRef.current, estimateSize: () => rowH, overscan: 8, useFlushSync: false });
  const items = virtualizer.getVirtualItems();

  const scrollTo = (top: number): void => {
    const el = scrollRef.current;
    if (!el) return;
    el.scrollTop = top;
    // The virtualizer reads the offset on scroll events; say so now rather than a frame later.
    el.dispatchEvent(new Event('scroll'));
  };

  useLayoutEffect(() => {
    const el = scrollRef.current;
    // Already at the end (the window slid under a fixed scroll position): nothing to redo.
    if (p.follow && el && Math.abs(el.scrollTop - (count * rowH - el.clientHeight)) > 1) scrollTo(count * rowH);
  }, [p.follow, total, count, rowH]);

  const first = items[0]?.index;
  const last = items[items.length - 1]?.index;
  useEffect(() => {
    if (first !== undefined && last !== undefined) p.rows.ensure(base + first, base + last + 1);
  });

  const reveal = (index: number, align: 'nearest' | 'center'): void => {
    const el = scrollRef.current;
    if (!el || total === 0) return;
    const target = Math.max(0, Math.min(total - 1, index));
    if (target < baseRef.current || target >= baseRef.current + count) {
      baseRef.current = Math.max(0, Math.min(total - count, target - Math.floor(count / 2)));
    }
    const top = (target - baseRef.current) * rowH;
    const h = el.clientHeight;
    if (align === 'center') scrollTo(Math.max(0, top - (h - rowH) / 2));
    else if (top < el.scrollTop) scrollTo(top);
    else if (top + rowH > el.scrollTop + h) scrollTo(top + rowH - h);
    rerender();
  };
  useImperativeHandle(ref, () => ({ reveal, pageRows: () => Math.max(1, Math.floor((scrollRef.current?.clientHeight ?? rowH) / rowH) - 1) }));

  const onScroll = (): void => {
    const el = scrollRef.current;
    // An empty view (a new filter or order before its first answer) is at no end to follow.
    if (!el || total === 0) return;
    const height = count * rowH;
    const atEnd = baseRef.current + count >= total && el.scrollTop + el.clientHeight >= height - rowH / 2;
    if (atEnd !== p.follow) p.onFollowChange(atEnd);
    if (atEnd) return;
    // Slide the window when the scroll position nears its edge and the view goes on beyond it.
    const edge = EDGE_ROWS * rowH;
    if (el.scrollTop < edge && baseRef.current > 0) {
      const shift = Math.min(baseRef.current, Math.floor(count / 2));
      baseRef.current -= shift;
      scrollTo(el.scrollTop + shift * rowH);
      rerender();
    } else if (el.scrollTop + el.clientHeight > height - edge && baseRef.current + count < total) {
      const shift = Math.min(total - count - baseRef.current, Math.floor(count / 2));
      baseRef.current += shift;
      scrollTo(el.scrollTop - shift * rowH);
      rerender();
    }
  };

  const firstVisible = base + Math.floor((scrollRef.current?.scrollTop ?? 0) / rowH);
  const visible = Math.ceil((scrollRef.current?.clientHeight ?? 0) / rowH);

  const jumpFromOverview = (e: PointerEvent<HTMLDivElement>): void => {
    if (e.type === 'pointermove' && e.buttons !== 1) return;
    const box = e.currentTarget.getBoundingClientRect();
    const f = Math.max(0, Math.min(1, (e.clientY - box.top) / Math.max(1, box.height)));
    const index = Math.round(f * (total - 1));
    p.onFollowChange(false);
    reveal(index, 'center');
  };

  const template = gridTemplate(p.columns, p.widths);
  return (
    <div className="trace-table" role="grid" aria-rowcount={total} aria-label="trace">
      <div className="trace-header" role="row" style={{ gridTemplateColumns: template }}>
        {COLUMNS.filter((c) => p.columns.includes(c.id)).map((c) => (
          <HeaderCell
            key={c.id}
            id={c.id}
            label={c.id === 'time' ? p.timeLabel : c.label}
            cls={c.cls}
            width={p.widths[c.id] ?? c.width}
            onResize={p.onResize}
            sorted={p.sort?.column === c.id ? (p.sort.descending ? 'descending' : 'ascending') : null}
            onSort={p.onSort}
          />
        ))}
      </div>
      <div className="trace-body">
        <div className="trace-scroll" ref={scrollRef} onScroll={onScroll} data-testid="trace-scroll">
          <div className="trace-spacer" style={{ height: `${virtualizer.getTotalSize()}px` }}>
            {items.map((item) => {
              const index = base + item.index;
              const row = p.rows.row(index);
              return (
                <div
                  key={index}
                  role="row"
                  aria-rowindex={index + 1}
                  aria-selected={p.selected === index}
                  data-index={index}
                  className={rowClass(row, p.selected === index, row !== undefined && p.marked.has(row.seq), p.colours)}
                  style={{ transform: `translateY(${item.start}px)`, height: `${rowH}px`, gridTemplateColumns: template }}
                  onClick={() => p.onSelect(index)}
                  onDoubleClick={() => p.onOpen(index)}
                  onContextMenu={(e) => {
                    if (!row) return;
                    e.preventDefault();
                    p.onMenu(index, e.clientX, e.clientY);
                  }}
                >
                  {row ? <Cells row={row} columns={p.columns} time={p.timeText(row, index)} /> : <span className="c-loading">…</span>}
                </div>
              );
            })}
          </div>
        </div>
        {total > count ? (
          <div className="trace-overview" aria-label="position in the whole trace" onPointerDown={jumpFromOverview} onPointerMove={jumpFromOverview}>
            <div className="trace-overview-window" style={{ top: `${(base / total) * 100}%`, height: `${(count / total) * 100}%` }} />
            <div className="trace-overview-thumb" style={{ top: `${(firstVisible / total) * 100}%`, height: `max(4px, ${(visible / total) * 100}%)` }} />
          </div>
        ) : null}
      </div>
    </div>
  );
});
