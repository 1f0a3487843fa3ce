/**
 * The UI on a device-side session (`serve --role device`): a driver in another process brings the
 * served devices up over a shm file, and the Devices and Queues views show them as the driver set
 * them up, from the device's side.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BIN, e2eSkipReason, screenshot, startWorkbench, type OpenedPage, type Workbench } from './harness';

const skip = e2eSkipReason();

describe.skipIf(skip !== null)(`the device side in Chromium ${skip ?? ''}`, () => {
  let wb: Workbench;
  let opened: OpenedPage;
  let driver: ChildProcess | undefined;
  const file = join(mkdtempSync('/dev/shm/amp-e2e-device-'), 'board');

  beforeAll(async () => {
    wb = await startWorkbench({ board: 'sim-versal', args: ['--link', `shm-file:${file}`, '--role', 'device'] });
    opened = await wb.open();
    await opened.page.getByRole('tab', { name: 'Devices' }).click();
    // The driver comes after the page: the views hear the bring-up as it happens. It keeps
    // exercising while the views are looked at: once a driver stops, the device side resets its
    // devices for the next one.
    driver = spawn(process.execPath, [BIN, 'exercise', '--board', 'sim-versal', '--link', `shm-file:${file}`, '--count', '1000000'], { stdio: 'ignore' });
  }, 90_000);
  afterAll(async () => {
    driver?.kill('SIGKILL');
    await wb?.close();
  });

  it('shows the served devices as the driver brought them up, and their queues', async () => {
    const { page } = opened;
    const cards = page.locator('section.device-card');
    await expect.poll(() => cards.count()).toBe(2);
    for (let i = 0; i < 2; i++) {
      await cards.nth(i).locator('.chip:not(.chip-off)', { hasText: /^DRIVER_OK$/ }).waitFor();
      await cards.nth(i).locator('.chip', { hasText: /^ready$/ }).waitFor();
    }
    await screenshot(page, 'devices-device-side');
    await page.getByRole('tab', { name: 'Queues' }).click();
    const table = page.getByRole('table', { name: 'Descriptor table' });
    await table.waitFor();
    expect(Number(await page.locator('[data-field="used.idx"]').textContent())).toBeGreaterThan(0);
    await screenshot(page, 'queues-device-side');
    expect(opened.errors).toEqual([]);
  });
});
