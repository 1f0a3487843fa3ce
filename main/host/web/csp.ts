/**
 * The renderer's Content-Security-Policy, generated per mode (docs/stack.md §4 "CSP", §11 pitfall 19):
 * only web mode may open a WebSocket or fetch, and only from the one server that served the page.
 * No inline scripts, no eval (the filter language compiles to closures for this reason).
 */
export type CspMode = { kind: 'web'; port: number } | { kind: 'electron' };

export function contentSecurityPolicy(mode: CspMode): string {
  // Web mode: the socket, and the page's own server for capture upload and export download.
  const connect = mode.kind === 'web' ? `'self' ws://127.0.0.1:${mode.port}` : `'none'`;
  return [
    `default-src 'self'`,
    `script-src 'self'`,
    `style-src 'self'`,
    `img-src 'self' data:`,
    `font-src 'self'`,
    `connect-src ${connect}`,
    `worker-src 'self'`,
    `object-src 'none'`,
    `base-uri 'none'`,
    `form-action 'none'`,
    `frame-ancestors 'none'`,
  ].join('; ');
}
