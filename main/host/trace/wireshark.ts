/**
 * Installs the generated virtio_msg Lua dissector (src/trace/dissector.ts) into the user's
 * personal Wireshark Lua plugins folder (docs/formats.md §1 "Shipping the Lua dissector"; Wireshark
 * User's Guide "Plugin folders"): `%APPDATA%\Wireshark\plugins` on Windows,
 * `~/.local/lib/wireshark/plugins` elsewhere (Linux and macOS; `tshark -G folders` shows it as
 * "Personal Lua Plugins" — it does not follow XDG_CONFIG_HOME, which is only a legacy fallback).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { generateDissector } from '../../../src/trace/dissector';

export const DISSECTOR_FILE = 'virtio_msg.lua';

/** Wireshark's personal Lua plugins folder for this platform and environment. */
export function personalPluginsDir(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  if (platform === 'win32') {
    const appData = env['APPDATA'];
    if (!appData) throw new Error('cannot find the Wireshark plugins folder: %APPDATA% is not set; pass a folder with --dir');
    return join(appData, 'Wireshark', 'plugins');
  }
  return join(home, '.local', 'lib', 'wireshark', 'plugins');
}

export type InstallResult = { printed: true; lua: string } | { printed: false; path: string; message: string };

/**
 * `print`: return the Lua source (for stdout). Otherwise write `virtio_msg.lua` into `dir`
 * (default: the personal plugins folder, created if missing) and say how to load it.
 */
export function installDissector(opts: { print?: boolean; dir?: string } = {}): InstallResult {
  const lua = generateDissector();
  if (opts.print) return { printed: true, lua };
  const dir = opts.dir ?? personalPluginsDir();
  mkdirSync(dir, { recursive: true });
  const path = join(dir, DISSECTOR_FILE);
  writeFileSync(path, lua);
  return {
    printed: false,
    path,
    message:
      `Installed the virtio_msg dissector at ${path}.\n` +
      'Restart Wireshark, or use Analyze → Reload Lua Plugins (Ctrl+Shift+L), then open a pcapng exported with ' +
      '`amp-workbench export CAPTURE --format pcapng`. Check Help → About Wireshark → Plugins for virtio_msg.lua.',
  };
}
