/**
 * Ctrl+K (⌘K on a Mac): every action of the workbench by name, filtered as you type (all words
 * must match). A command that cannot run now stays listed, dimmed, with the reason. Some commands
 * take what follows their words ("go to record 1234", "bookmark before the reset"): `fromQuery`
 * turns the typed text into such commands.
 */
import { useMemo, useState, type KeyboardEvent } from 'react';

import './ui.css';

export interface Command {
  id: string;
  title: string;
  /** Shortcut shown next to the title. */
  keys?: string;
  /** Why the command cannot run now; null or absent when it can. */
  disabled?: string | null;
  /** Picking the command fills the input with this text instead of running (a command that takes an argument). */
  prefill?: string;
  run?(): void;
}

export function filterCommands(commands: readonly Command[], query: string): Command[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  return commands.filter((c) => words.every((w) => c.title.toLowerCase().includes(w)));
}

/** The shortcut modifier as this platform writes it. */
export function modifierKey(platform: string = typeof navigator === 'undefined' ? '' : navigator.platform): string {
  return /mac|iphone|ipad/i.test(platform) ? '⌘' : 'Ctrl+';
}

interface CommandPaletteProps {
  commands: readonly Command[];
  /** Commands made from the typed text, listed first. */
  fromQuery?: (query: string) => Command[];
  onClose: () => void;
}

export function CommandPalette({ commands, fromQuery, onClose }: CommandPaletteProps) {
  const [query, setQuery] = useState('');
  const [selected, setSelected] = useState(0);
  const shown = useMemo(() => [...(fromQuery?.(query) ?? []), ...filterCommands(commands, query)], [commands, fromQuery, query]);
  const pick = (c: Command | undefined): void => {
    if (!c || c.disabled) return;
    if (c.prefill !== undefined) {
      setQuery(c.prefill);
      setSelected(0);
      return;
    }
    onClose();
    c.run?.();
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
          placeholder="Type a command, “go to record 120”, “bookmark text”…"
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
            <li
              key={c.id}
              role="option"
              aria-selected={i === selected}
              aria-disabled={c.disabled ? true : undefined}
              className={c.disabled ? 'palette-disabled' : undefined}
              onMouseEnter={() => setSelected(i)}
              onClick={() => pick(c)}
            >
              <span>
                {c.title}
                {c.disabled && <span className="palette-reason"> — {c.disabled}</span>}
              </span>
              {c.keys && <kbd>{c.keys}</kbd>}
            </li>
          ))}
          {shown.length === 0 && <li className="muted">No command matches “{query}”</li>}
        </ul>
      </div>
    </div>
  );
}
