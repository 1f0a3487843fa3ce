#!/usr/bin/env node
// `npm start`: builds and starts the desktop app connected to a board (default: the default
// simulated board; `npm start -- --board ID` for another). Where the Electron binary is missing
// (its download failed, or this machine is offline) it says so and points at web mode, which
// runs the same workbench in a browser. It never require()s 'electron': in plain Node that starts
// the binary download (docs/stack.md §11 pitfall 1); it reads node_modules/electron/path.txt instead.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '../..');

function electronBinary() {
  const override = process.env.ELECTRON_EXEC_PATH;
  if (override) return existsSync(override) ? override : null;
  const dir = path.join(root, 'node_modules', 'electron');
  const pathTxt = path.join(dir, 'path.txt');
  if (!existsSync(pathTxt)) return null;
  const exe = path.join(dir, 'dist', readFileSync(pathTxt, 'utf8').trim());
  return existsSync(exe) ? exe : null;
}

if (!electronBinary()) {
  process.stderr.write(
    'amp-workbench: the Electron binary is not installed here (node_modules/electron/path.txt is missing or names no file:\n' +
      'Electron downloads it from GitHub on first use, which failed or was never tried).\n' +
      'To install it, run `npx install-electron` on a machine that reaches github.com, or set ELECTRON_EXEC_PATH to an\n' +
      'Electron 45 executable. Meanwhile the same workbench runs in a browser: `npm run web` prints the URL to open.\n',
  );
  process.exit(1);
}

const args = process.argv.slice(2);
const appArgs = args.some((a) => a === '--board' || a.startsWith('--board=')) ? args : ['--board', ...args];
const preview = [path.join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'preview', '-c', 'main/app/electron.vite.config.ts'];
// Chromium refuses to start as root without --no-sandbox; that turns off the OS sandbox, so say so.
if (process.getuid && process.getuid() === 0) {
  process.stderr.write('amp-workbench: running as root, so Chromium\'s OS sandbox is off (--no-sandbox); run as a normal user to keep it\n');
  preview.push('--noSandbox');
}
const r = spawnSync(process.execPath, [...preview, '--', ...appArgs], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
