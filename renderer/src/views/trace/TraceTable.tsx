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

import type { TraceRow } from '../../../../src/api/workbench';
import { formatDir, formatNs, formatTime, rowHeightPx } from './traceFormat';
import type { TraceRows } from './traceRows';

/** View rows the native scroller holds at once (2.2 M px at 22 px rows: under every browser's limit). */
export const WINDOW_ROWS = 100_000;
/** Rows from the window's edge at which it slides. */
const EDGE_ROWS = 200;

/** Header text and the cell class that sizes the column (trace.css). "dev" as the filter names it. */
export const COLUMNS = [
  { label: 'time', cls: 'c-time' },
  { label: 'direction', cls: 'c-dir' },
  { label: 'dev', cls: 'c-dev' },
  { label: 'message', cls: 'c-msg' },
  { label: 'token', cls: 'c-token' },
  { label: 'size', cls: 'c-size' },
  { label: 'summary', cls: 'c-summary' },
  { label: 'latency', cls: 'c-latency' },
] as const;

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
  onSelect(index: number): void;
  onOpen(index: number): void;
  onFollowChange(follow: boolean): void;
}

function rowClass(row: TraceRow | undefined, selected: boolean): string {
  const c = ['trace-row'];
  if (!row) c.push('loading');
  else {
    if (row.problems.length > 0) c.push('problem');
    if (row.kind === 'marker') c.push('marker');
    if (row.name === 'BOOKMARK') c.push('bookmark');
  }
  if (selected) c.push('selected');
  return c.join(' ');
}

function Cells({ row }: { row: TraceRow }) {
  const message = row.kind === 'message';
  return (
    <>
      <span role="gridcell" className="c-time">
        {formatTime(row.timeNs)}
      </span>
      <span role="gridcell" className="c-dir">
        {formatDir(row.dir)}
      </span>
      <span role="gridcell" className="c-dev">
        {row.dev ?? ''}
      </span>
      <span role="gridcell" className="c-msg">
        {row.name === 'BOOKMARK' ? <span className="trace-bookmark-mark" aria-label="bookmark">★ </span> : null}
        {row.problems.length > 0 ? <span className="trace-problem-mark" aria-label={`problems: ${row.problems.join(', ')}`}>⚠ </span> : null}
        {row.name}
      </span>
      <span role="gridcell" className="c-token">
        {message ? row.token : ''}
      </span>
      <span role="gridcell" className="c-size">
        {row.size}
      </span>
      <span role="gridcell" className="c-summary" title={row.summary}>
        {row.summary}
      </span>
      <span role="gridcell" className="c-latency">
        {row.latencyNs === null ? '' : formatNs(row.latencyNs)}
      </span>
    </>
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
    if (!el) return;
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

  return (
    <div className="trace-table" role="grid" aria-rowcount={total} aria-label="trace">
      <div className="trace-header" role="row">
        {COLUMNS.map((c) => (
          <span key={c.cls} role="columnheader" className={c.cls}>
            {c.label}
          </span>
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
                  className={rowClass(row, p.selected === index)}
                  style={{ transform: `translateY(${item.start}px)`, height: `${rowH}px` }}
                  onClick={() => p.onSelect(index)}
                  onDoubleClick={() => p.onOpen(index)}
                >
                  {row ? <Cells row={row} /> : <span className="c-loading">…</span>}
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
