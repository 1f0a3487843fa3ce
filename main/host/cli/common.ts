/** What every CLI command shares: usage errors, output, board profile selection, tables, durations. */
import { readFileSync } from 'node:fs';

import { formatProfileErrors, parseBoardProfileText, type BoardProfile } from '../../../src/api/boardProfile';
import { BUILTIN_PROFILES, DEFAULT_BOARD, findBuiltinProfile, HARDWARE_PROFILES } from '../../../src/boards/builtin';
import { parseDurationNs } from '../../../src/trace/filter';
import { parseLinkSpec, type LinkSpec } from '../links/spec';
import { systemErrorText } from '../systemError';

/** The options that pick a board and how to reach it, shared by every command that attaches. */
export const BOARD_OPTIONS = {
  board: { type: 'string' },
  profile: { type: 'string' },
  link: { type: 'string' },
} as const;

/** Bad usage: exit status 2. */
export class UsageError extends Error {}

export function out(text: string): void {
  if (!stdoutClosed) process.stdout.write(text + '\n');
}

/** The reader of standard output went away (`decode … | head`): nothing more is written there. */
let stdoutClosed = false;
/** What a closed standard output stops: the running session commands (onInterrupt). */
const onStdoutClosed = new Set<() => void>();

/**
 * A reader that stops reading (`| head`, a closed pager) closes the pipe: the command ends
 * quietly with status 0, as other command-line tools do, instead of failing on EPIPE. A command
 * with a session stops it as on Ctrl-C, so the capture is closed; any other command exits.
 * Other write errors (a full disk behind `> FILE`) are failures, said in words.
 */
export function watchStdout(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') {
      process.stderr.write(`amp-workbench: cannot write to standard output: ${systemErrorText(e)}\n`);
      process.exit(1);
    }
    if (stdoutClosed) return;
    stdoutClosed = true;
    if (onStdoutClosed.size === 0) process.exit(0);
    for (const stop of onStdoutClosed) stop();
  });
}

export function loadProfile(values: { board?: string | undefined; profile?: string | undefined }): BoardProfile {
  if (values.profile !== undefined) {
    let text: string;
    try {
      text = readFileSync(values.profile, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read profile ${values.profile}: ${systemErrorText(e)}`);
    }
    const r = parseBoardProfileText(text, values.profile);
    if (!r.ok) throw new UsageError(`profile ${values.profile} is invalid:\n${formatProfileErrors(r.error)}`);
    return r.value;
  }
  const id = values.board ?? DEFAULT_BOARD;
  const p = findBuiltinProfile(id) ?? HARDWARE_PROFILES.find((h) => h.id === id);
  if (!p) throw new UsageError(`unknown board "${id}"; expected one of: ${[...BUILTIN_PROFILES, ...HARDWARE_PROFILES].map((b) => b.id).join(', ')}`);
  return p;
}

/** A duration option (5s, 500ms, 250us) in nanoseconds; `fallbackNs` when not given. */
export function durationOption(flag: string, text: string | undefined, fallbackNs: number): number {
  if (text === undefined) return fallbackNs;
  const ns = parseDurationNs(text);
  if (ns === null) throw new UsageError(`${flag} expects a duration such as 5s, 500ms or 250us, saw "${text}"`);
  return ns;
}

/** The --link option, when given. */
export function linkOption(text: string | undefined): { link?: LinkSpec } {
  if (text === undefined) return {};
  const r = parseLinkSpec(text);
  if (!r.ok) throw new UsageError(r.error);
  return { link: r.value };
}

/**
 * The user's stop: Ctrl-C (SIGINT) or SIGTERM aborts `signal` with the reason the session and
 * its capture record ("interrupted (Ctrl-C)"); the command then closes the session and the
 * capture and returns `exitCode()`: 130 for SIGINT, 143 for SIGTERM (128 + the signal's number,
 * as shells report it). A second one while it closes exits at once.
 */
export const INTERRUPTED = { SIGINT: 130, SIGTERM: 143 } as const;

export function onInterrupt(): { signal: AbortSignal; exitCode(): number | null; dispose(): void } {
  const controller = new AbortController();
  let code: number | null = null;
  const handler = (sig: NodeJS.Signals): void => {
    if (code !== null) process.exit(code);
    code = sig === 'SIGINT' ? INTERRUPTED.SIGINT : INTERRUPTED.SIGTERM;
    controller.abort(sig === 'SIGINT' ? 'interrupted (Ctrl-C)' : 'terminated (SIGTERM)');
  };
  const closed = (): void => {
    code ??= 0;
    controller.abort('standard output closed');
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  onStdoutClosed.add(closed);
  return {
    signal: controller.signal,
    exitCode: () => code,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
      onStdoutClosed.delete(closed);
    },
  };
}

/** The line every board command ends with. */
export function countLine(problems: number, findings: number): string {
  return `${problems} problem${problems === 1 ? '' : 's'}, ${findings} finding${findings === 1 ? '' : 's'}`;
}

/** A command's last line: after a text report on stdout; on stderr with --json, so stdout stays one JSON document. */
export function printCount(problems: number, findings: number, json: boolean): void {
  if (json) process.stderr.write(countLine(problems, findings) + '\n');
  else out(countLine(problems, findings));
}

/** Prints the link's notices (polling instead of interrupts…) to stderr. */
export function printNotices(notices: readonly string[]): void {
  for (const n of notices) process.stderr.write(`notice: ${n}\n`);
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
}
