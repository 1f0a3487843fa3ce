/**
 * The renderer build's files, as web mode's HTTP server (server.ts) and the desktop app's
 * amp-workbench:// scheme (desktop/appProtocol.ts) serve them: one folder, nothing outside it,
 * a Content-Type by extension (the page is served with nosniff, so the type must be right).
 */
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { ok, type Fail, type Ok } from '../../../src/util/result';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
};

/** A refusal and the HTTP status that says it. */
export type StaticRefusal = Fail & { status: number };
export type StaticFile = Ok<{ file: string; contentType: string }> | StaticRefusal;
export type StaticBody = Ok<{ body: Buffer; contentType: string }> | StaticRefusal;

/**
 * Where a URL path (already percent-decoded) lies under root; `/` means index.html. A path that
 * would leave root is "not found", like a missing file, so a probe learns nothing about the disk.
 */
export function resolveStaticFile(root: string, pathname: string): StaticFile {
  const base = resolve(root);
  // normalize() of an absolute path cannot climb above its "/", so the join stays under base;
  // the prefix check is the second line of defence (drive letters, UNC paths on Windows).
  const file = join(base, normalize(pathname === '/' || pathname === '' ? '/index.html' : pathname));
  if (!file.startsWith(base + sep)) return { ok: false, status: 404, error: `not found: ${pathname}` };
  return ok({ file, contentType: CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream' });
}

/** resolveStaticFile and the read; an unreadable file (missing, a folder) is "not found". */
export async function readStaticFile(root: string, pathname: string): Promise<StaticBody> {
  const r = resolveStaticFile(root, pathname);
  if (!r.ok) return r;
  try {
    return ok({ body: await readFile(r.value.file), contentType: r.value.contentType });
  } catch {
    return { ok: false, status: 404, error: `not found: ${pathname}` };
  }
}
