#!/usr/bin/env node
// `npm start`: builds and starts the desktop app connected to a board (default: the default
// simulated board; `npm start -- --board ID` for another). The Electron binary is not in the npm
// package and its install script does not run here (package.json "allowScripts"), so on first
// start this downloads it, with progress, from Electron's releases or ELECTRON_MIRROR, and lets the
// package's own install.js unpack it from @electron/get's cache. Where that fails it says what it
// tried, why it failed and what to do instead (web mode runs the same workbench in a browser).
// It never require()s 'electron' (docs/stack.md §11 pitfall 1); it reads path.txt instead.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const root = path.resolve(__dirname, '../..');
const electronDir = path.join(root, 'node_modules', 'electron');
const { version } = require(path.join(electronDir, 'package.json'));
const target = `${process.env.npm_config_platform || process.platform}-${process.env.npm_config_arch || process.arch}`;

/** A terminal line that progress is rewriting in place, which the next message must end first. */
let progressLineOpen = false;

function say(line) {
  process.stderr.write(`${progressLineOpen ? '\n' : ''}amp-workbench: ${line}\n`);
  progressLineOpen = false;
}

/** The executable install.js unpacked, or null while there is none. */
function installedBinary() {
  const pathTxt = path.join(electronDir, 'path.txt');
  if (!existsSync(pathTxt)) return null;
  const exe = path.join(electronDir, 'dist', readFileSync(pathTxt, 'utf8').trim());
  return existsSync(exe) ? exe : null;
}

/** Progress rewritten in place per percent where stderr is a terminal, a line per tenth elsewhere (CI logs). */
function progressReporter() {
  const tty = process.stderr.isTTY;
  let shown = -1;
  return (p) => {
    const step = Math.floor(p.percent * (tty ? 100 : 10));
    if (step <= shown) return;
    shown = step;
    const text = `downloading Electron ${version}: ${Math.floor(p.percent * 100)}% of ${p.total ? `${(p.total / 1e6).toFixed(1)} MB` : 'unknown size'}`;
    if (!tty) return say(text);
    progressLineOpen = p.percent < 1;
    process.stderr.write(`\ramp-workbench: ${text}${progressLineOpen ? '' : '\n'}`);
  };
}

/** Why a download failed, in words; `url` is the last address asked. */
function describeDownloadFailure(err, url) {
  const host = url ? new URL(url).host : 'the download host';
  const status = err && err.response && err.response.status;
  if (status === 404) return `${host} has no such file (HTTP 404)`;
  if (status) return `${host} answered HTTP ${status}`;
  // fetch() reports network failures as "fetch failed" with the system error as its cause.
  const cause = (err && err.cause) || err;
  switch (cause && cause.code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${host} could not be found (this machine has no network, or no name server knows it)`;
    case 'ECONNREFUSED':
      return `${host} refused the connection`;
    case 'ETIMEDOUT':
    case 'ECONNRESET':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'UND_ERR_SOCKET':
      return `the connection to ${host} timed out or was cut`;
    case 'ENOSPC':
      return 'the disk is full';
    case 'MODULE_NOT_FOUND':
    case 'ERR_MODULE_NOT_FOUND':
      return "Electron's download tool (@electron/get) is not installed: run `npm install`";
  }
  if (cause && /certificate|CERT_/i.test(`${cause.code} ${cause.message}`)) return `${host}'s TLS certificate is not trusted here`;
  if (err && /checksum/i.test(String(err.message))) return "the downloaded file does not match Electron's published checksum";
  return 'the download did not complete';
}

/** Downloads the zip into @electron/get's cache; `{ ok }` or `{ tried, failure }`. */
async function download() {
  let tried = null;
  // Our progress replaces @electron/get's bar, which appears only after 30 s.
  process.env.ELECTRON_GET_NO_PROGRESS = '1';
  try {
    // The copy Electron's install.js uses (so the zip lands in the cache it reads); ESM-only, hence import().
    const getEntry = require.resolve('@electron/get', { paths: [electronDir] });
    const { downloadArtifact, FetchDownloader } = await import(pathToFileURL(getEntry).href);
    // Its own downloader, wrapped to learn the address asked for the message.
    const fetcher = new FetchDownloader();
    await downloadArtifact({
      version,
      artifactName: 'electron',
      platform: process.env.npm_config_platform || process.platform,
      arch: process.env.npm_config_arch || process.arch,
      cacheRoot: process.env.electron_config_cache,
      // As install.js verifies, so that it finds the zip in the cache.
      checksums:
        process.env.electron_use_remote_checksums || process.env.npm_config_electron_use_remote_checksums
          ? undefined
          : require(path.join(electronDir, 'checksums.json')),
      downloader: {
        download: (url, file, options) => {
          tried = url;
          return fetcher.download(url, file, options);
        },
      },
      downloadOptions: { quiet: true, getProgressCallback: progressReporter() },
    });
    return { ok: true };
  } catch (err) {
    return { ok: false, tried, failure: describeDownloadFailure(err, tried) };
  }
}

/** Runs the package's install.js, which unpacks the cached zip and writes path.txt. */
function unpack() {
  say(`unpacking Electron ${version} into node_modules/electron/dist`);
  const r = spawnSync(process.execPath, [path.join(electronDir, 'install.js')], { cwd: electronDir, encoding: 'utf8', stdio: ['ignore', 'inherit', 'pipe'] });
  if (r.status === 0 && installedBinary()) return null;
  if (/EACCES|EPERM/.test(r.stderr)) return 'node_modules/electron is not writable by this user';
  if (/ENOSPC/.test(r.stderr)) return 'the disk is full';
  return "Electron's installer could not unpack the download";
}

function explainAndExit(tried, failure) {
  say(
    `Electron ${version} (the desktop app's runtime, not part of its npm package) is not installed here.\n` +
      (tried ? `  Tried: downloading ${tried}\n` : '') +
      `  Failed: ${failure}.\n` +
      'What to do:\n' +
      '  - `npm run web` runs the same workbench in a browser (it prints the URL to open);\n' +
      '  - or point ELECTRON_MIRROR at an Electron mirror this machine reaches (for example\n' +
      '    ELECTRON_MIRROR=https://npmmirror.com/mirrors/electron/) and run `npm start` again;\n' +
      `  - or copy Electron ${version} for ${target} to this machine, unpacked, and set ELECTRON_EXEC_PATH\n` +
      '    to its executable.',
  );
  process.exit(1);
}

/** The Electron executable to run, downloading it first where it is missing. */
async function electronBinary() {
  const override = process.env.ELECTRON_EXEC_PATH;
  if (override) {
    if (!existsSync(override)) explainAndExit(null, `ELECTRON_EXEC_PATH names ${override}, which does not exist`);
    return override;
  }
  const installed = installedBinary();
  if (installed) return installed;
  if (process.env.ELECTRON_SKIP_BINARY_DOWNLOAD) explainAndExit(null, 'ELECTRON_SKIP_BINARY_DOWNLOAD is set, so nothing was downloaded');
  say(`Electron ${version} is not installed yet: downloading it`);
  const fetched = await download();
  if (!fetched.ok) explainAndExit(fetched.tried, fetched.failure);
  const unpackFailure = unpack();
  if (unpackFailure) explainAndExit(null, unpackFailure);
  return installedBinary();
}

async function main() {
  const electron = await electronBinary();
  const args = process.argv.slice(2);
  const appArgs = args.some((a) => a === '--board' || a.startsWith('--board=')) ? args : ['--board', ...args];
  const preview = [path.join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'preview', '-c', 'main/app/electron.vite.config.ts'];
  // Chromium refuses to start as root without --no-sandbox; that turns off the OS sandbox, so say so.
  if (process.getuid && process.getuid() === 0) {
    say("running as root, so Chromium's OS sandbox is off (--no-sandbox); run as a normal user to keep it");
    preview.push('--noSandbox');
  }
  // electron-vite runs the binary named here: the one just found, not a second lookup of its own.
  const r = spawnSync(process.execPath, [...preview, '--', ...appArgs], { cwd: root, stdio: 'inherit', env: { ...process.env, ELECTRON_EXEC_PATH: electron } });
  process.exit(r.status ?? 1);
}

main();
