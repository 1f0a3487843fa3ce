/**
 * `npm start` on a fresh machine (main/app/launch.cjs): where the Electron binary is missing it
 * downloads it with progress and lets Electron's install.js unpack it; where the download fails it
 * says what it tried, why it failed in words, and what to do; where the binary is there it
 * launches it. Runs offline: each test builds a checkout of its own (the launcher, a copy of the
 * electron package, a stand-in electron-vite) and serves Electron's zip from a mirror on 127.0.0.1.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';

const repo = resolve(__dirname, '../..');
const electronPackage = join(repo, 'node_modules/electron');
const { version } = JSON.parse(readFileSync(join(electronPackage, 'package.json'), 'utf8')) as { version: string };
const zipName = `electron-v${version}-${process.platform}-${process.arch}.zip`;

/** A stored (uncompressed) zip whose entries keep their Unix modes, as Electron's zips do. */
function zip(entries: { name: string; mode: number; data: Buffer }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const crc = crc32(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x21, 12); // 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by Unix, so the external attributes hold the mode
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(e.data.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((0o100000 | e.mode) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, e.data);
    centrals.push(central, name);
    offset += local.length + name.length + e.data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** The stand-in Electron: records its arguments. */
const STUB_ELECTRON = '#!/bin/sh\necho "$@" > "$(dirname "$0")/ran-with"\n';
/** Electron's zip: the executable, a version file as install.js expects, and 2 MB of padding so the download takes several progress steps. */
const electronZip = zip([
  { name: 'electron', mode: 0o755, data: Buffer.from(STUB_ELECTRON) },
  { name: 'version', mode: 0o644, data: Buffer.from(version) },
  { name: 'resources.pak', mode: 0o644, data: Buffer.alloc(2_000_000, 7) },
]);

let checkout = '';
let mirror: Server | null = null;

afterEach(async () => {
  if (mirror) await new Promise((done) => mirror!.close(done));
  mirror = null;
  rmSync(checkout, { recursive: true, force: true });
});

/**
 * A checkout as `npm install` leaves it: the launcher, a copy of the electron package without its
 * binary (checksums.json lists `zipSha256` for the zip), Electron's download and unzip tools, and
 * an electron-vite that runs ELECTRON_EXEC_PATH with the arguments after `--`, as `preview` does.
 */
function makeCheckout(zipSha256: string): void {
  checkout = mkdtempSync(join(tmpdir(), 'amp-launch-'));
  mkdirSync(join(checkout, 'main/app'), { recursive: true });
  copyFileSync(join(repo, 'main/app/launch.cjs'), join(checkout, 'main/app/launch.cjs'));
  const electron = join(checkout, 'node_modules/electron');
  mkdirSync(electron, { recursive: true });
  for (const f of ['package.json', 'install.js', 'index.js']) copyFileSync(join(electronPackage, f), join(electron, f));
  writeFileSync(join(electron, 'checksums.json'), JSON.stringify({ [zipName]: zipSha256 }));
  for (const dep of ['@electron', '@electron-internal']) symlinkSync(join(repo, 'node_modules', dep), join(checkout, 'node_modules', dep));
  const vite = join(checkout, 'node_modules/electron-vite/bin');
  mkdirSync(vite, { recursive: true });
  writeFileSync(
    join(vite, 'electron-vite.js'),
    "const a = process.argv.slice(2); require('fs').writeFileSync(__dirname + '/preview-args', a.slice(0, a.indexOf('--')).join(' '));\n" +
      "process.exit(require('child_process').spawnSync(process.env.ELECTRON_EXEC_PATH, a.slice(a.indexOf('--') + 1)).status);\n",
  );
}

/** Serves the zip under /v<version>/ in 20 slices 10 ms apart (a slow link has several progress steps). */
async function serveMirror(): Promise<string> {
  mirror = createServer((req, res) => {
    if (req.url !== `/v${version}/${zipName}`) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/zip', 'content-length': electronZip.length });
    const slice = Math.ceil(electronZip.length / 20);
    let at = 0;
    const next = (): void => {
      if (at >= electronZip.length) return void res.end();
      res.write(electronZip.subarray(at, (at += slice)));
      setTimeout(next, 10);
    };
    next();
  });
  await new Promise<void>((done) => mirror!.listen(0, '127.0.0.1', done));
  return `http://127.0.0.1:${(mirror.address() as AddressInfo).port}/`;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((done) => s.listen(0, '127.0.0.1', done));
  const port = (s.address() as AddressInfo).port;
  await new Promise((done) => s.close(done));
  return port;
}

/** Runs `npm start -- args` in the checkout (asynchronously: the mirror answers from this process). */
function start(env: Record<string, string>, args: string[] = []): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [join(checkout, 'main/app/launch.cjs'), ...args], {
    cwd: checkout,
    env: { PATH: process.env.PATH!, HOME: checkout, electron_config_cache: join(checkout, 'cache'), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((done) => child.on('close', (code) => done({ code, stderr })));
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const ranWith = (): string => readFileSync(join(checkout, 'node_modules/electron/dist/ran-with'), 'utf8').trim();

/** What every failure must say, and what it must not show. */
function expectAdvice(stderr: string): void {
  expect(stderr).toContain('`npm run web`');
  expect(stderr).toContain('ELECTRON_MIRROR');
  expect(stderr).toContain('ELECTRON_EXEC_PATH');
  expect(stderr).not.toMatch(/\n\s+at |Error\b|ECONNREFUSED|ENOTFOUND|getaddrinfo|node:internal|undefined/);
}

describe('npm start without the Electron binary', () => {
  it('downloads it with progress, unpacks it and launches it', async () => {
    makeCheckout(sha256(electronZip));
    const { code, stderr } = await start({ ELECTRON_MIRROR: await serveMirror() }, ['--board', 'sim-versal']);
    expect(stderr).toContain(`Electron ${version} is not installed yet: downloading it`);
    const steps = [...stderr.matchAll(new RegExp(`downloading Electron ${version.replace(/\./g, '\\.')}: (\\d+)% of 2\\.0 MB`, 'g'))].map((m) => Number(m[1]));
    expect(steps.length).toBeGreaterThanOrEqual(4);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(steps.at(-1)).toBe(100);
    expect(stderr).toContain('unpacking');
    expect(code).toBe(0);
    expect(readFileSync(join(checkout, 'node_modules/electron/path.txt'), 'utf8')).toBe('electron');
    expect(ranWith()).toBe('--board sim-versal');
  });

  it('says what it tried, why it failed and what to do when the mirror is unreachable', async () => {
    makeCheckout(sha256(electronZip));
    const port = await closedPort();
    const { code, stderr } = await start({ ELECTRON_MIRROR: `http://127.0.0.1:${port}/` });
    expect(code).toBe(1);
    expect(stderr).toContain(`Tried: downloading http://127.0.0.1:${port}/v${version}/${zipName}`);
    expect(stderr).toContain(`Failed: 127.0.0.1:${port} refused the connection.`);
    expectAdvice(stderr);
    expect(existsSync(join(checkout, 'node_modules/electron/path.txt'))).toBe(false);
  });

  it('refuses a download that does not match the checksum Electron publishes', async () => {
    makeCheckout(sha256(Buffer.from('another zip')));
    const { code, stderr } = await start({ ELECTRON_MIRROR: await serveMirror() });
    expect(code).toBe(1);
    expect(stderr).toContain("Failed: the downloaded file does not match Electron's published checksum.");
    expectAdvice(stderr);
    expect(existsSync(join(checkout, 'node_modules/electron/path.txt'))).toBe(false);
  });

  it('says so when the mirror has no such file', async () => {
    makeCheckout(sha256(electronZip));
    const base = await serveMirror();
    const { code, stderr } = await start({ ELECTRON_MIRROR: `${base}elsewhere/` });
    expect(code).toBe(1);
    expect(stderr).toMatch(/Failed: 127\.0\.0\.1:\d+ has no such file \(HTTP 404\)\./);
    expectAdvice(stderr);
  });
});

describe('npm start with the Electron binary', () => {
  it('launches the installed binary through electron-vite preview, without downloading, on the default board', async () => {
    makeCheckout(sha256(electronZip));
    const electron = join(checkout, 'node_modules/electron');
    mkdirSync(join(electron, 'dist'));
    writeFileSync(join(electron, 'dist/electron'), STUB_ELECTRON);
    chmodSync(join(electron, 'dist/electron'), 0o755);
    writeFileSync(join(electron, 'path.txt'), 'electron');
    const { code, stderr } = await start({ ELECTRON_MIRROR: `http://127.0.0.1:${await closedPort()}/` });
    expect(code).toBe(0);
    expect(stderr).not.toContain('download');
    expect(readFileSync(join(checkout, 'node_modules/electron-vite/bin/preview-args'), 'utf8')).toMatch(/^preview -c main\/app\/electron\.vite\.config\.ts/);
    expect(ranWith()).toBe('--board');
  });

  it('runs the executable ELECTRON_EXEC_PATH names, and says so when it names none', async () => {
    makeCheckout(sha256(electronZip));
    const exe = join(checkout, 'elsewhere/electron');
    mkdirSync(join(checkout, 'elsewhere'));
    writeFileSync(exe, STUB_ELECTRON);
    chmodSync(exe, 0o755);
    expect((await start({ ELECTRON_EXEC_PATH: exe }, ['--board', 'sim-stm32mp157'])).code).toBe(0);
    expect(readFileSync(join(checkout, 'elsewhere/ran-with'), 'utf8').trim()).toBe('--board sim-stm32mp157');
    const missing = await start({ ELECTRON_EXEC_PATH: join(checkout, 'nowhere') });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`Failed: ELECTRON_EXEC_PATH names ${join(checkout, 'nowhere')}, which does not exist.`);
    expectAdvice(missing.stderr);
  });
});
