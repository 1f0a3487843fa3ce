/**
 * How a running workbench (`serve`, or the desktop app's engine, which serves its session
 * read-only for this) tells the Wireshark extcap that it owns a board: one file per server, `<pid>.json` holding its loopback port and its per-run token, readable by the
 * user alone (folder 0700, file 0600, the same trust as the URL `serve` prints), removed when the
 * server closes. The extcap (entry.cjs) lists a live-session interface per file whose process
 * still runs and streams that session's records over the server's WebSocket (capture.ts) instead
 * of opening the board a second time.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** What a server announces; entry.cjs reads exactly these fields. */
export interface LiveSessionRecord {
  pid: number;
  port: number;
  token: string;
}

/**
 * The announcements folder: in the user's state folder ($XDG_STATE_HOME, default ~/.local/state),
 * not $XDG_RUNTIME_DIR, so the path the install step writes into the extcap entry is the one a
 * server started from any shell uses.
 */
export function sessionsDir(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  if (platform === 'win32' && env['LOCALAPPDATA']) return join(env['LOCALAPPDATA'], 'amp-workbench', 'sessions');
  const state = env['XDG_STATE_HOME'] || join(home, '.local', 'state');
  return join(state, 'amp-workbench', 'sessions');
}

/** Writes this process's announcement into `dir`; returns the function that removes it. */
export function announceSession(dir: string, record: Omit<LiveSessionRecord, 'pid'>): () => void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${process.pid}.json`);
  writeFileSync(path, JSON.stringify({ pid: process.pid, ...record } satisfies LiveSessionRecord), { mode: 0o600 });
  return () => rmSync(path, { force: true });
}
