/**
 * The Trace view: filter bar, live table, detail pane and bookmarks, all through the Workbench
 * API (trace.rows / trace.record / trace.bookmark and the trace.appended / trace.reset events).
 *
 * Keys (table focused): ↑/↓ move the selection, PgUp/PgDn by a screen, Home/End to the ends
 * (End follows the tail again), Enter opens the detail, Esc closes it, ] / [ go to the next /
 * previous row with problems, Ctrl+G goes to a record number, M (or Ctrl+M) marks the selected
 * record, } / { go to the next / previous mark, T sets (or clears) the time reference, the Menu
 * key or Shift+F10 opens the row's context menu (as a right click does).
 *
 * Other views send a TraceRequest (show record N, apply a filter) through the shell; marks are
 * the user's own choice of records (not written to the capture) and can be exported (nav.exportScope).
 */
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore, type KeyboardEvent } from 'react';

import type { SortColumn, TraceRow, WorkbenchApi, WorkbenchError } from '../../../../src/api/workbench';
import type { FilterSuggestion } from '../../../../src/trace/filter';
import type { TraceRequest, ViewNav } from '../../ui/nav';
import { BOOKMARK_FILTER, Bookmarks } from './Bookmarks';
import { ContextMenu, type MenuItem } from './ContextMenu';
import { ColourRules } from './ColourRules';
import { loadColourRules, saveColourRules } from './colourRules';
import { FilterBar } from './FilterBar';
import { RecordDetail } from './RecordDetail';
import { formatOffset, formatTime, formatTimeNs, formatWall } from './traceFormat';
import { TraceRows } from './traceRows';
import { andFilters, lowerBound, neighbour, rowBySeq } from './traceSearch';
import { useViewState } from './viewState';
import { cellText, COLUMNS, DEFAULT_COLUMNS, TraceTable, type ColumnId, type TraceTableHandle } from './TraceTable';
import './trace.css';

/** How the time column reads, as Wireshark's View → Time Display Format. */
const TIME_FORMATS = {
  seconds: 'seconds',
  ns: 'seconds (ns)',
  captured: 'Δ previous record',
  delta: 'Δ previous shown',
  reference: 'from reference (T)',
  wall: 'wall clock (UTC)',
} as const;
type TimeFormat = keyof typeof TIME_FORMATS;
const TIME_LABEL: Readonly<Record<TimeFormat, string>> = { seconds: 'time', ns: 'time (ns)', captured: 'Δ record', delta: 'Δ shown', reference: 'time from ref', wall: 'time (UTC)' };

/** Record kinds one click hides, with the filter that keeps the rest. */
const HIDE = [
  { id: 'doorbell', label: 'doorbells', filter: 'kind != doorbell' },
  { id: 'vq-index', label: 'VQ_INDEX', filter: 'kind != vq-index' },
  { id: 'marker', label: 'markers', filter: 'kind != marker' },
] as const;
type HideId = (typeof HIDE)[number]['id'];

/** The filter that selects records like `row`'s: same name, device, token (follow). */
export function filterFor(what: 'msg' | 'dev' | 'token', row: TraceRow): string | null {
  if (what === 'msg') return `msg == ${row.name}`;
  if (what === 'dev') return row.dev === null ? null : `dev == ${row.dev}`;
  if (row.kind !== 'message') return null;
  return row.dev === null ? `token == ${row.token} && !dev` : `dev == ${row.dev} && token == ${row.token}`;
}

/** A row as tab-separated text, in the order of the columns shown. */
function rowText(row: TraceRow, columns: readonly ColumnId[], time: string): string {
  return COLUMNS.filter((c) => columns.includes(c.id))
    .map((c) => (c.id === 'time' ? time : cellText(c.id, row)))
    .join('\t');
}

async function copy(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No clipboard (an insecure web origin, a denied permission): the caller says so.
    return false;
  }
}

interface TraceViewProps {
  api: WorkbenchApi;
  /** A record to show or a filter to apply, carried out once per nonce (another view asked). */
  request?: TraceRequest | null;
  nav?: ViewNav;
}

export function TraceView({ api, request = null, nav }: TraceViewProps) {
  const [filter, setFilter] = useViewState(api, 'filter', '');
  const [hidden, setHidden] = useViewState<ReadonlySet<HideId>>(api, 'hidden', new Set());
  const viewFilter = useMemo(() => HIDE.filter((h) => hidden.has(h.id)).reduce((f, h) => andFilters(f, h.filter), filter), [filter, hidden]);
  const [colourRules, setColourRules] = useState(loadColourRules);
  const ruleFilters = useMemo(() => colourRules.map((r) => r.filter), [colourRules]);
  const [sort, setSort] = useViewState<{ column: SortColumn; descending: boolean } | null>(api, 'sort', null);
  /** Bumped by "Sort again": a sorted view is a snapshot. */
  const [resort, setResort] = useState(0);
  // `resort` is a dependency only: a new TraceRows asks the engine to sort again.
  const rows = useMemo(() => new TraceRows(api, viewFilter, ruleFilters, sort), [api, viewFilter, ruleFilters, sort, resort]);
  useEffect(() => rows.start(), [rows]);
  const version = useSyncExternalStore(rows.subscribe, rows.getVersion);
  const [selected, setSelected] = useState<number | null>(null);
  const [follow, setFollow] = useState(true);
  const [detailSeq, setDetailSeq] = useState<number | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [marked, setMarked] = useViewState<ReadonlySet<number>>(api, 'marked', new Set());
  const [columns, setColumns] = useViewState<readonly ColumnId[]>(api, 'columns', DEFAULT_COLUMNS);
  const [widths, setWidths] = useViewState<Partial<Record<ColumnId, number>>>(api, 'widths', {});
  const [timeFormat, setTimeFormat] = useViewState<TimeFormat>(api, 'timeFormat', 'seconds');
  const [reference, setReference] = useViewState<{ seq: number; timeNs: number } | null>(api, 'reference', null);
  const [startWallNs, setStartWallNs] = useState<bigint | null>(null);
  /** The session's devices, offered when a filter's dev value is typed. */
  const [filterValues, setFilterValues] = useState<Record<string, FilterSuggestion[]>>({});
  /** A live session's trace grows; an opened capture file does not (nothing to follow, nothing to bookmark). */
  const [live, setLive] = useState(true);
  const [menu, setMenu] = useState<{ index: number; x: number; y: number } | null>(null);
  const [goTo, setGoTo] = useState<string | null>(null);
  const [columnsOpen, setColumnsOpen] = useState(false);
  const [coloursOpen, setColoursOpen] = useState(false);
  const [prepared, setPrepared] = useState<{ text: string; nonce: number } | null>(null);
  const table = useRef<TraceTableHandle>(null);
  const wrap = useRef<HTMLDivElement>(null);

  // The capture's wall-clock start (wall-clock time format), its kind and the session's devices; again after every reset.
  useEffect(() => {
    const load = (): void => {
      void api.call('trace.info', {}).then((r) => {
        if (!r.ok) return;
        setStartWallNs(BigInt(r.result.startWallNs));
        setLive(r.result.source === 'live');
        // A capture file is read from its start.
        if (r.result.source === 'file') setFollow(false);
      });
      void api.call('session.state', {}).then((r) => {
        if (r.ok) setFilterValues({ dev: r.result.devices.map((d) => ({ text: String(d.devNum), detail: `${d.deviceName} (${d.deviceType})` })) });
      });
    };
    load();
    return api.onEvent((e) => {
      if (e.event !== 'trace.reset') return;
      setSelected(null);
      setDetailSeq(null);
      setFollow(true);
      setMarked(new Set());
      setReference(null);
      load();
    });
  }, [api, setMarked, setReference]);

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
    [api, setFilter],
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
  const jumpToSeq = async (seq: number, view = viewFilter): Promise<void> => {
    const target = await rowBySeq(api, seq);
    if (!target) return setNotice(`Record #${seq} is not in the trace.`);
    // Records are found by their place in the trace: back to trace order first.
    const unsorted = sort !== null;
    if (unsorted) setSort(null);
    const { viewIndex, row } = await lowerBound(api, view, target.index);
    const hidden = row?.seq === seq ? null : `Record #${seq} is hidden by the filter; the nearest row is selected.`;
    setNotice(unsorted ? `Back in trace order to show record #${seq}.${hidden ? ` ${hidden}` : ''}` : hidden);
    setFollow(false);
    setSelected(viewIndex);
    table.current?.reveal(viewIndex, 'center');
    setDetailSeq(seq);
  };

  /** Moves to the next/previous row that `what` accepts, within the current view. */
  const step = async (what: string, dir: 1 | -1, label: string): Promise<void> => {
    const here = selected === null ? (dir === 1 ? -1 : Number.MAX_SAFE_INTEGER) : (rows.row(selected)?.index ?? -1);
    const next = await neighbour(api, viewFilter, what, here, dir);
    if (!next) return setNotice(`No ${dir === 1 ? 'next' : 'previous'} ${label}.`);
    setNotice(null);
    await jumpToSeq(next.seq);
  };

  const selectedRow = selected === null ? undefined : rows.row(selected);

  const toggleMark = (row: TraceRow | undefined): void => {
    if (!row) return;
    setMarked((m) => {
      const next = new Set(m);
      if (!next.delete(row.seq)) next.add(row.seq);
      return next;
    });
  };

  /** The next (1) or previous (-1) marked record from the selection, in record order. */
  const stepMark = (dir: 1 | -1): void => {
    const here = selectedRow?.seq ?? (dir === 1 ? -1 : Number.MAX_SAFE_INTEGER);
    const sorted = [...marked].sort((a, b) => a - b);
    const next = dir === 1 ? sorted.find((s) => s > here) : sorted.reverse().find((s) => s < here);
    if (next === undefined) return setNotice(marked.size === 0 ? 'No record is marked (M marks the selected one).' : `No ${dir === 1 ? 'next' : 'previous'} mark.`);
    setNotice(null);
    void jumpToSeq(next);
  };

  const toggleReference = (row: TraceRow | undefined): void => {
    if (!row) return;
    if (reference?.seq === row.seq) {
      setReference(null);
      if (timeFormat === 'reference') setTimeFormat('seconds');
    } else {
      setReference({ seq: row.seq, timeNs: row.timeNs });
      setTimeFormat('reference');
    }
  };

  const timeText = (row: TraceRow, index: number): string => {
    switch (timeFormat) {
      case 'seconds':
        return formatTime(row.timeNs);
      case 'ns':
        return formatTimeNs(row.timeNs);
      case 'captured':
        return formatOffset(row.deltaNs ?? 0);
      case 'delta': {
        const prev = index > 0 ? rows.row(index - 1) : undefined;
        return index === 0 ? formatOffset(0) : prev ? formatOffset(row.timeNs - prev.timeNs) : '';
      }
      case 'reference':
        if (reference === null) return formatTime(row.timeNs);
        return row.seq === reference.seq ? '*REF*' : formatOffset(row.timeNs - reference.timeNs);
      case 'wall':
        return startWallNs === null ? formatTime(row.timeNs) : formatWall(startWallNs, row.timeNs);
    }
  };

  const submitGoTo = (): void => {
    const n = Number(goTo?.trim().replace(/^#/, ''));
    if (!Number.isInteger(n) || n < 0) return setNotice(`"${goTo}" is not a record number: type the No. column's number.`);
    setGoTo(null);
    void jumpToSeq(n);
    wrap.current?.focus();
  };

  // Another view asked for a record or a filter (through the shell): once per nonce.
  const done = useRef<number | null>(null);
  const latestRequest = useRef({ applyFilter, jumpToSeq });
  latestRequest.current = { applyFilter, jumpToSeq };
  useEffect(() => {
    if (request === null || done.current === request.nonce) return;
    done.current = request.nonce;
    const { filter: f, seq } = request;
    void (async () => {
      if (f !== undefined) {
        const err = await latestRequest.current.applyFilter(f);
        if (err) return setNotice(`The filter ${f} was not applied: ${err.message}`);
      }
      // The view the request leaves (its filter, not yet rendered) is where the record is looked for.
      if (seq !== undefined) await latestRequest.current.jumpToSeq(seq, f === undefined ? viewFilter : HIDE.filter((h) => hidden.has(h.id)).reduce((x, h) => andFilters(x, h.filter), f));
    })();
  }, [request, viewFilter, hidden]);

  // The side pane is memoized and the trace re-renders this view many times a second: hand it
  // callbacks that stay the same and call this render's closures.
  const latest = useRef({ jumpToSeq, step });
  latest.current = { jumpToSeq, step };
  const onJump = useCallback((seq: number) => void latest.current.jumpToSeq(seq), []);
  const onStepBookmark = useCallback((dir: 1 | -1) => void latest.current.step(BOOKMARK_FILTER, dir, 'bookmark'), []);
  const closeDetail = useCallback(() => setDetailSeq(null), []);
  const closeMenu = useCallback(() => setMenu(null), []);

  const openMenuAtSelection = (): void => {
    if (selected === null) return;
    const el = wrap.current?.querySelector(`[data-index="${selected}"]`);
    const box = el?.getBoundingClientRect();
    setMenu({ index: selected, x: (box?.left ?? 0) + 40, y: box?.bottom ?? 0 });
  };

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>): void => {
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLButtonElement) return;
    const page = table.current?.pageRows() ?? 10;
    const at = selected ?? (follow ? rows.total - 1 : 0);
    // Single letters without Ctrl: browsers keep Ctrl+T and Ctrl+Shift+N (Wireshark's keys) for themselves.
    const key = (e.ctrlKey || e.metaKey ? 'Ctrl+' : '') + (e.shiftKey && e.key === 'F10' ? 'Shift+' : '') + e.key;
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
      'Ctrl+g': () => setGoTo(''),
      m: () => toggleMark(selectedRow),
      'Ctrl+m': () => toggleMark(selectedRow),
      '}': () => stepMark(1),
      '{': () => stepMark(-1),
      t: () => toggleReference(selectedRow),
      ContextMenu: openMenuAtSelection,
      'Shift+F10': openMenuAtSelection,
    };
    const action = keys[key];
    if (!action) return;
    e.preventDefault();
    e.stopPropagation();
    action();
  };

  const menuItems = (row: TraceRow): MenuItem[] => {
    const items: MenuItem[] = [];
    const asFilter = (what: 'msg' | 'dev' | 'token', label: (f: string) => string): void => {
      const f = filterFor(what, row);
      if (f === null) return;
      items.push({ label: label(f), run: () => void applyFilter(f) });
    };
    asFilter('msg', (f) => `Apply as filter: ${f}`);
    items.push({ label: `Prepare as filter: ${filterFor('msg', row)!}`, run: () => setPrepared((p) => ({ text: filterFor('msg', row)!, nonce: (p?.nonce ?? 0) + 1 })) });
    asFilter('dev', (f) => `Follow device ${row.dev}: ${f}`);
    asFilter('token', (f) => `Follow token ${row.token}${row.dev === null ? '' : ` of device ${row.dev}`}: ${f}`);
    const msg = filterFor('msg', row)!;
    if (filter !== '') items.push({ label: `Narrow the filter: … && ${msg}`, run: () => void applyFilter(andFilters(filter, msg)) });
    items.push({ label: `Exclude: !(${msg})`, run: () => void applyFilter(andFilters(filter, `!(${msg})`)) });
    items.push(
      { label: 'Show detail', keys: 'Enter', group: true, run: () => setDetailSeq(row.seq) },
      { label: marked.has(row.seq) ? 'Unmark record' : 'Mark record', keys: 'M', run: () => toggleMark(row) },
      { label: reference?.seq === row.seq ? 'Clear time reference' : 'Set time reference', keys: 'T', run: () => toggleReference(row) },
    );
    if (row.pairSeq !== null) items.push({ label: `Go to request #${row.pairSeq}`, run: () => void jumpToSeq(row.pairSeq!) });
    items.push(
      {
        label: 'Copy as text',
        group: true,
        run: () => void copy(rowText(row, columns, timeText(row, row.index))).then((ok) => setNotice(ok ? `Copied record #${row.seq} as text.` : 'The browser refused the clipboard.')),
      },
      {
        label: 'Copy as hex',
        run: () =>
          void api.call('trace.record', { seq: row.seq }).then(async (r) => {
            if (!r.ok) return setNotice(r.error.message);
            const ok = await copy((r.result.data.match(/../g) ?? []).join(' '));
            setNotice(ok ? `Copied the ${r.result.data.length / 2} bytes of record #${row.seq} as hex.` : 'The browser refused the clipboard.');
          }),
      },
    );
    return items;
  };
  const menuRow = menu === null ? undefined : rows.row(menu.index);

  const empty = rows.loaded && rows.total === 0 && !rows.error;

  return (
    <div className="trace-view">
      <FilterBar applied={filter} onApply={applyFilter} values={filterValues} prepared={prepared} />
      <div className="trace-toolbar">
        <span className="trace-count" aria-live="polite">
          {rows.total.toLocaleString('en')} {viewFilter === '' ? 'records' : 'matching records'}
        </span>
        {live ? (
          <button type="button" aria-pressed={follow} onClick={() => setFollow(!follow)} title="Keep the newest record in view">
            {follow ? 'Following' : 'Follow'}
          </button>
        ) : null}
        <button
          type="button"
          onClick={() => {
            setFollow(true);
            setSelected(null);
          }}
        >
          Jump to end
        </button>
        <span className="trace-group" role="group" aria-label="problems">
          <button type="button" onClick={() => void step('problem', -1, 'row with problems')} title="Previous row with problems ([)">
            ◀ Problem
          </button>
          <button type="button" onClick={() => void step('problem', 1, 'row with problems')} title="Next row with problems (])">
            Problem ▶
          </button>
        </span>
        {goTo === null ? (
          <button type="button" onClick={() => setGoTo('')} title="Go to a record number (Ctrl+G)">
            Go to #…
          </button>
        ) : (
          <form
            className="trace-goto"
            onSubmit={(e) => {
              e.preventDefault();
              submitGoTo();
            }}
          >
            <input
              autoFocus
              aria-label="record number"
              placeholder="record No."
              inputMode="numeric"
              value={goTo}
              onChange={(e) => setGoTo(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === 'Escape') setGoTo(null);
              }}
            />
            <button type="submit">Go</button>
          </form>
        )}
        {marked.size > 0 ? (
          <span className="trace-group" role="group" aria-label="marks">
            <span className="trace-marks">{marked.size} marked</span>
            <button type="button" onClick={() => stepMark(-1)} title="Previous marked record ({)">
              ◀ Mark
            </button>
            <button type="button" onClick={() => stepMark(1)} title="Next marked record (})">
              Mark ▶
            </button>
            {nav ? (
              <button type="button" onClick={() => nav.exportScope({ label: `${marked.size} marked records`, seqs: [...marked].sort((a, b) => a - b) })}>
                Export marked…
              </button>
            ) : null}
            <button type="button" onClick={() => setMarked(new Set())}>
              Unmark all
            </button>
          </span>
        ) : null}
        <span className="trace-spacer-flex" />
        <fieldset className="trace-hide">
          <legend>Hide</legend>
          {HIDE.map((h) => (
            <label key={h.id}>
              <input
                type="checkbox"
                checked={hidden.has(h.id)}
                onChange={(e) => {
                  const next = new Set(hidden);
                  if (e.target.checked) next.add(h.id);
                  else next.delete(h.id);
                  setHidden(next);
                  setSelected(null);
                  setFollow(true);
                }}
              />
              {h.label}
            </label>
          ))}
        </fieldset>
        <label className="trace-timefmt">
          Time{' '}
          <select aria-label="time format" value={timeFormat} onChange={(e) => setTimeFormat(e.target.value as TimeFormat)}>
            {Object.entries(TIME_FORMATS).map(([k, label]) => (
              <option key={k} value={k} disabled={k === 'reference' && reference === null}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <span className="trace-columns">
          <button type="button" aria-expanded={coloursOpen} onClick={() => setColoursOpen(!coloursOpen)}>
            Colours{colourRules.length > 0 ? ` (${colourRules.length})` : ''}
          </button>
          {coloursOpen ? (
            <ColourRules
              rules={colourRules}
              onChange={(next) => {
                saveColourRules(next);
                setColourRules(next);
              }}
            />
          ) : null}
        </span>
        <span className="trace-columns">
          <button type="button" aria-expanded={columnsOpen} onClick={() => setColumnsOpen(!columnsOpen)}>
            Columns
          </button>
          {columnsOpen ? (
            <fieldset className="trace-columns-menu" aria-label="columns shown">
              {COLUMNS.map((c) => (
                <label key={c.id}>
                  <input
                    type="checkbox"
                    checked={columns.includes(c.id)}
                    disabled={c.id === 'msg'}
                    onChange={(e) => setColumns(e.target.checked ? COLUMNS.filter((x) => x.id === c.id || columns.includes(x.id)).map((x) => x.id) : columns.filter((x) => x !== c.id))}
                  />
                  {c.label}
                </label>
              ))}
              <button
                type="button"
                onClick={() => {
                  setColumns(DEFAULT_COLUMNS);
                  setWidths({});
                }}
              >
                Reset columns
              </button>
            </fieldset>
          ) : null}
        </span>
      </div>
      {sort ? (
        <div className="trace-sorted" role="status">
          Sorted by {COLUMNS.find((c) => c.id === sort.column)?.label} {sort.descending ? '▼' : '▲'}: a snapshot, new records are not added.{' '}
          <button type="button" onClick={() => setResort((n) => n + 1)}>
            Sort again
          </button>{' '}
          <button type="button" onClick={() => setSort(null)}>
            Trace order
          </button>
        </div>
      ) : null}
      {notice || (rows.error && rows.error.code !== 'bad-filter') ? (
        <div className="trace-notices">
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
      ) : null}
      <div className="trace-main">
        <div
          ref={wrap}
          className="trace-table-wrap"
          tabIndex={0}
          onKeyDown={onKeyDown}
          aria-label="trace table (↑/↓ select, Enter detail, ]/[ problems, Ctrl+G go to, M mark, Menu key for actions)"
        >
          <TraceTable
            ref={table}
            rows={rows}
            version={version}
            selected={selected}
            follow={follow}
            columns={columns}
            widths={widths}
            timeLabel={TIME_LABEL[timeFormat]}
            timeText={timeText}
            marked={marked}
            colours={colourRules.map((r) => r.colour)}
            onSelect={(i) => {
              setSelected(i);
              setFollow(false);
              const seq = rows.row(i)?.seq;
              if (detailSeq !== null && seq !== undefined) setDetailSeq(seq);
            }}
            onOpen={open}
            onFollowChange={setFollow}
            onMenu={(index, x, y) => {
              setSelected(index);
              setFollow(false);
              setMenu({ index, x, y });
            }}
            onResize={(c, w) => setWidths((old) => ({ ...old, [c]: w }))}
            sort={sort}
            onSort={(column) => {
              // Ascending, then descending, then trace order again.
              setSort(sort?.column !== column ? { column, descending: false } : sort.descending ? null : { column, descending: true });
              setSelected(null);
              setFollow(false);
              // A new order reads from its first row (the view's size is the same).
              table.current?.reveal(0, 'nearest');
            }}
          />
          {empty ? (
            <p className="trace-empty" role="status">
              {viewFilter === '' ? 'No records yet: the trace fills as the session runs.' : `No record matches ${viewFilter}.`}
            </p>
          ) : null}
        </div>
        <div className="trace-side">
          {detailSeq !== null ? <RecordDetail api={api} seq={detailSeq} onJump={onJump} onClose={closeDetail} /> : null}
          <Bookmarks api={api} live={live} onJump={onJump} onStep={onStepBookmark} />
        </div>
      </div>
      {menu && menuRow ? <ContextMenu x={menu.x} y={menu.y} label={`record #${menuRow.seq}`} items={menuItems(menuRow)} onClose={closeMenu} /> : null}
    </div>
  );
}
