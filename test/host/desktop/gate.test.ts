/** The main process's gate: only the app's own page gets the port to the engine, and every request on it must fit the API. */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

import { appOrigin, appUrl, gateRequest, isAppSender, type AppOrigin } from '../../../main/host/desktop/gate';

const rendererDir = resolve('/opt/AMP Workbench/resources/app.asar/out/renderer');
const packaged = appOrigin(rendererDir);
const own = 'amp-workbench://app/index.html';
/** Where the page used to load from: no longer the app's page. */
const fileIndex = pathToFileURL(resolve(rendererDir, 'index.html')).href;
const dev: AppOrigin = { kind: 'dev', url: 'http://localhost:5173/' };

describe('sender check', () => {
  it.each([
    [own],
    [`${own}#/trace`],
    [`${own}?view=devices`],
    ['amp-workbench://app/'],
    // Every file of that origin is the renderer build (appProtocol.ts serves nothing else).
    ['amp-workbench://app/assets/worker.js'],
  ])('allows the app page %s', (url) => {
    expect(isAppSender(url, packaged)).toBe(true);
  });

  it.each([
    ['http://evil.example/'],
    ['https://evil.example/index.html'],
    ['devtools://devtools/bundled/devtools_app.html'],
    ['data:text/html,<script>ampWorkbench.call("session.disconnect",{})</script>'],
    ['about:blank'],
    ['chrome-extension://abc/index.html'],
    [fileIndex],
    [`${fileIndex}#/trace`],
    [pathToFileURL(resolve('/home/user/Downloads/index.html')).href],
    ['file://evil-host/opt/AMP%20Workbench/resources/app.asar/out/renderer/index.html'],
    ['amp-workbench://evil/index.html'],
    ['amp-workbench://app.evil/index.html'],
    ['amp-workbench://app:1/index.html'],
    ['amp-workbench:index.html'],
    ['other-scheme://app/index.html'],
    ['https://app/index.html'],
    ['not a url'],
    [''],
    [null],
    [undefined],
  ])('refuses %s', (url) => {
    expect(isAppSender(url, packaged)).toBe(false);
  });

  it('in development allows the dev server origin only', () => {
    expect(isAppSender('http://localhost:5173/', dev)).toBe(true);
    expect(isAppSender('http://localhost:5173/src/main.tsx?x#y', dev)).toBe(true);
    expect(isAppSender('http://localhost:5174/', dev)).toBe(false);
    expect(isAppSender('http://127.0.0.1:5173/', dev)).toBe(false);
    expect(isAppSender('ws://localhost:5173/', dev)).toBe(false);
    expect(isAppSender(own, dev)).toBe(false);
    expect(isAppSender(fileIndex, dev)).toBe(false);
  });

  it('the page the window loads passes its own check', () => {
    expect(appUrl(packaged)).toBe(own);
    expect(isAppSender(appUrl(packaged), packaged)).toBe(true);
    expect(isAppSender(appUrl(dev), dev)).toBe(true);
  });
});

describe('request gate', () => {
  it('lets a valid request through with its params unparsed (the engine parses them itself)', () => {
    const params = { devNum: 1, kind: 'i2c-transfer', params: { address: 0x50, segments: [{ write: '00 10' }, { read: 4 }] } };
    expect(gateRequest('device.workload', params)).toEqual({ ok: true, value: { method: 'device.workload', params } });
    expect(gateRequest('trace.info', undefined)).toEqual({ ok: true, value: { method: 'trace.info', params: {} } });
  });

  it.each([['shell.openExternal'], ['__proto__'], ['toString'], [42], [null]])('refuses the unknown method %s', (method) => {
    expect(gateRequest(method, {})).toMatchObject({ ok: false, error: { code: 'unknown-method', field: 'method' } });
  });

  it.each([
    ['device.reset', { devNum: -1 }, 'params.devNum'],
    ['device.reset', { devNum: 1, extra: true }, 'params.extra'],
    ['trace.rows', { from: 0, count: 0 }, 'params.count'],
    ['trace.export', { format: 'xml', out: '/tmp/x' }, 'params.format'],
    ['session.connect', { board: 'a', profileText: 'b' }, 'params.profileText'],
  ])('refuses %s with bad params, naming the field', (method, params, field) => {
    const r = gateRequest(method, params);
    expect(r).toMatchObject({ ok: false, error: { code: 'bad-request', field, method } });
    // The message names the field the way the form does, not the API method.
    expect((r as { error: { message: string } }).error.message).toMatch(new RegExp(`^${field.replace(/^params\./, '')}: `));
  });
});
