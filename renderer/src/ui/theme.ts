/** Light, dark or system theme: the choice persists in localStorage, the resolved theme is <html data-theme>. */
import { useEffect, useState } from 'react';

export const THEMES = ['light', 'dark', 'system'] as const;
export type ThemeChoice = (typeof THEMES)[number];

const KEY = 'amp-workbench.theme';

function stored(): ThemeChoice {
  const v = localStorage.getItem(KEY);
  return (THEMES as readonly string[]).includes(v ?? '') ? (v as ThemeChoice) : 'system';
}

export function useTheme(): [ThemeChoice, (t: ThemeChoice) => void] {
  const [choice, setChoice] = useState<ThemeChoice>(stored);
  useEffect(() => {
    localStorage.setItem(KEY, choice);
    const media = window.matchMedia('(prefers-color-scheme: dark)');
    const apply = (): void => {
      document.documentElement.dataset.theme = choice === 'system' ? (media.matches ? 'dark' : 'light') : choice;
    };
    apply();
    if (choice !== 'system') return undefined;
    media.addEventListener('change', apply);
    return () => media.removeEventListener('change', apply);
  }, [choice]);
  return [choice, setChoice];
}
