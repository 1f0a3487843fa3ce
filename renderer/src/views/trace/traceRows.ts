/**
 * The rows of one trace view (all records, or those a filter accepts), pulled from the engine in
 * pages: the engine never pushes rows (docs/stack.md §6, "windowed queries"). The table asks for the
 * range it shows (`ensure`); pages are cached by index, least recently used dropped first.
 * `trace.appended` only says the trace grew: without a filter the new size is in the event, with
 * one the engine is asked again (one request in flight at a time, coalesced). Listeners hear at
 * most one change per animation frame (docs/stack.md §6 rule 2). A rolling capture that drops its
 * oldest records (`dropped` in the event) shifts every row: the cached pages are then read again.
 */
import type { SortColumn, TraceRow, WorkbenchApi, WorkbenchError } from '../../../../src/api/workbench';

export const PAGE_ROWS = 256;
/** Pages kept: enough for a tall screen plus scrolling back and forth. */
const MAX_PAGES = 64;

const nextFrame: (cb: () => void) => void = (cb) => (typeof requestAnimationFrame === 'function' ? requestAnimationFrame(() => cb()) : setTimeout(cb, 16));

export class TraceRows {
  /** Rows in the view as last heard. */
  total = 0;
  /** Set when the engine refused the filter or a request failed; the rows then stay empty. */
  error: WorkbenchError | null = null;
  /** The engine has answered once since the view started or was reset: a total of 0 then means none match. */
  loaded = false;
  /** Bumped on every change, for React's useSyncExternalStore. */
  version = 0;
  private readonly pages = new Map<number, TraceRow[]>();
  private readonly loading = new Set<number>();
  private readonly listeners = new Set<() => void>();
  private refreshing = false;
  private refreshAgain = false;
  private notifyPending = false;
  private closed = true;
  /** Bumped by reset: answers to older requests are dropped. */
  private generation = 0;
  /** Records gone from the start of a rolling capture, as last heard. */
  private dropped = 0;

  constructor(
    private readonly api: WorkbenchApi,
    readonly filter: string,
    /** Colour rules' filters: each row says the first it matches (trace.rows colourRules). */
    private readonly colourRules: readonly string[] = [],
    /** Rows ordered by a column: a snapshot the engine sorted when asked, so growth is not followed. */
    readonly sort: { column: SortColumn; descending: boolean } | null = null,
  ) {}

  /** Listens to the engine and fetches the view's size; the returned function stops that (a stopped view may start again). */
  start(): () => void {
    this.closed = false;
    const off = this.api.onEvent((e) => {
      if (e.event === 'trace.appended') {
        if (this.sort) return;
        const dropped = e.data.dropped ?? 0;
        if (dropped !== this.dropped) this.shift(dropped);
        if (this.filter === '') this.setTotal(e.data.total);
        else this.refresh();
      } else if (e.event === 'trace.reset') {
        this.reset();
      }
    });
    this.refresh();
    return () => {
      this.closed = true;
      this.refreshing = false;
      this.loading.clear();
      off();
    };
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getVersion = (): number => this.version;

  /** The row at view index `i`, if its page is here. */
  row(i: number): TraceRow | undefined {
    const page = this.pages.get(Math.floor(i / PAGE_ROWS));
    if (!page) return undefined;
    // Touch: most recently used last.
    const p = Math.floor(i / PAGE_ROWS);
    this.pages.delete(p);
    this.pages.set(p, page);
    return page[i % PAGE_ROWS];
  }

  /** Fetches the pages covering view rows [from, to) that are not here yet. */
  ensure(from: number, to: number): void {
    if (this.error || this.closed) return;
    const last = Math.min(to, this.total) - 1;
    for (let p = Math.max(0, Math.floor(from / PAGE_ROWS)); p <= Math.floor(last / PAGE_ROWS); p++) {
      if (!this.pages.has(p) && !this.loading.has(p)) void this.load(p);
    }
  }

  /** Asks the engine for the view's size again (and the last page with it). */
  refresh(): void {
    if (this.closed) return;
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = true;
    void this.load(Math.floor(this.total / PAGE_ROWS)).finally(() => {
      this.refreshing = false;
      if (this.refreshAgain) {
        this.refreshAgain = false;
        this.refresh();
      }
    });
  }

  /** The oldest rows went: every cached page holds other rows now, and the view may be shorter. */
  private shift(dropped: number): void {
    this.dropped = dropped;
    this.generation++;
    this.pages.clear();
    this.loading.clear();
    this.total = 0;
  }

  private reset(): void {
    this.dropped = 0;
    this.generation++;
    this.pages.clear();
    this.loading.clear();
    this.total = 0;
    this.loaded = false;
    this.error = null;
    this.changed();
    this.refresh();
  }

  /** The trace only grows between resets, so a smaller total is an older answer overtaken by a newer one. */
  private setTotal(total: number): void {
    if (total <= this.total) return;
    // The page that held the old end was partial: it has more rows now.
    const partial = Math.floor(this.total / PAGE_ROWS);
    if (this.pages.get(partial)?.length !== PAGE_ROWS) this.pages.delete(partial);
    this.total = total;
    this.changed();
  }

  private async load(page: number): Promise<void> {
    const generation = this.generation;
    this.loading.add(page);
    const params = {
      from: page * PAGE_ROWS,
      count: PAGE_ROWS,
      ...(this.filter !== '' ? { filter: this.filter } : {}),
      ...(this.colourRules.length > 0 ? { colourRules: [...this.colourRules] } : {}),
      ...(this.sort ? { sort: this.sort } : {}),
    };
    const r = await this.api.call('trace.rows', params).catch((e: unknown) => ({ ok: false as const, error: { code: 'failed' as const, message: String(e) } }));
    this.loading.delete(page);
    if (generation !== this.generation || this.closed) return;
    if (!r.ok) {
      // No trace yet is not an error of the view: it stays empty until trace.reset.
      if (r.error.code !== 'no-session') this.error = r.error;
      this.changed();
      return;
    }
    this.loaded = true;
    this.setTotal(r.result.total);
    // A partial page that stops short of the end as known now is already stale: fetched again when shown.
    if (r.result.rows.length === PAGE_ROWS || page * PAGE_ROWS + r.result.rows.length >= this.total) {
      this.pages.set(page, r.result.rows);
      while (this.pages.size > MAX_PAGES) this.pages.delete(this.pages.keys().next().value!);
    }
    this.changed();
  }

  private changed(): void {
    this.version++;
    if (this.notifyPending) return;
    this.notifyPending = true;
    nextFrame(() => {
      this.notifyPending = false;
      for (const l of this.listeners) l();
    });
  }
}
