/**
 * The filter bar: the trace filter language (src/trace/filter.ts, README "Trace filters"), applied
 * on Enter. While typing, the text is checked as it stands (green valid, red invalid, with the
 * reason) and completed: fields, operators, message names, problem codes, rule ids and
 * enumeration values (completeFilter), chosen with ↑/↓ and Tab or Enter, Ctrl+Space to ask.
 * The engine compiles what is applied; a `bad-filter` error comes back with a 1-based column,
 * shown as a caret under the filter text (as renderFilterError does for the CLI) together with
 * what the table still shows, since a refused filter leaves the previous view in place.
 * Recent and saved filters are one click away (filterHistory.ts).
 */
import { useEffect, useMemo, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';

import type { WorkbenchError } from '../../../../src/api/workbench';
import { compileFilter, completeFilter, type FilterSuggestion } from '../../../../src/trace/filter';
import { recentFilters, rememberFilter, savedFilters, saveFilter, unsaveFilter } from './filterHistory';

interface FilterBarProps {
  applied: string;
  /** Resolves to an error to show, or null when the filter took effect. */
  onApply(filter: string): Promise<WorkbenchError | null>;
  /** Values the session knows beyond the language's own, by field (the devices for dev). */
  values?: Readonly<Record<string, readonly FilterSuggestion[]>>;
  /** Text put in the bar, not applied (a row menu's "Prepare as filter"), once per nonce. */
  prepared?: { text: string; nonce: number } | null;
}

export function FilterBar({ applied, onApply, values, prepared = null }: FilterBarProps) {
  const [draft, setDraft] = useState(applied);
  const [cursor, setCursor] = useState(applied.length);
  const [error, setError] = useState<{ text: string; error: WorkbenchError } | null>(null);
  const [suggesting, setSuggesting] = useState(false);
  const [active, setActive] = useState(-1);
  const [menu, setMenu] = useState(false);
  const [saved, setSaved] = useState(savedFilters);
  const input = useRef<HTMLInputElement>(null);

  // A filter applied from elsewhere (a row's menu, another view's "follow") shows here.
  useEffect(() => {
    setDraft(applied);
    setCursor(applied.length);
    setError(null);
  }, [applied]);

  useEffect(() => {
    if (prepared === null) return;
    setDraft(prepared.text);
    setCursor(prepared.text.length);
    setSuggesting(false);
    input.current?.focus();
  }, [prepared]);

  const live = useMemo(() => (draft.trim() === '' ? null : compileFilter(draft)), [draft]);
  const completion = useMemo(() => completeFilter(draft, cursor, values), [draft, cursor, values]);
  const items = suggesting ? completion.items : [];

  const apply = async (raw: string): Promise<void> => {
    const text = raw.trim();
    setSuggesting(false);
    setMenu(false);
    const err = await onApply(text);
    setError(err ? { text, error: err } : null);
    if (!err) rememberFilter(text);
    if (err?.column !== undefined && input.current) {
      input.current.focus();
      input.current.setSelectionRange(err.column - 1, err.column - 1);
    }
  };

  const accept = (item: FilterSuggestion): void => {
    const before = draft.slice(0, completion.from) + item.text + ' ';
    const after = draft.slice(completion.to).replace(/^ /, '');
    setDraft(before + after);
    setCursor(before.length);
    setActive(-1);
    requestAnimationFrame(() => input.current?.setSelectionRange(before.length, before.length));
  };

  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>): void => {
    if (e.key === ' ' && e.ctrlKey) {
      e.preventDefault();
      setSuggesting(true);
      return;
    }
    if (items.length === 0) return;
    // -1 is the text itself: Enter then applies it.
    if (e.key === 'ArrowDown') setActive((a) => (a + 1 >= items.length ? -1 : a + 1));
    else if (e.key === 'ArrowUp') setActive((a) => (a < 0 ? items.length - 1 : a - 1));
    else if (e.key === 'Escape') setSuggesting(false);
    else if ((e.key === 'Tab' || e.key === 'Enter') && (active >= 0 || e.key === 'Tab')) accept(items[Math.max(0, active)]!);
    else return;
    e.preventDefault();
  };

  const submit = (e: FormEvent): void => {
    e.preventDefault();
    void apply(draft);
  };

  const recent = menu ? recentFilters() : [];
  const liveError = live && !live.ok ? live : null;
  const state = draft.trim() === '' ? undefined : liveError ? 'invalid' : 'valid';

  return (
    <form className="trace-filter" onSubmit={submit} role="search">
      <button type="button" aria-label="saved and recent filters" aria-expanded={menu} onClick={() => setMenu(!menu)} title="Saved and recent filters">
        ☰
      </button>
      <div className="trace-filter-input">
        <input
          ref={input}
          className={error && error.text === draft.trim() ? 'invalid' : state}
          aria-label="filter"
          aria-invalid={state === 'invalid' || error !== null}
          aria-autocomplete="list"
          aria-controls="trace-filter-suggestions"
          aria-activedescendant={active >= 0 && items[active] ? `trace-filter-suggestion-${active}` : undefined}
          placeholder="filter: dev == 1 && msg == GET_VQUEUE && latency > 50us   (Enter applies, Ctrl+Space completes)"
          spellCheck={false}
          autoComplete="off"
          value={draft}
          onChange={(e) => {
            setDraft(e.target.value);
            setCursor(e.target.selectionStart ?? e.target.value.length);
            setSuggesting(true);
            setActive(-1);
          }}
          onSelect={(e) => setCursor(e.currentTarget.selectionStart ?? draft.length)}
          onKeyDown={onKeyDown}
          onBlur={() => setSuggesting(false)}
        />
        {items.length > 0 ? (
          <ul className="trace-suggestions" role="listbox" id="trace-filter-suggestions" aria-label="suggestions">
            {items.map((s, i) => (
              <li
                key={s.text}
                id={`trace-filter-suggestion-${i}`}
                role="option"
                aria-selected={i === active}
                // mousedown, not click: the input keeps the focus (its blur would close the list first).
                onMouseDown={(e) => {
                  e.preventDefault();
                  accept(s);
                }}
              >
                <span className="trace-suggestion-text">{s.text}</span> <span className="trace-suggestion-detail">{s.detail}</span>
              </li>
            ))}
          </ul>
        ) : null}
      </div>
      <button type="submit">Apply</button>
      {applied !== '' ? (
        <button
          type="button"
          onClick={() => {
            setDraft('');
            setError(null);
            void onApply('');
          }}
        >
          Clear
        </button>
      ) : null}
      {applied !== '' && !saved.includes(applied) ? (
        <button
          type="button"
          title="Keep this filter in the ☰ list"
          onClick={() => {
            saveFilter(applied);
            setSaved(savedFilters());
          }}
        >
          Save filter
        </button>
      ) : null}
      {menu ? (
        <div className="trace-filter-menu" role="menu" aria-label="filters">
          <p className="trace-filter-menu-title">Saved</p>
          {saved.length === 0 ? <p className="trace-filter-menu-empty">None yet: apply a filter, then "Save filter".</p> : null}
          {saved.map((f) => (
            <div key={f} className="trace-filter-menu-row">
              <button type="button" role="menuitem" onClick={() => void apply(f)}>
                {f}
              </button>
              <button
                type="button"
                aria-label={`forget ${f}`}
                onClick={() => {
                  unsaveFilter(f);
                  setSaved(savedFilters());
                }}
              >
                ×
              </button>
            </div>
          ))}
          <p className="trace-filter-menu-title">Recent</p>
          {recent.length === 0 ? <p className="trace-filter-menu-empty">No filter applied yet.</p> : null}
          {recent.map((f) => (
            <button key={f} type="button" role="menuitem" onClick={() => void apply(f)}>
              {f}
            </button>
          ))}
        </div>
      ) : null}
      {error ? (
        <div className="trace-filter-error" role="alert">
          {error.error.column !== undefined ? (
            <pre className="trace-filter-caret" data-testid="filter-caret">
              {error.text}
              {'\n'}
              {' '.repeat(Math.max(0, error.error.column - 1))}^
            </pre>
          ) : null}
          <span>{error.error.message}</span>{' '}
          <span className="trace-filter-kept">Not applied: the table still shows {applied === '' ? 'every record' : `the records matching ${applied}`}.</span>
        </div>
      ) : liveError ? (
        <div className="trace-filter-hint" data-testid="filter-hint">
          column {liveError.column}: {liveError.error}
        </div>
      ) : null}
    </form>
  );
}
