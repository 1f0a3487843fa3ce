/**
 * Devices and Queues in Debian Chromium against `amp-workbench serve` on the simulated board, as
 * a user works them: the default i2c transfer succeeds and keeps its form and result across a
 * view switch; a repeated rng read ends with every operation counted and its latency; a
 * continuous i2c load shows live latency while Queues shows the chains the device returned last,
 * folds the descriptors never written, shows a buffer's bytes and draws occupancy with axes;
 * the console terminal echoes a typed line; after a disconnect every control is disabled and
 * says why. Screenshots of both views under load go to test/output/screenshots/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { e2eSkipReason, screenshot, startWorkbench, type OpenedPage, type Workbench } from './harness';

const skip = e2eSkipReason();

describe.skipIf(skip !== null)(`Devices and Queues in Chromium ${skip ?? ''}`, () => {
  let wb: Workbench;
  let opened: OpenedPage;

  beforeAll(async () => {
    wb = await startWorkbench({ board: 'sim-qemu-amp-pci' });
    opened = await wb.open();
  });
  afterAll(async () => {
    await wb?.close();
  });

  const card = (label: string) => opened.page.locator('section.device-card', { has: opened.page.getByLabel(label, { exact: true }) });

  it('runs the default i2c transfer and keeps the form and the result across a view switch', async () => {
    const { page } = opened;
    await page.getByRole('tab', { name: 'Devices' }).click();
    const i2c = card('I2C address');
    await i2c.getByLabel('Bytes to read').fill('6');
    await i2c.getByRole('button', { name: 'Run transfer' }).click();
    const devNum = await i2c.getAttribute('data-devnum');
    const result = page.getByTestId(`workload-result-${devNum}`);
    await result.getByText('succeeded').waitFor();
    await page.getByRole('tab', { name: 'Trace' }).click();
    await page.getByRole('tab', { name: 'Devices' }).click();
    expect(await i2c.getByLabel('Bytes to read').inputValue()).toBe('6');
    await result.getByText('succeeded').waitFor();
    expect(opened.errors).toEqual([]);
  });

  it('runs an rng read 200 times and reports every operation with its latency', async () => {
    const { page } = opened;
    const rng = card('Random bytes');
    const devNum = await rng.getAttribute('data-devnum');
    await rng.getByLabel('repeat').check();
    await rng.getByLabel('Repeat count').fill('200');
    await rng.getByRole('button', { name: 'Run 200×' }).click();
    const panel = page.getByTestId(`load-${devNum}`);
    await panel.getByText('finished').waitFor();
    expect(await panel.locator('[data-field="operations"]').textContent()).toBe('200 of 200 operations');
    expect(await panel.locator('[data-field="failed"]').textContent()).toBe('0 failed');
    expect(await panel.locator('[data-field="latency"]').textContent()).toMatch(/^last [\d.]+ [µm]?s · p50 [\d.]+ [µm]?s · p99 .* \(over the last 200 that succeeded\)$/);
  });

  it('shows a continuous load live and, in Queues, the chains it moves, a buffer’s bytes and occupancy', async () => {
    const { page } = opened;
    const i2c = card('I2C address');
    const devNum = await i2c.getAttribute('data-devnum');
    await i2c.getByLabel('continuously').check();
    await i2c.getByRole('button', { name: 'Start' }).click();
    const panel = page.getByTestId(`load-${devNum}`);
    const done = async () => Number(((await panel.locator('[data-field="operations"]').textContent()) ?? '').replace(/\D/g, ''));
    await expect.poll(done).toBeGreaterThan(20);
    const seen = await done();
    await expect.poll(done).toBeGreaterThan(seen);
    await panel.locator('[data-field="latency"]').waitFor();
    await screenshot(page, 'devices-load');

    await page.getByRole('tab', { name: 'Queues' }).click();
    await page.getByRole('button', { name: new RegExp(`^dev ${devNum} i2c · 0 `) }).click();
    expect(await page.getByLabel(/auto-refresh every 1 s/).isChecked()).toBe(true);
    const recent = page.getByRole('table', { name: 'Returned chains' });
    await recent.locator('tbody tr').first().waitFor();
    expect(await recent.locator('tbody tr').count()).toBe(8);
    // The i2c request is a chain of header → (data) → status: more than one descriptor.
    expect(await recent.locator('tbody tr').first().locator('td').nth(2).textContent()).toMatch(/^\d+ → \d+/);
    const table = page.getByRole('table', { name: 'Descriptor table' });
    await table.locator('[data-empty]').first().waitFor();
    expect(await table.locator('[data-empty]').first().textContent()).toMatch(/^\d+–\d+: \d+ descriptors never written \(all zero\)$/);
    await table.getByRole('button', { name: /^Bytes of descriptor / }).first().click();
    await page.getByTestId('buffer-bytes').locator('pre').waitFor();
    expect(await page.getByTestId('buffer-bytes').locator('pre').textContent()).toMatch(/^0000 {2}[0-9a-f]{2}( [0-9a-f]{2})*/);
    const chart = page.getByRole('img', { name: new RegExp(`^Occupancy of queue 0 of device ${devNum}$`) });
    await chart.waitFor();
    expect(await chart.locator('[data-axis="y"] text').first().textContent()).toBe('0');
    expect(await chart.locator('[data-axis="x"] text').last().textContent()).toMatch(/^[\d.]+ (ns|µs|ms|s)$/);
    await screenshot(page, 'queues-load');

    // The load kept running while Queues was open; it stops from Devices.
    await page.getByRole('tab', { name: 'Devices' }).click();
    await i2c.getByRole('button', { name: 'Stop' }).click();
    await panel.getByText('Stopped: stopped by the user').waitFor();
    expect(await panel.locator('[data-field="failed"]').textContent()).toBe('0 failed');
  });

  it('echoes a line typed into the console terminal', async () => {
    const { page } = opened;
    const log = page.getByRole('log', { name: /^Console of device \d+$/ });
    const terminal = page.locator('.console-terminal');
    await terminal.getByRole('button', { name: 'Open terminal' }).click();
    const input = terminal.getByLabel('Console input');
    await expect.poll(() => input.isEnabled()).toBe(true);
    await input.fill('hello, console');
    await input.press('Enter');
    await expect.poll(() => log.textContent()).toBe('hello, console\n');
    await terminal.getByRole('button', { name: 'Close terminal' }).click();
    await terminal.getByText('Terminal closed: closed by the user').waitFor();
    expect(opened.errors).toEqual([]);
  });

  it('disables every device control after a disconnect and says why', async () => {
    const { page } = opened;
    await page.getByRole('tab', { name: 'Devices' }).click();
    await page.getByRole('button', { name: 'Reset & renegotiate' }).first().waitFor();
    await page.locator('body').press('Control+k');
    await page.keyboard.type('Disconnect');
    await page.keyboard.press('Enter');
    const reset = page.getByRole('button', { name: 'Reset & renegotiate' }).first();
    await expect.poll(() => reset.isDisabled()).toBe(true);
    expect(await reset.getAttribute('title')).toBe('No board is connected: connect one first.');
    // The i2c form is still in the continuous mode it was left in.
    expect(await card('I2C address').getByRole('button', { name: 'Start' }).isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Open terminal' }).isDisabled()).toBe(true);
    await page.getByRole('status').getByText('The last known state of each device.', { exact: false }).waitFor();
  });
});
