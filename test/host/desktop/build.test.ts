/**
 * The desktop build (electron-vite, which works without the Electron binary) produces what the
 * sandbox and the process layout need: a single CommonJS preload that requires nothing but
 * 'electron', an engine and a board worker that do not load Electron at all, and the page.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../../..');
let out = '';

/** Every module a bundle requires, sorted and unique. */
function requires(file: string): string[] {
  const text = readFileSync(join(out, file), 'utf8');
  return [...new Set([...text.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!))].sort();
}

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'amp-desktop-build-'));
  const r = spawnSync(process.execPath, [join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build', '-c', 'main/app/electron.vite.config.ts', '--outDir', out], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`electron-vite build failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
}, 150_000);

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('desktop build', () => {
  it('emits one CommonJS preload requiring only electron', () => {
    expect(requires('preload/preload.cjs')).toEqual(['electron']);
    const text = readFileSync(join(out, 'preload/preload.cjs'), 'utf8');
    expect(text).not.toMatch(/^\s*(import|export)\s/m);
    expect(text).not.toContain('zod');
    expect(text).toContain('exposeInMainWorld("ampWorkbench"');
  });

  it('keeps Electron out of the engine and the board worker, which run Node only', () => {
    const engineSide = ['main/engine.js', 'main/worker-entry.cjs'].flatMap(requires);
    expect(engineSide.filter((m) => m === 'electron' || m.startsWith('electron/'))).toEqual([]);
    expect(requires('main/main.js')).toContain('electron');
  });

  it('puts the board worker where the engine starts it from, and the page beside', () => {
    expect(readFileSync(join(out, 'main/engine.js'), 'utf8')).toContain('worker-entry.cjs');
    expect(existsSync(join(out, 'main/worker-entry.cjs'))).toBe(true);
    expect(existsSync(join(out, 'renderer/index.html'))).toBe(true);
  });
});
