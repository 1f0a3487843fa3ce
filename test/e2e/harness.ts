/**
 * Shared end-to-end harness: `amp-workbench serve` as a child process on a simulated board, Debian
 * Chromium driven by playwright-core, and screenshots under test/output/screenshots/. The e2e
 * project's global setup (buildRenderer.ts) builds the renderer into out/renderer first, which
 * serve finds on its own.
 *
 * Usage in a test file:
 *   const skip = e2eSkipReason();
 *   describe.skipIf(skip !== null)(`… ${skip ?? ''}`, () => {
 *     let wb: Workbench;
 *     beforeAll(async () => { wb = await startWorkbench(); });
 *     afterAll(() => wb?.close());
 *     it('…', async () => { const page = await wb.open(); … await screenshot(page, 'connect'); });
 *   });
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium, type Browser, type Page } from 'playwright-core';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = join(REPO, 'main/host/cli/amp-workbench.cjs');
export const RENDERER_DIR = join(REPO, 'out/renderer');
export const SCREENSHOTS = join(REPO, 'test/output/screenshots');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why the e2e tests cannot run here, or null when they can. */
export function e2eSkipReason(): string | null {
  if (!existsSync(CHROMIUM)) return `(skipped: no Chromium at ${CHROMIUM}; apt-get install chromium, or set CHROMIUM_PATH)`;
  return null;
}

export interface ServeProcess {
  /** The URL serve printed, token included. */
  url: string;
  /** The captures folder (a fresh temporary one unless given). */
  captures: string;
  proc: ChildProcess;
  /** Everything serve wrote to stderr so far (stage lines, refusals). */
  stderr(): string;
  /** SIGTERM, then wait for the exit (serve closes the session and keeps the capture). */
  stop(): Promise<void>;
}

export interface ServeOptions {
  /** Built-in board id; default the simulated sim-qemu-amp-pci. */
  board?: string;
  /** Extra serve arguments, e.g. ['--no-connect']. */
  args?: string[];
  captures?: string;
  /** How long to wait for the URL line (default 30 s: tsx compiles the CLI on first start). */
  timeoutMs?: number;
}

/** Starts `amp-workbench serve --port 0` and resolves once it printed its URL. */
export function startServe(opts: ServeOptions = {}): Promise<ServeProcess> {
  const owned = opts.captures === undefined;
  const captures = opts.captures ?? mkdtempSync(join(tmpdir(), 'amp-e2e-captures-'));
  const args = [BIN, 'serve', '--board', opts.board ?? 'sim-qemu-amp-pci', '--port', '0', '--captures', captures, ...(opts.args ?? [])];
  // Its live-session announcement goes beside its captures, not into the user's state folder.
  const proc = spawn(process.execPath, args, { cwd: REPO, env: { ...process.env, XDG_STATE_HOME: captures }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    await exited;
    if (owned) rmSync(captures, { recursive: true, force: true });
  };
  return new Promise((res, rej) => {
    const timer = setTimeout(() => {
      void stop();
      rej(new Error(`amp-workbench serve printed no URL within ${opts.timeoutMs ?? 30_000} ms; stderr:\n${err}`));
    }, opts.timeoutMs ?? 30_000);
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /^(http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)$/m.exec(out);
      if (!m) return;
      clearTimeout(timer);
      res({ url: m[1]!, captures, proc, stderr: () => err, stop });
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      rej(new Error(`amp-workbench serve exited (${code ?? signal}) before printing its URL; stderr:\n${err}`));
    });
  });
}

/** Debian Chromium, headless, with a throw-away profile (root needs --no-sandbox). */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface OpenedPage {
  page: Page;
  /** Console errors and uncaught exceptions of the page, for a clear failure message. */
  errors: string[];
}

/** A new page (1280×800) on `url`, collecting its console errors and page errors. */
export async function openPage(browser: Browser, url: string): Promise<OpenedPage> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
  await page.goto(url);
  return { page, errors };
}

/** Saves test/output/screenshots/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

export interface Workbench {
  serve: ServeProcess;
  browser: Browser;
  /** Opens the workbench page (a fresh page each call). */
  open(): Promise<OpenedPage>;
  close(): Promise<void>;
}

/** serve + Chromium together; close() ends both. */
export async function startWorkbench(opts: ServeOptions = {}): Promise<Workbench> {
  if (!existsSync(join(RENDERER_DIR, 'index.html'))) {
    throw new Error(`no renderer build at ${RENDERER_DIR}; the e2e project's globalSetup builds it (run through vitest -c test/vitest.config.mts, or npm run build:renderer)`);
  }
  const serve = await startServe(opts);
  let browser: Browser;
  try {
    browser = await launchBrowser();
  } catch (e) {
    await serve.stop();
    throw e;
  }
  return {
    serve,
    browser,
    open: () => openPage(browser, serve.url),
    async close() {
      await browser.close();
      await serve.stop();
    },
  };
}

/**
 * A virtqueue operation as a user makes one: an rng read of 64 bytes through the Devices view.
 * Returns the rng device's dev_num once the read succeeded.
 */
export async function readRandomBytes(page: Page): Promise<string | null> {
  await page.getByRole('tab', { name: 'Devices' }).click();
  const rng = page.locator('section.device-card', { has: page.getByLabel('Random bytes') });
  await rng.getByLabel('Random bytes').fill('64');
  await rng.getByRole('button', { name: 'Read' }).click();
  const devNum = await rng.getAttribute('data-devnum');
  await page.getByTestId(`workload-result-${devNum}`).getByText(/succeeded/).waitFor();
  return devNum;
}
