/** Ctrl+K: every action of the workbench by name, filtered as you type (all words must match). */
import { useMemo, useState, type KeyboardEvent } from 'react';

import './ui.css';

export interface Command {
  id: string;
  title: string;
  /** Shortcut shown next to the title. */
  keys?: string;
  run(): void;
}

export function filterCommands(commands: readonly Command[], query: string): Command[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  return commands.filter((c) => words.every((w) => c.title.toLowerCase().includes(w)));
}

export function CommandPalette({ commands, onClose }: { commands: readonly Command[]; onClose: () => void }) {
  const [query, setQuery] = useState('');
  const [selected, setSelected] = useState(0);
  const shown = useMemo(() => filterCommands(commands, query), [commands, query]);
  const pick = (c: Command | undefined): void => {
    if (!c) return;
    onClose();
    c.run();
  };
  const onKey = (e: KeyboardEvent): void => {
    if (e.key === 'Escape') onClose();
    else if (e.key === 'ArrowDown') setSelected((i) => Math.min(i + 1, shown.length - 1));
    else if (e.key === 'ArrowUp') setSelected((i) => Math.max(i - 1, 0));
    else if (e.key === 'Enter') pick(shown[selected]);
    else return;
    e.preventDefault();
  };
  return (
    <div className="palette-backdrop" onMouseDown={onClose}>
      <div className="palette" role="dialog" aria-label="Command palette" onMouseDown={(e) => e.stopPropagation()}>
        <input
          autoFocus
          placeholder="Type a command…"
          aria-label="Command"
          value={query}
          onChange={(e) => {
            setQuery(e.target.value);
            setSelected(0);
          }}
          onKeyDown={onKey}
        />
        <ul role="listbox">
          {shown.map((c, i) => (
            <li key={c.id} role="option" aria-selected={i === selected} onMouseEnter={() => setSelected(i)} onClick={() => pick(c)}>
              <span>{c.title}</span>
              {c.keys && <kbd>{c.keys}</kbd>}
            </li>
          ))}
          {shown.length === 0 && <li className="muted">No command matches “{query}”</li>}
        </ul>
      </div>
    </div>
  );
}
