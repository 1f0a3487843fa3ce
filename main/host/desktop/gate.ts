/**
 * The main process's gate for the page (docs/stack.md §4 "Validate on the main side, twice"): first the
 * sender — only the app's own page, served from amp-workbench://app (appProtocol.ts), or the dev
 * server in development, is given the port its requests travel on (Electron advisory
 * GHSA-mq8j-3h7h-p8g7: an unchecked senderFrame turns any frame's bug into the app's privileges);
 * the port is the page's alone, so what arrives on it comes from that page — then each request's
 * payload, with the Workbench API's own runtime schemas (parseRequest). The engine validates again.
 */
import { parseRequest, type WorkbenchError } from '../../../src/api/workbench';
import { ok, type Result } from '../../../src/util/result';
import { APP_HOST, APP_INDEX_URL, APP_SCHEME } from './appProtocol';

/** Where the app's page comes from: the renderer build over amp-workbench://, or Vite's dev server. */
export type AppOrigin = { kind: 'app'; rendererDir: string } | { kind: 'dev'; url: string };

export function appOrigin(rendererDir: string): AppOrigin {
  return { kind: 'app', rendererDir };
}

/** The URL the window loads. */
export function appUrl(origin: AppOrigin): string {
  return origin.kind === 'app' ? APP_INDEX_URL : origin.url;
}

/**
 * Whether a frame URL is the app's own page: a frame of the origin amp-workbench://app (every
 * file there is the renderer build; file:// and any other scheme are refused), or in development
 * one of the dev server's origin. Path, query and fragment are not the check's business.
 */
export function isAppSender(frameUrl: string | null | undefined, origin: AppOrigin): boolean {
  if (!frameUrl) return false;
  let u: URL;
  try {
    u = new URL(frameUrl);
  } catch {
    return false;
  }
  if (origin.kind === 'app') return u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST;
  const own = new URL(origin.url);
  return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === own.origin;
}

export type Gated = Result<{ method: string; params: unknown }, WorkbenchError>;

/**
 * A page request as main received it on the page's port. On success the request goes on
 * unchanged (the engine parses the raw params itself: parsing turns hex strings into bytes).
 */
export function gateRequest(method: unknown, params: unknown): Gated {
  const parsed = parseRequest(method, params);
  if (!parsed.ok) return parsed;
  return ok({ method: parsed.value.method, params: params ?? {} });
}
