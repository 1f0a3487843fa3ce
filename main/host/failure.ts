/**
 * A thrown failure in the user's words. What reaches a catch-all is one of three things:
 * - our own error (`new Error(sentence)`, SessionError…): already a sentence, kept;
 * - the operating system's (an errno code such as ENOENT): words from systemErrorText, or, for a
 *   file being opened or written, what is wrong with that file or its folder (fileErrorText);
 * - JavaScript's or Node's own (TypeError, RangeError "Invalid atomic access index", ERR_* codes
 *   such as "Cannot call write after a stream was destroyed"): a bug or a limit of ours that the
 *   user cannot act on, so one plain sentence, with the original text kept apart for a bug report.
 */
import { dirname } from 'node:path';

import { errnoCode, systemErrorText } from './systemError';

/** The error classes the runtime throws; our own sentences are plain Errors and their subclasses. */
const RUNTIME_ERRORS: readonly ErrorConstructor[] = [TypeError, RangeError, ReferenceError, SyntaxError, EvalError, URIError];

/** What the user reads for a runtime error; the transports log its own text (error.detail). */
export const INTERNAL_FAILURE = "the workbench hit an internal error (a bug: please report it with the lines about it in the workbench's log)";

export interface FailureText {
  /** What the user reads. */
  text: string;
  /** For a runtime error: its class and text, for the log or a bug report, never the message. */
  internal: string | null;
}

export function describeFailure(e: unknown): FailureText {
  if (errnoCode(e) !== null) return { text: systemErrorText(e), internal: null };
  if (!(e instanceof Error)) return { text: String(e), internal: null };
  const code = (e as { code?: unknown }).code;
  if (RUNTIME_ERRORS.some((c) => e instanceof c) || (typeof code === 'string' && code.startsWith('ERR_'))) {
    return { text: INTERNAL_FAILURE, internal: `${e.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${e.message}` };
  }
  return { text: e.message, internal: null };
}

/** The part of a WorkbenchError that carries a runtime error's own text, for the log. */
export function failureDetail(f: FailureText): { detail?: string } {
  return f.internal === null ? {} : { detail: f.internal };
}

/**
 * Why `path` could not be read or written, to follow "cannot read PATH: " or "cannot write PATH: ":
 * what to fix about the path the user chose (not about a temporary name next to it), such as its
 * folder missing or not writable, or the disk full.
 */
export function fileErrorText(e: unknown, path: string, op: 'read' | 'write'): string {
  const folder = dirname(path);
  switch (errnoCode(e)) {
    case 'ENOENT':
      return op === 'write' ? `the folder ${folder} does not exist; choose an existing folder` : 'it does not exist';
    case 'EACCES':
    case 'EPERM':
      return op === 'write' ? `the folder ${folder} is not writable by this user (or the file is read-only); choose another folder` : 'this user may not read it';
    case 'ENOTDIR':
      return `a part of ${folder} is a file, not a folder`;
    case 'EISDIR':
      return 'it is a folder; give a file name';
    case 'ENOSPC':
    case 'EDQUOT':
      return `the disk holding ${folder} is full`;
    case 'EROFS':
      return `${folder} is on a read-only file system; choose another folder`;
    default:
      return describeFailure(e).text;
  }
}
