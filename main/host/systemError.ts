/**
 * A failure of the operating system (a file, a socket, a device) in words: Node's own text
 * names the syscall and the errno ("EACCES: permission denied, open '/x'"), and the native
 * addon's reads "open /x: Permission denied (errno 13)"; a user should not have to decode
 * either. The errno code stays in parentheses for a search or a bug report.
 */
import { constants } from 'node:os';
import { errorText } from '../../src/util/errorText';

const ERRNO_WORDS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'the disk is full',
  EFBIG: 'the file-size limit (ulimit -f) is smaller',
  EDQUOT: 'the disk quota is used up',
  EROFS: 'the file system is read-only',
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'it is a folder, not a file',
  EEXIST: 'a file of that name exists already',
  EMFILE: 'too many open files',
  ECONNREFUSED: 'nothing is listening there',
  ECONNRESET: 'the other end reset the connection',
  EPIPE: 'the other end closed the connection',
  ENOTSOCK: 'it is not a socket',
  ENODEV: 'no such device (removed, or its driver unbound)',
  ENXIO: 'no such device (removed, or its driver unbound)',
  EIO: 'the device reported an input/output error',
  EBUSY: 'the device is busy (another program has it)',
  ENOMEM: 'not enough memory (or address space) for it',
  EBADF: 'the file or descriptor was already closed',
  ENOTTY: 'it is not a serial port or terminal',
};

const ERRNO_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** The native addon's failure text: "CALL SUBJECT: strerror (errno N)" (main/native's ErrnoError). */
const NATIVE_ERRNO = /^\S+(?: (.+?))?: [^:]+ \(errno (\d+)\)$/;

/** The errno code of a failure and the path it concerns, if it is the operating system's. */
function systemFailure(e: unknown): { code: string; path: string | undefined } | null {
  const err = e as NodeJS.ErrnoException | null;
  const code = err?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return { code, path: err?.path };
  const m = NATIVE_ERRNO.exec(typeof e === 'string' ? e : e instanceof Error ? e.message : '');
  const name = m ? ERRNO_NAMES.get(Number(m[2])) : undefined;
  if (!m || !name) return null;
  // The subject is a path ("/dev/uio0") or a descriptor ("eventfd 5", "fd 7 at offset 0"); only a path helps the user.
  return { code: name, path: m[1]?.startsWith('/') ? m[1] : undefined };
}

/** The errno code of an operating-system failure (Node's or the native addon's), else null. */
export function errnoCode(e: unknown): string | null {
  return systemFailure(e)?.code ?? null;
}

/** `e` in words; a failure that is not the operating system's keeps its own message. */
export function systemErrorText(e: unknown): string {
  const f = systemFailure(e);
  if (f) return `${ERRNO_WORDS[f.code] ?? 'the operating system refused'}${f.path ? ` (${f.path})` : ''} (${f.code})`;
  return errorText(e);
}
