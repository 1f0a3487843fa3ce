/**
 * The renderer in Debian Chromium against `amp-workbench serve` on the simulated board: connect,
 * every device reaches DRIVER_OK, a queue's descriptor table, a broken profile's error at its
 * field; the app fills the window and a long view scrolls inside it; an export downloaded to this
 * computer and uploaded again opens as a read-only capture the header names; the palette and the
 * tabs by keyboard. Screenshots go to test/output/screenshots/: every view (every tab there is)
 * at 1440×900 and 1280×720, light and dark, as VIEW-WIDTHxHEIGHT-THEME.png.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { e2eSkipReason, REPO, screenshot, startWorkbench, type OpenedPage, type Workbench } from './harness';
import { expectFillsViewport, shellLayout } from './layout';

const skip = e2eSkipReason();

describe.skipIf(skip !== null)(`workbench in Chromium ${skip ?? ''}`, () => {
  let wb: Workbench;
  let opened: OpenedPage;

  beforeAll(async () => {
    wb = await startWorkbench({ board: 'sim-qemu-amp-pci' });
    opened = await wb.open();
  });
  afterAll(async () => {
    await wb?.close();
  });

  it('connects the simulated board and every device reaches DRIVER_OK', async () => {
    const { page } = opened;
    // serve connected the board at start; the page shows it, then we go through Connect again.
    await page.getByRole('tab', { name: 'Connect' }).click();
    await page.getByTestId('connected-board').waitFor();
    expect(new URL(page.url()).searchParams.has('token')).toBe(false);
    await page.getByRole('button', { name: 'Disconnect' }).click();
    const connect = page.getByRole('button', { name: 'Connect to simulated board (sim-qemu-amp-pci)' });
    await connect.waitFor();
    await screenshot(page, 'connect');
    await connect.click();

    // A successful connect moves on to Devices.
    await page.getByRole('tab', { name: 'Devices', selected: true }).waitFor();
    const cards = page.locator('section.device-card');
    await expect.poll(() => cards.count()).toBe(3);
    for (let i = 0; i < 3; i++) {
      // Every status bit has a chip; the unset ones are dimmed (.chip-off).
      await cards.nth(i).locator('.chip:not(.chip-off)', { hasText: /^DRIVER_OK$/ }).waitFor();
      await cards.nth(i).locator('.chip', { hasText: /^ready$/ }).waitFor();
    }
    expect(await page.locator('.chip[data-tone="danger"]').count()).toBe(0);
    expect(await page.getByTestId('header-board').textContent()).toBe('sim-qemu-amp-pci');
    // The first page to connect controls the session, and the header says what that means.
    expect(await page.getByText('you control this session').getAttribute('title')).toMatch(/the others are read-only viewers/);
    // Three cards are taller than the window: they scroll inside the view, the status bar stays put.
    const layout = await shellLayout(page);
    expectFillsViewport(layout);
    expect(layout.mainScroll).toBeGreaterThan(layout.mainClient);
    await screenshot(page, 'devices');
  });

  it('shows a virtqueue with its ring indices and descriptor table', async () => {
    const { page } = opened;
    await page.keyboard.press('3');
    await page.getByRole('tab', { name: 'Queues', selected: true }).waitFor();
    const table = page.getByRole('table', { name: 'Descriptor table' });
    await table.waitFor();
    // Descriptors the driver wrote are rows of their own; runs it never wrote fold into one row each.
    await expect.poll(() => table.locator('[data-desc], [data-empty]').count()).toBeGreaterThan(0);
    expect(Number(await page.locator('[data-field="size"]').textContent())).toBeGreaterThan(0);
    expect(await page.locator('[data-field="avail.idx"]').textContent()).toMatch(/^\d+$/);
    expect(await page.locator('[data-field="used.idx"]').textContent()).toMatch(/^\d+$/);
    await screenshot(page, 'queues');
  });

  it('shows a broken profile\'s error at its field', async () => {
    const { page } = opened;
    await page.keyboard.press('1');
    const good = JSON.parse(readFileSync(join(REPO, 'src/boards/profiles/sim-qemu-amp-pci.json'), 'utf8')) as { bus: Record<string, unknown> };
    good.bus.format = 'spsc-v9';
    const text = JSON.stringify(good, null, 2);
    await page.getByLabel('Profile file').setInputFiles({ name: 'broken.json', mimeType: 'application/json', buffer: Buffer.from(text) });
    const error = page.locator('[data-field="bus.format"]');
    await error.waitFor();
    const line = text.split('\n').findIndex((l) => l.includes('"spsc-v9"')) + 1;
    expect(await error.textContent()).toContain(`line ${line}:`);
    expect(await error.textContent()).toContain('saw "spsc-v9"');
    await page.locator('[data-field-at-line="bus.format"]').waitFor();
    await error.scrollIntoViewIfNeeded();
    await screenshot(page, 'connect-profile-error');
  });

  it('exports to this computer (download), asks before replacing, and opens the file again by upload as a read-only capture', async () => {
    const { page } = opened;
    await page.keyboard.press('1');
    await page.getByTestId('connected-board').waitFor();
    await page.getByRole('button', { name: 'Export…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Export the trace' });
    await dialog.getByLabel('Format').selectOption('jsonl');
    const out = join(wb.serve.captures, 'e2e-export.jsonl');
    await dialog.getByLabel('Output file').fill(out);
    await dialog.getByRole('button', { name: 'Export' }).click();
    const link = dialog.getByRole('link', { name: 'Download e2e-export.jsonl' });
    await link.waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    const saved = join(wb.serve.captures, 'downloaded.jsonl');
    await download.saveAs(saved);
    expect(download.suggestedFilename()).toBe('e2e-export.jsonl');
    expect(readFileSync(saved).equals(readFileSync(out))).toBe(true);
    // The same file again: the dialog asks first, and replaces it when told.
    await dialog.getByRole('button', { name: 'Export' }).click();
    await dialog.getByText('already exists. Replace it?').waitFor();
    await screenshot(page, 'export-replace');
    await dialog.getByRole('button', { name: 'Replace' }).click();
    await link.waitFor();
    await dialog.getByRole('button', { name: 'Close' }).click();

    // Opening a file from this computer ends the session first, uploads the file, and opens it.
    await page.getByLabel('Capture file').setInputFiles(saved);
    await page.getByRole('tab', { name: 'Trace', selected: true }).waitFor();
    await expect.poll(() => page.getByTestId('header-board').textContent()).toBe('downloaded.jsonl');
    const header = page.locator('header.app-header');
    await header.getByText(/^recorded on sim-qemu-amp-pci · [\d,]+ records · read-only$/).waitFor();
    expect(await page.getByTestId('status-link').textContent()).toBe('capture downloaded.jsonl (read-only)');
    await screenshot(page, 'capture-opened');

    // Back to a live board in one click from Connect.
    await page.keyboard.press('1');
    await page.getByRole('button', { name: 'Connect to simulated board (sim-qemu-amp-pci)' }).click();
    await page.getByRole('tab', { name: 'Devices', selected: true }).waitFor();
    expect(await page.getByTestId('header-board').textContent()).toBe('sim-qemu-amp-pci');
  });

  it('goes to a record from the palette, and moves between tabs with the arrow keys', async () => {
    const { page } = opened;
    await page.keyboard.press('Control+k');
    const palette = page.getByRole('dialog', { name: 'Command palette' });
    await palette.getByRole('textbox', { name: 'Command' }).fill('go to record 5');
    await palette.getByRole('option', { name: 'Go to record 5' }).waitFor();
    await page.keyboard.press('Enter');
    await page.getByRole('tab', { name: 'Trace', selected: true }).waitFor();
    await page.getByRole('tab', { name: 'Trace' }).focus();
    await page.keyboard.press('ArrowLeft');
    await page.getByRole('tab', { name: 'Queues', selected: true }).waitFor();
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Queues');
    // One Tab stop for the whole tab list.
    expect(await page.locator('[role="tab"][tabindex="0"]').count()).toBe(1);
  });

  it('shows every view at 1440×900 and 1280×720, light and dark, filling the window', async () => {
    const { page } = opened;
    const tabs = page.getByRole('tab');
    const ids = (await tabs.evaluateAll((els) => els.map((e) => e.id.replace(/^tab-/, '')))) as string[];
    expect(ids.slice(0, 5)).toEqual(['connect', 'devices', 'queues', 'trace', 'timeline']);
    for (const [width, height] of [
      [1440, 900],
      [1280, 720],
    ] as const) {
      await page.setViewportSize({ width, height });
      for (const theme of ['light', 'dark'] as const) {
        await page.getByLabel('Theme').selectOption(theme);
        for (const id of ids) {
          await page.locator(`#tab-${id}`).click();
          await page.locator(`#tab-${id}[aria-selected="true"]`).waitFor();
          // Views fill from the engine in a frame or two; the status bar's counters tick each second.
          await page.waitForTimeout(500);
          expectFillsViewport(await shellLayout(page));
          await screenshot(page, `${id}-${width}x${height}-${theme}`);
        }
      }
    }
    // A wide Connect page uses the width: two columns side by side.
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.locator('#tab-connect').click();
    const columns = await page.locator('.connect-column').evaluateAll((els) => els.map((e) => e.getBoundingClientRect()).map((r) => ({ left: r.left, top: r.top, width: r.width })));
    expect(columns).toHaveLength(2);
    expect(columns[1]!.left).toBeGreaterThan(columns[0]!.left + columns[0]!.width - 1);
    expect(columns[0]!.width + columns[1]!.width).toBeGreaterThan(1440 * 0.85);
  });

  it('disables in a second, viewer window what only the controlling window may do, saying why', async () => {
    const viewer = await wb.open();
    try {
      const { page } = viewer;
      await page.getByText('viewer (read-only)').waitFor();
      const why = 'This window only views the session: take control in the header first.';
      const exportButton = page.getByRole('button', { name: 'Export…' });
      expect(await exportButton.isDisabled()).toBe(true);
      expect(await exportButton.getAttribute('title')).toBe(why);
      await page.getByRole('tab', { name: 'Connect' }).click();
      await page.getByRole('note').filter({ hasText: why }).waitFor();
      expect(await page.getByRole('button', { name: 'Disconnect' }).isDisabled()).toBe(true);
      await screenshot(page, 'viewer-connect');
      // Taking control moves it: this window may act, the first one views.
      await page.getByRole('button', { name: 'Take control' }).click();
      await page.getByText('you control this session').waitFor();
      expect(await page.getByRole('button', { name: 'Export…' }).isDisabled()).toBe(false);
      await opened.page.getByText('viewer (read-only)').waitFor();
      expect(viewer.errors).toEqual([]);
    } finally {
      await viewer.page.close();
    }
    // The controlling window left: the first one controls again.
    await opened.page.getByText('you control this session').waitFor();
  });

  it('ran without page errors or CSP violations', () => {
    expect(opened.errors).toEqual([]);
  });
});
