/**
 * The Trace view: filter bar, live table, detail pane and bookmarks, all through the Workbench
 * API (trace.rows / trace.record / trace.bookmark and the trace.appended / trace.reset events).
 *
 * Keys (table focused): ↑/↓ move the selection, PgUp/PgDn by a screen, Home/End to the ends
 * (End follows the tail again), Enter opens the detail, Esc closes it, ] / [ go to the next /
 * previous row with problems.
 */
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore, type KeyboardEvent } from 'react';

import type { WorkbenchApi, WorkbenchError } from '../../../../src/api/workbench';
import { BOOKMARK_FILTER, Bookmarks } from './Bookmarks';
import { FilterBar } from './FilterBar';
import { RecordDetail } from './RecordDetail';
import { TraceRows } from './traceRows';
import { lowerBound, neighbour, rowBySeq } from './traceSearch';
import { TraceTable, type TraceTableHandle } from './TraceTable';
import './trace.css';

export function TraceView({ api }: { api: WorkbenchApi }) {
  const [filter, setFilter] = useState('');
  const rows = useMemo(() => new TraceRows(api, filter), [api, filter]);
  useEffect(() => rows.start(), [rows]);
  const version = useSyncExternalStore(rows.subscribe, rows.getVersion);
  const [selected, setSelected] = useState<number | null>(null);
  const [follow, setFollow] = useState(true);
  const [detailSeq, setDetailSeq] = useState<number | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const table = useRef<TraceTableHandle>(null);

  useEffect(
    () =>
      api.onEvent((e) => {
        if (e.event !== 'trace.reset') return;
        setSelected(null);
        setDetailSeq(null);
        setFollow(true);
      }),
    [api],
  );

  const applyFilter = useCallback(
    async (text: string): Promise<WorkbenchError | null> => {
      if (text !== '') {
        // The engine compiles the filter; ask once before switching so a typo keeps the old view.
        const r = await api.call('trace.rows', { from: 0, count: 1, filter: text });
        if (!r.ok && r.error.code !== 'no-session') return r.error;
      }
      setFilter(text);
      setSelected(null);
      setFollow(true);
      return null;
    },
    [api],
  );

  const select = (index: number, align: 'nearest' | 'center' = 'nearest'): void => {
    const i = Math.max(0, Math.min(rows.total - 1, index));
    if (rows.total === 0) return;
    setSelected(i);
    table.current?.reveal(i, align);
    if (i < rows.total - 1) setFollow(false);
    const seq = rows.row(i)?.seq;
    if (detailSeq !== null && seq !== undefined) setDetailSeq(seq);
  };

  const open = (index: number): void => {
    setSelected(index);
    const seq = rows.row(index)?.seq;
    if (seq !== undefined) setDetailSeq(seq);
  };

  /** Selects the record with `seq` (its nearest row when the filter hides it) and shows its detail. */
  const jumpToSeq = async (seq: number): Promise<void> => {
    const target = await rowBySeq(api, seq);
    if (!target) return setNotice(`Record #${seq} is not in the trace.`);
    const { viewIndex, row } = await lowerBound(api, filter, target.index);
    setNotice(row?.seq === seq ? null : `Record #${seq} is hidden by the filter; the nearest row is selected.`);
    setFollow(false);
    setSelected(viewIndex);
    table.current?.reveal(viewIndex, 'center');
    setDetailSeq(seq);
  };

  /** Moves to the next/previous row that `what` accepts, within the current view. */
  const step = async (what: string, dir: 1 | -1, label: string): Promise<void> => {
    const here = selected === null ? (dir === 1 ? -1 : Number.MAX_SAFE_INTEGER) : (rows.row(selected)?.index ?? -1);
    const next = await neighbour(api, filter, what, here, dir);
    if (!next) return setNotice(`No ${dir === 1 ? 'next' : 'previous'} ${label}.`);
    setNotice(null);
    await jumpToSeq(next.seq);
  };

  // The side pane is memoized and the trace re-renders this view many times a second: hand it
  // callbacks that stay the same and call this render's closures.
  const latest = useRef({ jumpToSeq, step });
  latest.current = { jumpToSeq, step };
  const onJump = useCallback((seq: number) => void latest.current.jumpToSeq(seq), []);
  const onStepBookmark = useCallback((dir: 1 | -1) => void latest.current.step(BOOKMARK_FILTER, dir, 'bookmark'), []);
  const closeDetail = useCallback(() => setDetailSeq(null), []);

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>): void => {
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLButtonElement) return;
    const page = table.current?.pageRows() ?? 10;
    const at = selected ?? (follow ? rows.total - 1 : 0);
    const keys: Record<string, () => void> = {
      ArrowDown: () => select(selected === null ? at : at + 1),
      ArrowUp: () => select(selected === null ? at : at - 1),
      PageDown: () => select(at + page),
      PageUp: () => select(at - page),
      Home: () => select(0),
      End: () => {
        select(rows.total - 1);
        setFollow(true);
      },
      Enter: () => {
        if (selected !== null) open(selected);
      },
      Escape: () => setDetailSeq(null),
      ']': () => void step('problem', 1, 'row with problems'),
      '[': () => void step('problem', -1, 'row with problems'),
    };
    const action = keys[e.key];
    if (!action) return;
    e.preventDefault();
    action();
  };

  return (
    <div className="trace-view">
      <FilterBar applied={filter} onApply={applyFilter} />
      <div className="trace-toolbar">
        <span className="trace-count" aria-live="polite">
          {rows.total.toLocaleString('en')} {filter === '' ? 'records' : 'matching records'}
        </span>
        <button type="button" aria-pressed={follow} onClick={() => setFollow(!follow)} title="Keep the newest record in view">
          {follow ? 'Following' : 'Follow'}
        </button>
        <button
          type="button"
          onClick={() => {
            setFollow(true);
            setSelected(null);
          }}
        >
          Jump to end
        </button>
        <button type="button" onClick={() => void step('problem', -1, 'row with problems')} title="Previous row with problems ([)">
          ⚠↑
        </button>
        <button type="button" onClick={() => void step('problem', 1, 'row with problems')} title="Next row with problems (])">
          ⚠↓
        </button>
        {notice ? (
          <span className="trace-notice" role="status">
            {notice}
          </span>
        ) : null}
        {rows.error && rows.error.code !== 'bad-filter' ? (
          <span className="trace-notice" role="alert">
            {rows.error.message}
          </span>
        ) : null}
      </div>
      <div className="trace-main">
        <div className="trace-table-wrap" tabIndex={0} onKeyDown={onKeyDown} aria-label="trace table (↑/↓ select, Enter detail, ]/[ problems)">
          <TraceTable
            ref={table}
            rows={rows}
            version={version}
            selected={selected}
            follow={follow}
            onSelect={(i) => {
              setSelected(i);
              setFollow(false);
              const seq = rows.row(i)?.seq;
              if (detailSeq !== null && seq !== undefined) setDetailSeq(seq);
            }}
            onOpen={open}
            onFollowChange={setFollow}
          />
        </div>
        <div className="trace-side">
          {detailSeq !== null ? <RecordDetail api={api} seq={detailSeq} onJump={onJump} onClose={closeDetail} /> : null}
          <Bookmarks api={api} onJump={onJump} onStep={onStepBookmark} />
        </div>
      </div>
    </div>
  );
}
