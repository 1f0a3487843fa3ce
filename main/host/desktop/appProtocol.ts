/**
 * The desktop app's page is served from amp-workbench://app/, a custom privileged scheme, rather
 * than from file:// (Electron security checklist "Avoid usage of the file:// protocol"; docs/stack.md §4
 * "CSP", as VS Code does with vscode-file://). The page gets an origin of its own instead of every
 * local file's, can reach nothing but the renderer build, and gets its response headers (CSP
 * above all) from the handler itself, which webRequest.onHeadersReceived does not reliably do
 * for file://. Plain Node: main/app/main.ts passes the data and the handler to Electron unchanged.
 */
import { readStaticFile } from '../web/staticFiles';

export const APP_SCHEME = 'amp-workbench';
export const APP_HOST = 'app';

/** Electron's Privileges, restricted to what we set; the loosening ones are spelled out as off. */
export interface AppSchemePrivileges {
  /** Generic URI syntax: relative asset URLs resolve, and the page has the origin amp-workbench://app. */
  standard: true;
  /** A secure context, like https: (the page needs nothing more from it). */
  secure: true;
  /** The page's own fetch() of its assets; other origins' requests stay refused (corsEnabled off). */
  supportFetchAPI: true;
  corsEnabled: false;
  /** The page stays under the CSP the handler sends. */
  bypassCSP: false;
  allowServiceWorkers: false;
  allowExtensions: false;
}

/** What main.ts passes to protocol.registerSchemesAsPrivileged, before the app is ready. */
export const APP_SCHEME_PRIVILEGES: { scheme: typeof APP_SCHEME; privileges: AppSchemePrivileges } = {
  scheme: APP_SCHEME,
  privileges: {
    standard: true,
    secure: true,
    supportFetchAPI: true,
    corsEnabled: false,
    bypassCSP: false,
    allowServiceWorkers: false,
    allowExtensions: false,
  },
};

/** The page the window loads. */
export const APP_INDEX_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;

/** What the handler reads of Electron's Request (a WHATWG Request). */
export interface AppRequest {
  url: string;
  method: string;
}

/**
 * The protocol.handle handler: GET and HEAD of files under rendererDir at amp-workbench://app/,
 * each with the page's CSP; anything else is refused with a plain-text reason saying why.
 */
export function appProtocolHandler(rendererDir: string, csp: string): (request: AppRequest) => Promise<Response> {
  const headers = (contentType: string): Headers =>
    new Headers({ 'Content-Type': contentType, 'Content-Security-Policy': csp, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' });
  const refuse = (status: number, reason: string, extra: Record<string, string> = {}): Response => {
    const h = headers('text/plain; charset=utf-8');
    for (const [k, v] of Object.entries(extra)) h.set(k, v);
    return new Response(`${reason}\n`, { status, headers: h });
  };

  return async (request) => {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return refuse(404, `not a URL: ${request.url}`);
    }
    if (url.protocol !== `${APP_SCHEME}:` || url.host !== APP_HOST) {
      return refuse(404, `${request.url} is not the workbench page: it serves only ${APP_SCHEME}://${APP_HOST}/`);
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return refuse(405, `${request.method} is not served; the page's files are read with GET`, { Allow: 'GET, HEAD' });
    }
    let pathname: string;
    try {
      pathname = decodeURIComponent(url.pathname);
    } catch {
      return refuse(400, `malformed path ${url.pathname}`);
    }
    const r = await readStaticFile(rendererDir, pathname);
    if (!r.ok) return refuse(r.status, r.error);
    return new Response(request.method === 'HEAD' ? null : r.value.body, { status: 200, headers: headers(r.value.contentType) });
  };
}
