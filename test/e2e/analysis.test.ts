/**
 * The analysis views in Debian Chromium against `amp-workbench serve` on the simulated board:
 * after bring-up and an rng read, Statistics shows what stats computes and a message name opens
 * the Trace view; Transactions lists requests with their response and latency and the rng read's
 * virtqueue operation from EVENT_AVAIL to its used entries; Expert gives its totals; the Timeline
 * draws its event lanes, measures between Δt cursors and zooms to a Shift+dragged range. Each
 * view fills the window; screenshots go to test/output/screenshots/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { e2eSkipReason, readRandomBytes, screenshot, startWorkbench, type OpenedPage, type Workbench } from './harness';
import { expectFillsViewport, shellLayout } from './layout';

const skip = e2eSkipReason();

describe.skipIf(skip !== null)(`analysis views in Chromium ${skip ?? ''}`, () => {
  let wb: Workbench;
  let opened: OpenedPage;

  beforeAll(async () => {
    wb = await startWorkbench({ board: 'sim-qemu-amp-pci' });
    opened = await wb.open();
    const { page } = opened;
    await readRandomBytes(page);
  });
  afterAll(async () => {
    await wb?.close();
  });

  it('Statistics: summary, traffic, per message with bring-up latency; a name opens the Trace view', async () => {
    const { page } = opened;
    await page.getByRole('tab', { name: 'Statistics' }).click();
    const summary = page.getByRole('table', { name: 'Summary' });
    await summary.waitFor();
    expect(Number(((await summary.locator('tr').first().locator('td').last().textContent()) ?? '').replace(/,/g, ''))).toBeGreaterThan(0);
    const latency = page.getByRole('table', { name: 'Latency per request type' });
    await expect.poll(() => latency.textContent()).toContain('GET_DEVICE_INFO');
    await page.getByRole('table', { name: /Latency of virtqueue operations/ }).waitFor();
    expectFillsViewport(await shellLayout(page));
    await screenshot(page, 'statistics');
    await page.getByRole('table', { name: 'Per message' }).getByRole('button', { name: 'GET_DEVICE_INFO' }).click();
    await expect.poll(() => page.getByRole('tab', { name: 'Trace' }).getAttribute('aria-selected')).toBe('true');
    expect(opened.errors).toEqual([]);
  });

  it('Transactions: requests with their response and latency; the rng read as a virtqueue operation', async () => {
    const { page } = opened;
    await page.getByRole('tab', { name: 'Transactions' }).click();
    const requests = page.getByRole('table', { name: 'request transactions' }).locator('tbody tr');
    await requests.first().waitFor();
    expect(await requests.count()).toBeGreaterThan(5);
    expect(await requests.first().textContent()).toMatch(/answered.*\d+(\.\d+)? (ns|µs|ms)/);
    await page.getByLabel('Virtqueue operations').check();
    const ops = page.getByRole('table', { name: 'virtqueue operations' }).locator('tbody tr');
    await ops.first().waitFor();
    const done = page.getByRole('table', { name: 'virtqueue operations' }).locator('tbody tr[data-done="true"]');
    expect(await done.count()).toBeGreaterThan(0);
    expect(await done.first().textContent()).toMatch(/\d+(\.\d+)? (ns|µs|ms)/);
    expectFillsViewport(await shellLayout(page));
    await screenshot(page, 'transactions');
    // A record number opens the record in the Trace view.
    await done.first().getByRole('button').first().click();
    await expect.poll(() => page.getByRole('tab', { name: 'Trace' }).getAttribute('aria-selected')).toBe('true');
    expect(opened.errors).toEqual([]);
  });

  it('Expert: the totals of every rule re-run over the trace', async () => {
    const { page } = opened;
    await page.getByRole('tab', { name: 'Expert' }).click();
    await page.getByText(/in [\d,]+ records checked/).waitFor();
    const groups = await page.locator('details.analysis-group').count();
    if (groups === 0) await page.getByText(/^No findings: every rule holds/).waitFor();
    expectFillsViewport(await shellLayout(page));
    await screenshot(page, 'expert');
    expect(opened.errors).toEqual([]);
  });

  it('Timeline: event lanes, Δt cursors with the messages between, Shift+drag zoom', async () => {
    const { page } = opened;
    await page.getByRole('tab', { name: 'Timeline' }).click();
    const lane = page.locator('[data-lane="ev-marks"] .u-over');
    await lane.waitFor();
    await page.locator('[data-lane="throughput"] canvas').first().waitFor();
    const box = (await lane.boundingBox())!;
    const y = box.y + box.height / 2;
    await page.keyboard.down('Alt');
    await page.mouse.click(box.x + box.width * 0.1, y);
    await page.mouse.click(box.x + box.width * 0.9, y);
    await page.keyboard.up('Alt');
    await expect.poll(() => page.getByTestId('timeline-measure').textContent()).toMatch(/Δt .+ · [\d,]+ messages/);
    const range = page.getByTestId('timeline-range');
    const before = await range.textContent();
    await page.keyboard.down('Shift');
    await page.mouse.move(box.x + box.width * 0.2, y);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.4, y, { steps: 5 });
    await page.mouse.up();
    await page.keyboard.up('Shift');
    await expect.poll(() => range.textContent()).not.toBe(before);
    await page.getByRole('button', { name: 'Whole trace' }).waitFor();
    expectFillsViewport(await shellLayout(page));
    await screenshot(page, 'timeline-analysis');
    expect(opened.errors).toEqual([]);
  });
});
