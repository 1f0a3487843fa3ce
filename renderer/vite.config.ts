/**
 * The renderer build: renderer/ → out/renderer, relative asset paths (base './') so the same build
 * loads from the web server and from the Electron window's file URL. No inline scripts or styles
 * and no data: URL assets: the CSP of main/host/web/csp.ts forbids them.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: './',
  plugins: [react()],
  build: {
    outDir: resolve(here, '../out/renderer'),
    emptyOutDir: true,
    assetsInlineLimit: 0,
    // One chunk is right here: it loads from the same machine (web mode) or the app package.
    chunkSizeWarningLimit: 2048,
    target: 'es2023',
  },
});
