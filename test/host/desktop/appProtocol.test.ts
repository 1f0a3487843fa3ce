/**
 * The amp-workbench:// scheme the desktop page is served from: the handler main.ts gives
 * protocol.handle, run here on real files with WHATWG Request/Response, and the privileges main.ts
 * registers the scheme with.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { APP_INDEX_URL, APP_SCHEME, APP_SCHEME_PRIVILEGES, appProtocolHandler, type AppRequest } from '../../../main/host/desktop/appProtocol';
import { appOrigin, appUrl } from '../../../main/host/desktop/gate';
import { desktopCsp } from '../../../main/host/desktop/windowOptions';

const INDEX = '<!doctype html><title>workbench</title><script type="module" src="./assets/index.js"></script>\n';
const SCRIPT = 'console.log("page");\n';
let top = '';
let rendererDir = '';
const csp = desktopCsp(appOrigin('/unused'));
let serve: (r: AppRequest) => Promise<Response>;

beforeAll(() => {
  // A secret beside the renderer folder: what a traversal would be after.
  top = mkdtempSync(join(tmpdir(), 'amp-app-protocol-'));
  writeFileSync(join(top, 'package.json'), '{"secret": true}\n');
  rendererDir = join(top, 'renderer');
  mkdirSync(join(rendererDir, 'assets'), { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), INDEX);
  writeFileSync(join(rendererDir, 'assets/index.js'), SCRIPT);
  writeFileSync(join(rendererDir, 'assets/index.css'), 'body { margin: 0 }\n');
  writeFileSync(join(rendererDir, 'assets/blob.bin'), Buffer.from([0, 1, 2, 0xff]));
  serve = appProtocolHandler(rendererDir, csp);
});

afterAll(() => rmSync(top, { recursive: true, force: true }));

const get = (url: string, method = 'GET') => serve(new Request(url, { method }));

describe('amp-workbench:// handler', () => {
  it('serves index.html, the URL the window loads, with the CSP and the other security headers', async () => {
    expect(appUrl(appOrigin(rendererDir))).toBe(APP_INDEX_URL);
    expect(APP_INDEX_URL).toBe('amp-workbench://app/index.html');
    const r = await get(APP_INDEX_URL);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe(INDEX);
    expect(Object.fromEntries(r.headers)).toEqual({
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': csp,
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
    });
    expect(csp).toContain(`connect-src 'none'`);
  });

  it('serves the folder root as index.html', async () => {
    for (const url of ['amp-workbench://app/', 'amp-workbench://app']) expect(await (await get(url)).text()).toBe(INDEX);
  });

  it('gives scripts and styles their types (nosniff would refuse a wrong one) and unknown files octet-stream', async () => {
    const js = await get('amp-workbench://app/assets/index.js');
    expect([js.status, js.headers.get('content-type'), await js.text()]).toEqual([200, 'text/javascript; charset=utf-8', SCRIPT]);
    expect((await get('amp-workbench://app/assets/index.css')).headers.get('content-type')).toBe('text/css; charset=utf-8');
    const bin = await get('amp-workbench://app/assets/blob.bin');
    expect(bin.headers.get('content-type')).toBe('application/octet-stream');
    expect([...new Uint8Array(await bin.arrayBuffer())]).toEqual([0, 1, 2, 0xff]);
    // Query and fragment do not change the file.
    expect(await (await get('amp-workbench://app/index.html?view=trace#x')).text()).toBe(INDEX);
  });

  it('answers HEAD with the headers and no body', async () => {
    const r = await get('amp-workbench://app/assets/index.js', 'HEAD');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(r.headers.get('content-security-policy')).toBe(csp);
    expect(r.body).toBeNull();
  });

  it.each([
    ['amp-workbench://app/../package.json'],
    ['amp-workbench://app/%2e%2e/package.json'],
    ['amp-workbench://app/..%2fpackage.json'],
    ['amp-workbench://app/assets/..%2f..%2fpackage.json'],
    ['amp-workbench://app/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd'],
    ['amp-workbench://app/..%5cpackage.json'],
    [`amp-workbench://app/${encodeURIComponent(join(top, 'package.json'))}`],
    ['amp-workbench://app/index.html%00.js'],
  ])('keeps %s inside the renderer folder: not found, and nothing of the file outside', async (url) => {
    const r = await get(url);
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(r.headers.get('content-security-policy')).toBe(csp);
    const text = await r.text();
    expect(text).toMatch(/^not found: /);
    expect(text).not.toContain('secret');
  });

  it('says a missing file or a folder is not found', async () => {
    expect(await (await get('amp-workbench://app/assets/missing.js')).text()).toBe('not found: /assets/missing.js\n');
    expect((await get('amp-workbench://app/assets/')).status).toBe(404);
  });

  it.each([
    ['amp-workbench://evil/index.html'],
    ['amp-workbench://app.evil/index.html'],
    ['amp-workbench://app:8080/index.html'],
    ['amp-workbench:index.html'],
    ['file:///index.html'],
    ['https://app/index.html'],
  ])('refuses %s: not the app host', async (url) => {
    const r = await get(url);
    expect(r.status).toBe(404);
    expect(await r.text()).toBe(`${url} is not the workbench page: it serves only amp-workbench://app/\n`);
  });

  it.each([['POST'], ['PUT'], ['DELETE'], ['OPTIONS']])('refuses %s, saying what is served', async (method) => {
    const r = await get(APP_INDEX_URL, method);
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('GET, HEAD');
    expect(await r.text()).toBe(`${method} is not served; the page's files are read with GET\n`);
  });

  it('answers a malformed percent-encoding with 400 and a malformed URL with 404', async () => {
    const bad = await get('amp-workbench://app/%E0%A4%A');
    expect([bad.status, await bad.text()]).toEqual([400, 'malformed path /%E0%A4%A\n']);
    expect((await serve({ url: 'not a url', method: 'GET' })).status).toBe(404);
  });
});

describe('amp-workbench:// registration', () => {
  it('is standard and secure with fetch for its own origin only; nothing that loosens the page', () => {
    const on = ['standard', 'secure', 'supportFetchAPI'];
    const off = ['corsEnabled', 'bypassCSP', 'allowServiceWorkers', 'allowExtensions'];
    const privileges = Object.fromEntries([...on.map((k) => [k, true]), ...off.map((k) => [k, false])]);
    expect(APP_SCHEME_PRIVILEGES).toEqual({ scheme: APP_SCHEME, privileges });
    expect(APP_SCHEME).toBe('amp-workbench');
  });

  it('is what main.ts registers before ready and handles before the window opens', () => {
    const main = readFileSync(resolve(__dirname, '../../../main/app/main.ts'), 'utf8');
    // Passed unchanged, at module load (top level, not inside a function run after ready).
    expect(main).toMatch(/^protocol\.registerSchemesAsPrivileged\(\[APP_SCHEME_PRIVILEGES\]\);$/m);
    expect(main.indexOf('protocol.registerSchemesAsPrivileged(')).toBeLessThan(main.indexOf('app.whenReady()'));
    expect(main).toContain('protocol.handle(APP_SCHEME, appProtocolHandler(origin.rendererDir, csp));');
    const start = main.slice(main.indexOf('async function start()'));
    expect(start.indexOf('harden();')).toBeGreaterThan(0);
    expect(start.indexOf('harden();')).toBeLessThan(start.indexOf('createWindow();'));
    expect(main).toContain('void w.loadURL(appUrl(origin));');
  });
});
