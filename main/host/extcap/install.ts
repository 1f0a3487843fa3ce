/**
 * Installs the extcap entry (entry.cjs) into Wireshark's personal extcap folder, and the
 * virtio_msg dissector (../trace/wireshark.ts) into its personal plugins folder, so a live
 * capture decodes as an exported one does.
 *
 * The entry is one generated file: the Node that runs it (absolute, so Wireshark's environment
 * does not matter), the table of boards it offers — written here from src/boards/builtin.ts, the
 * one source, so the entry answers Wireshark's questions without loading TypeScript — and a call
 * into entry.cjs in this checkout. Installing again after an upgrade refreshes the table.
 *
 * Folders (Wireshark User's Guide "Plugin folders"; Wireshark 4.2 moved the personal extcap
 * folder): up to 4.0, `~/.config/wireshark/extcap` (the personal configuration folder); from
 * 4.2 on, `~/.local/lib/wireshark/extcap` (4.4 keeps it); on Windows `%APPDATA%\Wireshark\extcap`,
 * where Wireshark runs only programs (.exe, .bat), so a `.bat` shim starts Node on the entry,
 * which sits in a subfolder Wireshark does not scan.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { BUILTIN_PROFILES, DEFAULT_BOARD, HARDWARE_PROFILES } from '../../../src/boards/builtin';
import { LINKTYPE_WIRESHARK_UPPER_PDU } from '../../../src/trace/pcapng';
import { LINK_SPEC_HELP } from '../links/spec';
import { installDissector } from '../trace/wireshark';
import { sessionsDir } from './discovery';
import { appName } from '../version';

export const EXTCAP_NAME = 'amp-workbench-extcap';
/** The Windows entry's subfolder of the extcap folder (Wireshark runs only .exe and .bat files there). */
const WINDOWS_ENTRY_DIR = 'amp-workbench';
const ENTRY = resolve(__dirname, 'entry.cjs');
/** Wireshark's help button opens the README that comes with this checkout. */
const HELP_URL = pathToFileURL(resolve(__dirname, '..', '..', '..', 'README.md')).href;

/** What entry.cjs answers from: written into the installed entry. */
export interface ExtcapTable {
  version: string;
  help: string;
  defaultBoard: string;
  boards: { id: string; description: string; simulated: boolean }[];
  linkHelp: string;
  /** Where running workbenches announce themselves (discovery.ts). */
  sessionsDir: string;
  /** The pcapng link type of the packets (LINKTYPE_WIRESHARK_UPPER_PDU). */
  linkType: number;
}

export function extcapTable(announcements: string = sessionsDir()): ExtcapTable {
  return {
    version: appName(),
    help: HELP_URL,
    defaultBoard: DEFAULT_BOARD,
    boards: [...BUILTIN_PROFILES, ...HARDWARE_PROFILES].map((p) => ({ id: p.id, description: p.description ?? '', simulated: p.access.kind === 'sim' })),
    linkHelp: LINK_SPEC_HELP,
    sessionsDir: announcements,
    linkType: LINKTYPE_WIRESHARK_UPPER_PDU,
  };
}

/** How the entry is started: this Node, or Electron's binary run as Node in the desktop app. */
export interface NodeRunner {
  path: string;
  electron: boolean;
}

export function currentRunner(): NodeRunner {
  return { path: process.execPath, electron: process.versions['electron'] !== undefined };
}

/** Wireshark's version from `tshark --version` (or wireshark's), e.g. [4, 0]; null when neither runs. */
export function wiresharkVersion(): [number, number] | null {
  for (const tool of ['tshark', 'wireshark']) {
    const r = spawnSync(tool, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    const m = /\b(\d+)\.(\d+)\.\d+/.exec(r.stdout ?? '');
    if (r.status === 0 && m) return [Number(m[1]), Number(m[2])];
  }
  return null;
}

/**
 * The personal extcap folders to install into: the one the installed Wireshark reads, or both
 * Unix locations when its version is unknown (an entry in the folder a version does not read
 * is never run by it).
 */
export function personalExtcapDirs(version: [number, number] | null, platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string[] {
  if (platform === 'win32') {
    const appData = env['APPDATA'];
    if (!appData) throw new Error('cannot find the Wireshark extcap folder: %APPDATA% is not set; pass a folder with --dir');
    return [join(appData, 'Wireshark', 'extcap')];
  }
  const before42 = join(home, '.config', 'wireshark', 'extcap');
  const since42 = join(home, '.local', 'lib', 'wireshark', 'extcap');
  if (version === null) return [since42, before42];
  return [version[0] > 4 || (version[0] === 4 && version[1] >= 2) ? since42 : before42];
}

/** The installed entry's text: a CommonJS program that runs entry.cjs with the table. */
export function entryText(table: ExtcapTable, runner: NodeRunner, platform: NodeJS.Platform, entry = ENTRY): string {
  const shebang = platform === 'win32' ? '' : runner.electron ? `#!/usr/bin/env -S ELECTRON_RUN_AS_NODE=1 ${runner.path}\n` : `#!${runner.path}\n`;
  const gone = `amp-workbench extcap: the workbench this was installed from is no longer at ${entry}; run \`amp-workbench wireshark-extcap --install\` from where it is now\n`;
  return (
    shebang +
    "'use strict';\n" +
    '// Written by `amp-workbench wireshark-extcap --install`; install again after upgrading the workbench.\n' +
    'let entry;\n' +
    `try { entry = require(${JSON.stringify(entry)}); } catch { process.stderr.write(${JSON.stringify(gone)}); process.exit(1); }\n` +
    `entry.run(${JSON.stringify(table)});\n`
  );
}

/** The Windows shim Wireshark runs: Node on the entry in the subfolder, with Wireshark's arguments. */
export function batchShim(runner: NodeRunner): string {
  return ['@echo off', ...(runner.electron ? ['set ELECTRON_RUN_AS_NODE=1'] : []), `"${runner.path}" "%~dp0${WINDOWS_ENTRY_DIR}\\${EXTCAP_NAME}.cjs" %*`, ''].join('\r\n');
}

export interface ExtcapInstall {
  /** The files written, the entry first. */
  files: string[];
  dissector: string;
  message: string;
}

/**
 * Writes the entry into `dir` (default: the personal extcap folders of the installed Wireshark)
 * and the dissector into `pluginsDir` (default: the personal Lua plugins folder); the entry looks
 * for running workbenches in `sessionsDir` (default: discovery.ts sessionsDir()).
 */
export function installExtcap(opts: { dir?: string | undefined; pluginsDir?: string | undefined; sessionsDir?: string; platform?: NodeJS.Platform; runner?: NodeRunner } = {}): ExtcapInstall {
  const platform = opts.platform ?? process.platform;
  const runner = opts.runner ?? currentRunner();
  const table = extcapTable(opts.sessionsDir);
  const dirs = opts.dir !== undefined ? [opts.dir] : personalExtcapDirs(wiresharkVersion(), platform);
  const files: string[] = [];
  for (const dir of dirs) {
    if (platform === 'win32') {
      mkdirSync(join(dir, WINDOWS_ENTRY_DIR), { recursive: true });
      const entry = join(dir, WINDOWS_ENTRY_DIR, `${EXTCAP_NAME}.cjs`);
      writeFileSync(entry, entryText(table, runner, platform));
      const bat = join(dir, `${EXTCAP_NAME}.bat`);
      writeFileSync(bat, batchShim(runner));
      files.push(entry, bat);
    } else {
      mkdirSync(dir, { recursive: true });
      const entry = join(dir, `${EXTCAP_NAME}.cjs`);
      writeFileSync(entry, entryText(table, runner, platform));
      chmodSync(entry, 0o755);
      files.push(entry);
    }
  }
  const dissector = installDissector(opts.pluginsDir !== undefined ? { dir: opts.pluginsDir } : {});
  const dissectorPath = dissector.printed ? '' : dissector.path;
  return {
    files,
    dissector: dissectorPath,
    message:
      `Installed the Wireshark extcap at ${files.join(' and ')} and the virtio_msg dissector at ${dissectorPath}.\n` +
      'Restart Wireshark: "AMP Workbench: virtio-msg board" is in its interface list (the gear icon picks the board, link and workloads); ' +
      '`tshark -D` lists it too. Install again after upgrading the workbench.',
  };
}
