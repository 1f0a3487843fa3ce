/**
 * The renderer in Debian Chromium against `amp-workbench serve` on the simulated board: connect,
 * every device reaches DRIVER_OK, a queue's descriptor table, a broken profile's error at its
 * field; the app fills the window and a long view scrolls inside it. Screenshots of each view go
 * to test/output/screenshots/.
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
    // The first page to connect controls the session.
    expect(await page.getByText('controlling').count()).toBe(1);
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
    await expect.poll(() => table.locator('[data-desc]').count()).toBeGreaterThan(0);
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

  it('ran without page errors or CSP violations', () => {
    expect(opened.errors).toEqual([]);
  });
});
