/** Light, dark or system theme: the choice persists in localStorage, the resolved theme is <html data-theme>. */
import { useEffect, useState } from 'react';

import { THEMES, type ThemeName } from '../../../src/api/desktop';

const KEY = 'amp-workbench.theme';

function stored(): ThemeName {
  const v = localStorage.getItem(KEY);
  return (THEMES as readonly string[]).includes(v ?? '') ? (v as ThemeName) : 'system';
}

export function useTheme(): [ThemeName, (t: ThemeName) => void] {
  const [choice, setChoice] = useState<ThemeName>(stored);
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
