/**
 * Colour rules, as Wireshark's colouring rules: a filter and a colour, tried in order; a row
 * takes the colour of the first rule it matches (the engine says which: trace.rows colourRules).
 * Kept in localStorage, so they outlive the page.
 */
export const COLOURS = ['red', 'orange', 'yellow', 'green', 'teal', 'blue', 'purple', 'grey'] as const;
export type Colour = (typeof COLOURS)[number];

export interface ColourRule {
  filter: string;
  colour: Colour;
}

const KEY = 'amp-workbench.trace.colourRules';
/** trace.rows takes at most this many. */
export const MAX_RULES = 16;

export function loadColourRules(): ColourRule[] {
  try {
    const v: unknown = JSON.parse(localStorage.getItem(KEY) ?? '[]');
    if (!Array.isArray(v)) return [];
    return v
      .filter((r): r is ColourRule => typeof r === 'object' && r !== null && typeof r.filter === 'string' && COLOURS.includes(r.colour))
      .slice(0, MAX_RULES);
  } catch {
    // A hand-edited or foreign value: no rules rather than a failed view.
    return [];
  }
}

export function saveColourRules(rules: readonly ColourRule[]): void {
  localStorage.setItem(KEY, JSON.stringify(rules));
}
