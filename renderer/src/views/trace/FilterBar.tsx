/**
 * The filter bar: the trace filter language (src/trace/filter.ts, README "Trace filters"), applied
 * on Enter. The engine compiles it; a `bad-filter` error comes back with a 1-based column, shown
 * as a caret under the filter text (as renderFilterError does for the CLI) and as the input's
 * cursor position.
 */
import { useRef, useState, type FormEvent } from 'react';

import type { WorkbenchError } from '../../../../src/api/workbench';

interface FilterBarProps {
  applied: string;
  /** Resolves to an error to show, or null when the filter took effect. */
  onApply(filter: string): Promise<WorkbenchError | null>;
}

export function FilterBar({ applied, onApply }: FilterBarProps) {
  const [draft, setDraft] = useState(applied);
  const [error, setError] = useState<{ text: string; error: WorkbenchError } | null>(null);
  const input = useRef<HTMLInputElement>(null);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const text = draft.trim();
    const err = await onApply(text);
    setError(err ? { text, error: err } : null);
    if (err?.column !== undefined && input.current) {
      input.current.focus();
      input.current.setSelectionRange(err.column - 1, err.column - 1);
    }
  };

  return (
    <form className="trace-filter" onSubmit={(e) => void submit(e)} role="search">
      <input
        ref={input}
        className={error ? 'invalid' : undefined}
        aria-label="filter"
        aria-invalid={error !== null}
        placeholder="filter: dev == 1 && msg == GET_VQUEUE && latency > 50us   (Enter applies)"
        spellCheck={false}
        value={draft}
        onChange={(e) => setDraft(e.target.value)}
      />
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
      {error ? (
        <div className="trace-filter-error" role="alert">
          {error.error.column !== undefined ? (
            <pre className="trace-filter-caret" data-testid="filter-caret">
              {error.text}
              {'\n'}
              {' '.repeat(Math.max(0, error.error.column - 1))}^
            </pre>
          ) : null}
          <span>{error.error.message}</span>
        </div>
      ) : null}
    </form>
  );
}
