/**
 * Bookmarks: marker records (MARKER_KINDS "bookmark") the user adds with trace.bookmark to a live
 * capture. The list is a filtered view (`msg == BOOKMARK`), pulled again when the trace grows, at
 * most once a second. Memoized, and an answer that lists the same bookmarks keeps the old list:
 * the trace grows many times a second and up to MAX_LISTED entries are not redrawn for that.
 */
import { memo, useEffect, useState, type FormEvent } from 'react';

import type { TraceRow, WorkbenchApi } from '../../../../src/api/workbench';
import { useTraceTick } from '../../ui/useTraceTick';
import { formatTime } from './traceFormat';

export const BOOKMARK_FILTER = 'msg == BOOKMARK';
const MAX_LISTED = 5000;
const REFRESH_MS = 1000;
const NOT_LIVE = 'Bookmarks are added to a live session. In an opened capture, mark records instead (M or the row menu).';

interface BookmarksProps {
  api: WorkbenchApi;
  /** Bookmarks are records added to a live session's trace: an opened capture file takes none. */
  live: boolean;
  onJump(seq: number): void;
  /** Next (1) or previous (-1) bookmark from the selection. */
  onStep(dir: 1 | -1): void;
}

/** Records are immutable until trace.reset, which renumbers them: seq and text tell them apart. */
function sameList(a: readonly TraceRow[], b: readonly TraceRow[]): boolean {
  return a.length === b.length && a.every((r, i) => r.seq === b[i]!.seq && r.timeNs === b[i]!.timeNs && r.summary === b[i]!.summary);
}

export const Bookmarks = memo(function Bookmarks({ api, live, onJump, onStep }: BookmarksProps) {
  const [list, setList] = useState<TraceRow[]>([]);
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const tick = useTraceTick(api, REFRESH_MS);
  // Bumped by our own bookmark, so the list shows it at once.
  const [added, setAdded] = useState(0);

  useEffect(() => {
    let live = true;
    void api.call('trace.rows', { from: 0, count: MAX_LISTED, filter: BOOKMARK_FILTER }).then((r) => {
      const next = r.ok ? r.result.rows : [];
      if (live) setList((old) => (sameList(old, next) ? old : next));
    });
    return () => {
      live = false;
    };
  }, [api, tick, added]);

  const add = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const t = text.trim();
    if (t === '') return;
    const r = await api.call('trace.bookmark', { text: t });
    if (r.ok) {
      setText('');
      setError(null);
      setAdded((x) => x + 1);
    } else setError(r.error.message);
  };

  return (
    <section className="trace-bookmarks" aria-label="bookmarks">
      <h4 className="trace-bookmarks-title">Bookmarks</h4>
      <form onSubmit={(e) => void add(e)}>
        <input
          aria-label="bookmark text"
          placeholder={live ? 'bookmark text' : 'an opened capture takes no bookmarks'}
          disabled={!live}
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <button type="submit" disabled={!live || text.trim() === ''} title={live ? 'Add a bookmark record at this moment of the live trace' : NOT_LIVE}>
          ★ Add
        </button>
        <button type="button" aria-label="previous bookmark" title="Previous bookmark" disabled={list.length === 0} onClick={() => onStep(-1)}>
          ◀ Prev
        </button>
        <button type="button" aria-label="next bookmark" title="Next bookmark" disabled={list.length === 0} onClick={() => onStep(1)}>
          Next ▶
        </button>
      </form>
      {!live ? <p className="trace-bookmarks-why">{NOT_LIVE}</p> : null}
      {error ? <p role="alert">{error}</p> : null}
      {list.length > 0 ? (
        <ol>
          {list.map((b) => (
            <li key={b.seq}>
              <button type="button" className="link" onClick={() => onJump(b.seq)}>
                {formatTime(b.timeNs)} s — {b.summary}
              </button>
            </li>
          ))}
        </ol>
      ) : null}
    </section>
  );
});
