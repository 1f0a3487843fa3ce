/**
 * Trace, Timeline and Export in Debian Chromium against `amp-workbench serve` on the simulated
 * board: the trace grows while a device is reset, a filter narrows it (and a bad one shows its
 * column), a message's detail lights its bytes, the export dialog writes a pcapng that
 * loadCapture reads back with as many records as the dialog reported, an rng read puts a
 * virtqueue lane on the Timeline. Both views fill the window exactly. Then the Trace view's
 * Wireshark-like tools: completion and the live check in the filter bar, "no record matches",
 * a row's context menu following a device, go to record N, marks, the detail's ASCII column,
 * sorting by latency, a colour rule, and the number keys after a checkbox click. Screenshots of Trace (plain and with the row menu) and
 * Timeline go to test/output/screenshots/.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadCapture } from '../../main/host/trace/load';
import { blockCount } from '../../src/trace/block';
import { e2eSkipReason, readRandomBytes, screenshot, startWorkbench, type OpenedPage, type Workbench } from './harness';
import { expectFillsViewport, shellLayout } from './layout';

const skip = e2eSkipReason();

describe.skipIf(skip !== null)(`trace views in Chromium ${skip ?? ''}`, () => {
  let wb: Workbench;
  let opened: OpenedPage;
  const outDir = mkdtempSync(join(tmpdir(), 'amp-e2e-export-'));

  beforeAll(async () => {
    wb = await startWorkbench({ board: 'sim-qemu-amp-pci' });
    opened = await wb.open();
  });
  afterAll(async () => {
    await wb?.close();
    rmSync(outDir, { recursive: true, force: true });
  });

  const recordCount = async (): Promise<number> => Number(((await opened.page.locator('.trace-count').textContent()) ?? '').replace(/[^\d]/g, ''));

  it('shows the trace growing while a device is reset', async () => {
    const { page } = opened;
    await page.getByRole('tab', { name: 'Trace' }).click();
    await page.locator('.trace-row[data-index]').first().waitFor();
    const before = await recordCount();
    expect(before).toBeGreaterThan(0);

    await page.getByRole('tab', { name: 'Devices' }).click();
    await page.getByRole('button', { name: 'Reset & renegotiate' }).first().click();
    await page.getByRole('button', { name: 'Reset & renegotiate' }).first().waitFor();
    await page.getByRole('tab', { name: 'Trace' }).click();
    await expect.poll(recordCount).toBeGreaterThan(before);
    // Following the tail: the last record is on screen.
    const total = await recordCount();
    await page.locator(`.trace-row[data-index="${total - 1}"]`).waitFor();
    expect(opened.errors).toEqual([]);
  });

  it('filters the trace and shows a refused filter with a caret at its column', async () => {
    const { page } = opened;
    const all = await recordCount();
    const input = page.getByLabel('filter', { exact: true });
    await input.fill('dev == 1 && msg = GET_CONFIG');
    await input.press('Enter');
    const caret = page.getByTestId('filter-caret');
    await caret.waitFor();
    const [, marker] = ((await caret.textContent()) ?? '').split('\n');
    expect(marker).toBe(`${' '.repeat(16)}^`);

    await input.fill('type == response');
    await input.press('Enter');
    await page.getByText(/matching records/).waitFor();
    // The view's size arrives with its first page.
    await expect.poll(recordCount).toBeGreaterThan(0);
    const matching = await recordCount();
    expect(matching).toBeLessThan(all);
    const rows = page.locator('.trace-row[data-index]');
    await rows.first().waitFor();
    // Every response has a latency.
    for (const latency of await page.locator('.trace-row[data-index] .c-latency').allTextContents()) expect(latency).toMatch(/\d/);
    // The summary says what the message, dev and token columns do not.
    const first = rows.first();
    const name = (await first.locator('.c-msg').textContent()) ?? '';
    expect(name).toMatch(/^[A-Z_]+$/);
    expect(await first.locator('.c-summary').textContent()).not.toMatch(new RegExp(`^${name}|\\bdev \\d|\\btoken 0x`));
  });

  it("opens a message's detail whose bytes light with the field under the pointer", async () => {
    const { page } = opened;
    await page.locator('.trace-row[data-index]').first().click();
    await page.locator('.trace-table-wrap').press('Enter');
    const pane = page.getByRole('complementary', { name: 'record detail' });
    const field = pane.getByRole('treeitem').first();
    await field.waitFor();
    await field.hover();
    await expect.poll(() => pane.locator('.trace-hex-byte.lit').count()).toBeGreaterThan(0);
    // The table and the side pane grow down to the bottom of the view, above the status bar.
    expectFillsViewport(await shellLayout(page));
    const bottoms = await page.evaluate<{ inner: number; table: number; side: number }>(`(() => {
      const main = document.querySelector('.app-main');
      const bottom = (s) => document.querySelector(s).getBoundingClientRect().bottom;
      return { inner: main.getBoundingClientRect().bottom - parseFloat(getComputedStyle(main).paddingBottom), table: bottom('.trace-table'), side: bottom('.trace-side') };
    })()`);
    expect(bottoms.table).toBeCloseTo(bottoms.inner, 0);
    expect(bottoms.side).toBeCloseTo(bottoms.inner, 0);
    await screenshot(page, 'trace');
    await pane.getByRole('button', { name: /← request/ }).click();
    await expect.poll(async () => (await pane.getByRole('button', { name: 'response →' }).count()) === 1).toBe(true);
  });

  it('exports pcapng through the dialog and the file reads back', async () => {
    const { page } = opened;
    await page.getByLabel('filter', { exact: true }).fill('');
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.locator('body').press('Control+e');
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    const out = join(outDir, 'e2e.pcapng');
    await dialog.getByLabel('Format').selectOption('pcapng');
    await dialog.getByLabel('Output file').fill(out);
    await dialog.getByRole('button', { name: 'Export' }).click();
    const status = dialog.getByRole('status');
    await status.waitFor();
    const written = Number(/Wrote ([\d,]+) records/.exec((await status.textContent()) ?? '')![1]!.replace(/,/g, ''));
    expect(written).toBeGreaterThan(0);
    const back = loadCapture(out);
    // A file source counts its records as it streams them.
    expect(back.ok && blockCount(back.value.blocks())).toBe(written);
    await dialog.getByRole('button', { name: 'Close' }).click();
  });

  it('draws the timeline from windowed queries, with a lane per virtqueue a workload used', async () => {
    const { page } = opened;
    // Descriptors go in flight on the rng device's queue.
    const devNum = await readRandomBytes(page);

    await page.getByRole('tab', { name: 'Timeline' }).click();
    await page.locator('[data-lane="throughput"] canvas').first().waitFor();
    await expect.poll(() => page.locator('.timeline-lane[data-lane^="d"]').count()).toBeGreaterThan(0);
    const queueLane = page.locator(`.timeline-lane[data-lane^="d${devNum}q"]`).first();
    await queueLane.waitFor();
    expect(await queueLane.locator('.timeline-lane-label').textContent()).toMatch(new RegExp(`^dev ${devNum} vq \\d+ in flight$`));
    // No uPlot legend under the chart: the values under the cursor go into the lane's label.
    expect(await page.locator('.timeline-view .u-legend').count()).toBe(0);
    const readout = page.getByTestId('throughput-readout');
    expect(await readout.textContent()).toBe('');
    await page.locator('[data-lane="throughput"] .u-over').hover();
    await expect.poll(() => readout.textContent()).toMatch(/^at .+: [\d.]+[kMG]? messages\/s · [\d.]+[kMG]? bytes\/s$/);
    expectFillsViewport(await shellLayout(page));
    await screenshot(page, 'timeline');
    expect(opened.errors).toEqual([]);
  });

  it('completes and checks a filter while typing, and says when nothing matches', async () => {
    const { page } = opened;
    await page.getByRole('tab', { name: 'Trace' }).click();
    const input = page.getByLabel('filter', { exact: true });
    await input.fill('msg == GET_VQ');
    const list = page.getByRole('listbox', { name: 'suggestions' });
    await list.getByRole('option', { name: /^GET_VQUEUE/ }).waitFor();
    await input.press('ArrowDown');
    await input.press('Enter');
    expect(await input.inputValue()).toBe('msg == GET_VQUEUE ');
    expect(await input.getAttribute('class')).toBe('valid');
    await input.pressSequentially('&& dev == 99');
    await input.press('Escape');
    await input.press('Enter');
    await page.getByText('No record matches msg == GET_VQUEUE && dev == 99.').waitFor();

    await input.fill('msg == GET_VQEUE');
    expect(await input.getAttribute('class')).toBe('invalid');
    expect(await page.getByTestId('filter-hint').textContent()).toContain('did you mean GET_VQUEUE');
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.locator('.trace-count', { hasText: /^[\d,]+ records$/ }).waitFor();
    expect(opened.errors).toEqual([]);
  });

  it("follows a device from a row's context menu, goes to a record and marks it", async () => {
    const { page } = opened;
    const row = page.locator('.trace-row[data-index]').filter({ has: page.locator('.c-dev', { hasText: /\d/ }) }).first();
    await row.click({ button: 'right' });
    const menu = page.getByRole('menu');
    await menu.waitFor();
    await screenshot(page, 'trace-row-menu');
    await menu.getByRole('menuitem', { name: /^Follow device \d+/ }).click();
    const input = page.getByLabel('filter', { exact: true });
    await expect.poll(() => input.inputValue()).toMatch(/^dev == \d+$/);
    await page.getByText(/matching records/).waitFor();
    await page.getByRole('button', { name: 'Clear' }).click();

    await page.locator('.trace-row[data-index]').first().click();
    await page.locator('.trace-table-wrap').press('Control+g');
    const goTo = page.getByLabel('record number');
    await goTo.fill('3');
    await goTo.press('Enter');
    const pane = page.getByRole('complementary', { name: 'record detail' });
    await pane.getByText('#3', { exact: true }).waitFor();
    await page.locator('.trace-table-wrap').press('m');
    await page.getByText('1 marked').waitFor();
    expect(await page.locator('.trace-row.marked').count()).toBe(1);
    expect(await pane.locator('.trace-detail-facts').textContent()).toMatch(/wall time\d{4}-\d\d-\d\d /);
    expect(opened.errors).toEqual([]);
  });

  it('shows the ASCII of a message’s bytes beside the hex', async () => {
    const { page } = opened;
    await page.getByLabel('filter', { exact: true }).fill('msg == GET_DEVICE_INFO && type == response');
    await page.getByLabel('filter', { exact: true }).press('Escape');
    await page.getByLabel('filter', { exact: true }).press('Enter');
    await page.getByText(/matching records/).waitFor();
    await page.locator('.trace-row[data-index]').first().dblclick();
    const pane = page.getByRole('complementary', { name: 'record detail' });
    await pane.locator('.trace-hex-ascii').first().waitFor();
    const hex = (await pane.locator('.trace-hex-line').first().locator('.trace-hex-byte').allTextContents()).map((h) => parseInt(h, 16));
    const ascii = (await pane.locator('.trace-hex-line').first().locator('.trace-hex-char').allTextContents()).join('');
    expect(ascii).toBe(hex.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join(''));
    // The device type is named beside its number.
    expect(await pane.getByRole('treeitem').filter({ hasText: 'device_id' }).locator('.trace-field-meaning').count()).toBe(1);
    await page.getByRole('button', { name: 'Clear' }).click();
  });

  it('sorts responses by latency and tints rows by a colour rule', async () => {
    const { page } = opened;
    const input = page.getByLabel('filter', { exact: true });
    await input.fill('type == response');
    await input.press('Escape');
    await input.press('Enter');
    await page.getByText(/matching records/).waitFor();
    const latency = page.getByRole('columnheader', { name: /^latency/ });
    await latency.getByRole('button').click();
    await latency.getByRole('button').click();
    expect(await latency.getAttribute('aria-sort')).toBe('descending');
    await page.getByText(/Sorted by latency ▼/).waitFor();
    const ns = (t: string): number => {
      const m = /^([\d.]+) (ns|µs|ms|s)$/.exec(t.trim())!;
      return Number(m[1]) * { ns: 1, µs: 1e3, ms: 1e6, s: 1e9 }[m[2] as 'ns' | 'µs' | 'ms' | 's'];
    };
    await expect.poll(async () => (await page.locator('.trace-row[data-index="1"] .c-latency').textContent()) ?? '').toMatch(/\d/);
    const shown = (await page.locator('.trace-row[data-index] .c-latency').allTextContents()).filter((t) => t !== '').map(ns);
    expect(shown.length).toBeGreaterThan(3);
    for (let i = 1; i < shown.length; i++) expect(shown[i]).toBeLessThanOrEqual(shown[i - 1]!);
    await page.getByRole('button', { name: 'Trace order' }).click();

    await page.getByRole('button', { name: /^Colours/ }).click();
    const rules = page.getByRole('group', { name: 'colour rules' });
    await rules.getByLabel("new rule's colour").selectOption('green');
    await rules.getByLabel("new rule's filter").fill('msg == SET_DEVICE_STATUS');
    await rules.getByRole('button', { name: 'Add rule' }).click();
    const tinted = page.locator('.trace-row.colour-green').first();
    await tinted.waitFor();
    expect(await tinted.locator('.c-msg').textContent()).toBe('SET_DEVICE_STATUS');
    await screenshot(page, 'trace-colour-rules');
    await rules.getByRole('button', { name: 'remove msg == SET_DEVICE_STATUS' }).click();
    await page.getByRole('button', { name: /^Colours/ }).click();
    await page.getByRole('button', { name: 'Clear' }).click();
    expect(opened.errors).toEqual([]);
  });

  it('the number keys switch views after a checkbox was clicked', async () => {
    const { page } = opened;
    const markers = page.getByRole('checkbox', { name: 'markers' });
    await markers.click();
    await page.keyboard.press('2');
    expect(await page.getByRole('tab', { name: 'Devices' }).getAttribute('aria-selected')).toBe('true');
    await page.keyboard.press('4');
    expect(await page.getByRole('tab', { name: 'Trace' }).getAttribute('aria-selected')).toBe('true');
    await page.getByRole('checkbox', { name: 'markers' }).uncheck();
    expect(opened.errors).toEqual([]);
  });
});
