/** The colour rules editor: add a rule (a filter and a colour), change a rule's colour, move it up, remove it. */
import { useState, type FormEvent } from 'react';

import { compileFilter } from '../../../../src/trace/filter';
import { COLOURS, MAX_RULES, type Colour, type ColourRule } from './colourRules';

interface ColourRulesProps {
  rules: readonly ColourRule[];
  onChange(rules: ColourRule[]): void;
}

function ColourSelect({ value, label, onChange }: { value: Colour; label: string; onChange(c: Colour): void }) {
  return (
    <select aria-label={label} className={`trace-swatch colour-${value}`} value={value} onChange={(e) => onChange(e.target.value as Colour)}>
      {COLOURS.map((c) => (
        <option key={c} value={c}>
          {c}
        </option>
      ))}
    </select>
  );
}

export function ColourRules({ rules, onChange }: ColourRulesProps) {
  const [filter, setFilter] = useState('');
  const [colour, setColour] = useState<Colour>('yellow');
  const [error, setError] = useState<string | null>(null);

  const add = (e: FormEvent): void => {
    e.preventDefault();
    const text = filter.trim();
    if (text === '') return;
    const c = compileFilter(text);
    if (!c.ok) return setError(`column ${c.column}: ${c.error}`);
    setError(null);
    setFilter('');
    onChange([...rules, { filter: text, colour }]);
  };

  const set = (i: number, rule: ColourRule | null): void => onChange(rules.flatMap((r, j) => (j !== i ? [r] : rule ? [rule] : [])));

  return (
    <div className="trace-colour-rules" role="group" aria-label="colour rules">
      <p className="trace-colour-rules-help">A row takes the colour of the first rule it matches; problems keep their red mark.</p>
      <ol>
        {rules.map((r, i) => (
          <li key={`${i}:${r.filter}`}>
            <ColourSelect value={r.colour} label={`colour of ${r.filter}`} onChange={(c) => set(i, { ...r, colour: c })} />
            <code>{r.filter}</code>
            <button
              type="button"
              aria-label={`move ${r.filter} up`}
              disabled={i === 0}
              onClick={() => onChange(rules.map((x, j) => (j === i - 1 ? rules[i]! : j === i ? rules[i - 1]! : x)))}
            >
              ↑
            </button>
            <button type="button" aria-label={`remove ${r.filter}`} onClick={() => set(i, null)}>
              ×
            </button>
          </li>
        ))}
      </ol>
      <form onSubmit={add}>
        <ColourSelect value={colour} label="new rule's colour" onChange={setColour} />
        <input aria-label="new rule's filter" placeholder="msg == EVENT_USED" spellCheck={false} value={filter} onChange={(e) => setFilter(e.target.value)} />
        <button type="submit" disabled={rules.length >= MAX_RULES}>
          Add rule
        </button>
      </form>
      {error ? <p role="alert">{error}</p> : null}
    </div>
  );
}
