/**
 * Runs the real Wireshark command-line tools (tshark, capinfos) the way a user would, with a
 * fresh, empty profile so nothing installed on the machine changes the result. As root they
 * run as `nobody` through setpriv: Wireshark prints "Running as user root … could be dangerous"
 * on every root run, and a test that expects an empty stderr must not have to ignore anything.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function onPath(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).status === 0;
}

export const HAVE_TSHARK = onPath('tshark');
export const HAVE_CAPINFOS = onPath('capinfos');
export const AS_NOBODY = process.getuid?.() === 0 && onPath('setpriv');
const NOBODY_ARGS = ['--reuid=65534', '--regid=65534', '--clear-groups'];

/**
 * Whether the tools, run as `nobody`, can read every one of `paths`: an extcap runs this checkout's
 * code with this Node, which `nobody` cannot reach when either lies under root's home.
 */
export function nobodyCanRead(paths: readonly string[]): boolean {
  if (!AS_NOBODY) return true;
  return spawnSync('setpriv', [...NOBODY_ARGS, 'sh', '-c', 'for p; do [ -r "$p" ] || exit 1; done', 'sh', ...paths]).status === 0;
}

export interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A scratch folder the tools can read (and a HOME for their profile); `dispose` deletes it. */
export function toolDir(): { dir: string; home: string; dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'amp-ws-'));
  chmodSync(dir, 0o755);
  const home = join(dir, 'home');
  mkdirSync(home, { mode: 0o755 });
  chmodSync(home, 0o755);
  return { dir, home, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Runs `tool args` with HOME = `home` (its personal plugins folder is home/.local/lib/wireshark/plugins).
 * `discardStdout` sends the output to /dev/null (benchmarks of a million-line listing); `env` adds
 * variables (the programs tshark starts, such as an extcap, inherit them).
 */
export function runTool(tool: 'tshark' | 'capinfos', args: string[], home: string, opts: { timeoutMs?: number; discardStdout?: boolean; env?: Record<string, string>; asRoot?: boolean } = {}): ToolRun {
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', ...opts.env };
  const [cmd, argv] = AS_NOBODY && !opts.asRoot ? ['setpriv', [...NOBODY_ARGS, tool, ...args]] : [tool, args];
  const stdout = opts.discardStdout ? 'ignore' : 'pipe';
  const r = spawnSync(cmd, argv, { encoding: 'utf8', env, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 1 << 30, stdio: ['ignore', stdout, 'pipe'] });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr };
}
