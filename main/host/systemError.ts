/**
 * A failure of the operating system (a file, a socket) in words: Node's own text names the
 * syscall and the errno ("EACCES: permission denied, open '/x'"), which a user should not have
 * to decode. The errno code stays in parentheses for a search or a bug report.
 */
const ERRNO_WORDS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'the disk is full',
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
};

export function systemErrorText(e: unknown): string {
  const err = e as NodeJS.ErrnoException | null;
  const code = err?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
    return `${ERRNO_WORDS[code] ?? 'the operating system refused'}${err?.path ? ` (${err.path})` : ''} (${code})`;
  }
  return e instanceof Error ? e.message : String(e);
}
