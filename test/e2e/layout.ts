/**
 * The shell's layout in the page (e2e): the app fills the window exactly and a view longer than the
 * window scrolls inside .app-main. Apart from harness.ts so that one imports without vitest.
 */
import type { Page } from 'playwright-core';
import { expect } from 'vitest';

/** Where the shell's parts lie on the page, in CSS px. */
export interface ShellLayout {
  viewport: number;
  /** The document's scroll height: the viewport's when the page itself does not scroll. */
  document: number;
  mainTop: number;
  mainBottom: number;
  /** .app-main's content height and box height: a longer view scrolls inside it. */
  mainScroll: number;
  mainClient: number;
  statusTop: number;
  statusBottom: number;
}

export async function shellLayout(page: Page): Promise<ShellLayout> {
  return page.evaluate(`(() => {
    const main = document.querySelector('.app-main').getBoundingClientRect();
    const status = document.querySelector('.status-bar').getBoundingClientRect();
    const el = document.querySelector('.app-main');
    return {
      viewport: window.innerHeight, document: document.documentElement.scrollHeight,
      mainTop: main.top, mainBottom: main.bottom, mainScroll: el.scrollHeight, mainClient: el.clientHeight,
      statusTop: status.top, statusBottom: status.bottom,
    };
  })()`);
}

/** The app fills the viewport exactly: the view above the status bar, the status bar at the bottom. */
export function expectFillsViewport(l: ShellLayout): void {
  expect(l.document).toBe(l.viewport);
  expect(l.statusBottom).toBeCloseTo(l.viewport, 0);
  expect(l.mainBottom).toBeCloseTo(l.statusTop, 0);
}
