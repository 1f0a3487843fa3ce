import type { ReactNode } from 'react';

import './ui.css';

export type ChipTone = 'neutral' | 'ok' | 'warn' | 'danger' | 'accent';

/** A small labelled pill: a status bit, a feature, a phase. */
export function Chip({ tone = 'neutral', title, children }: { tone?: ChipTone; title?: string; children: ReactNode }) {
  return (
    <span className={`chip chip-${tone}`} title={title} data-tone={tone}>
      {children}
    </span>
  );
}
