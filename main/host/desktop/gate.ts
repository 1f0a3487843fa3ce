/**
 * The main process's gate for every request from a renderer (stack.md §4 "Validate on the main
 * side, twice"): first the sender — the frame must be the app's own page, the packaged
 * out/renderer/index.html or the dev server in development (Electron advisory GHSA-mq8j-3h7h-p8g7:
 * an unchecked senderFrame turns any frame's bug into the app's privileges) — then the payload,
 * with the Workbench API's own runtime schemas (parseRequest). The engine validates again.
 */
import { pathToFileURL } from 'node:url';

import { describeValue } from '../../../src/api/issues';
import { parseRequest, type WorkbenchError } from '../../../src/api/workbench';

/** Where the app's page comes from. */
export type AppOrigin = { kind: 'file'; indexHtml: string } | { kind: 'dev'; url: string };

export function fileOrigin(indexHtml: string): AppOrigin {
  return { kind: 'file', indexHtml };
}

/** The URL the window loads. */
export function appUrl(origin: AppOrigin): string {
  return origin.kind === 'file' ? pathToFileURL(origin.indexHtml).href : origin.url;
}

/**
 * Whether a frame URL is the app's own page: for file:// exactly the renderer's index.html (any
 * other local file is not the app, whatever it contains); for the dev server its origin.
 * Query and fragment are ignored (the renderer may route with them).
 */
export function isAppSender(frameUrl: string | null | undefined, origin: AppOrigin): boolean {
  if (!frameUrl) return false;
  let u: URL;
  try {
    u = new URL(frameUrl);
  } catch {
    return false;
  }
  if (origin.kind === 'file') {
    const own = new URL(appUrl(origin));
    return u.protocol === 'file:' && u.host === own.host && u.pathname === own.pathname;
  }
  const own = new URL(origin.url);
  return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === own.origin;
}

/** Why a sender was refused, for the log and the refused frame. */
export function refusedSender(frameUrl: string | null | undefined, origin: AppOrigin): WorkbenchError {
  return {
    code: 'bad-request',
    field: 'sender',
    message: `request refused: it came from ${frameUrl ? describeValue(frameUrl) : 'a frame that is gone'}, not from the workbench page ${appUrl(origin)}`,
  };
}

export type Gated = { ok: true; method: string; params: unknown } | { ok: false; error: WorkbenchError };

/**
 * A renderer request as ipcMain received it. On success the request goes on unchanged (the
 * engine parses the raw params itself: parsing turns hex strings into bytes).
 */
export function gateRequest(frameUrl: string | null | undefined, origin: AppOrigin, method: unknown, params: unknown): Gated {
  if (!isAppSender(frameUrl, origin)) return { ok: false, error: refusedSender(frameUrl, origin) };
  const parsed = parseRequest(method, params);
  if (!parsed.ok) return parsed;
  return { ok: true, method: parsed.request.method, params: params ?? {} };
}
