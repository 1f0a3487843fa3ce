/**
 * A row's context menu: a list of actions at the pointer (or under the selected row when opened
 * from the keyboard with the Menu key or Shift+F10). ↑/↓ move, Enter runs, Esc or a click
 * elsewhere closes; the focus goes back to where it was.
 */
import { useEffect, useRef, useState, type KeyboardEvent } from 'react';

export interface MenuItem {
  label: string;
  /** The shortcut that does the same, shown on the right. */
  keys?: string;
  run(): void;
  /** Separates this item from the ones above. */
  group?: boolean;
}

interface ContextMenuProps {
  x: number;
  y: number;
  label: string;
  items: MenuItem[];
  onClose(): void;
}

export function ContextMenu({ x, y, label, items, onClose }: ContextMenuProps) {
  const box = useRef<HTMLDivElement>(null);
  const [active, setActive] = useState(0);
  const [at, setAt] = useState({ x, y });

  useEffect(() => {
    const before = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    box.current?.focus();
    // Keep the menu on screen.
    const r = box.current?.getBoundingClientRect();
    if (r && r.width > 0) setAt({ x: Math.max(0, Math.min(x, window.innerWidth - r.width - 4)), y: Math.max(0, Math.min(y, window.innerHeight - r.height - 4)) });
    const away = (e: MouseEvent): void => {
      if (!box.current?.contains(e.target as Node)) onClose();
    };
    document.addEventListener('mousedown', away);
    return () => {
      document.removeEventListener('mousedown', away);
      before?.focus();
    };
  }, [x, y, onClose]);

  const run = (item: MenuItem): void => {
    onClose();
    item.run();
  };

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>): void => {
    if (e.key === 'ArrowDown') setActive((a) => (a + 1) % items.length);
    else if (e.key === 'ArrowUp') setActive((a) => (a - 1 + items.length) % items.length);
    else if (e.key === 'Enter' || e.key === ' ') run(items[active]!);
    else if (e.key === 'Escape' || e.key === 'Tab') onClose();
    else return;
    e.preventDefault();
    e.stopPropagation();
  };

  return (
    <div
      ref={box}
      className="trace-menu"
      role="menu"
      aria-label={label}
      tabIndex={-1}
      style={{ left: at.x, top: at.y }}
      onKeyDown={onKeyDown}
      aria-activedescendant={`trace-menu-item-${active}`}
    >
      {items.map((item, i) => (
        <div
          key={item.label}
          id={`trace-menu-item-${i}`}
          role="menuitem"
          className={[i === active ? 'active' : '', item.group ? 'group' : ''].join(' ').trim() || undefined}
          onMouseEnter={() => setActive(i)}
          onClick={() => run(item)}
        >
          <span>{item.label}</span>
          {item.keys ? <kbd>{item.keys}</kbd> : null}
        </div>
      ))}
    </div>
  );
}
