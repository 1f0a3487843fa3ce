import type { ReactNode } from 'react';

import './ui.css';

export type ChipTone = 'neutral' | 'ok' | 'warn' | 'danger' | 'accent';

/**
 * A small labelled pill: a status bit, a feature, a phase. `off`: a state that does not hold now
 * (an unset status bit), shown dimmed; `label` names it for assistive technology.
 */
export function Chip({ tone = 'neutral', title, label, off = false, children }: { tone?: ChipTone; title?: string; label?: string; off?: boolean; children: ReactNode }) {
  return (
    <span className={off ? `chip chip-${tone} chip-off` : `chip chip-${tone}`} title={title} aria-label={label} data-tone={tone}>
      {children}
    </span>
  );
}
