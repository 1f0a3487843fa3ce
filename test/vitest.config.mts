import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: resolve(dirname(fileURLToPath(import.meta.url)), '..'),
  test: {
    reporters: ['default', './test/summaryReporter.ts'],
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' } },
      { extends: true, test: { name: 'host', include: ['test/host/**/*.test.ts'], environment: 'node', testTimeout: 30_000 } },
      { extends: true, plugins: [react()], test: { name: 'component', include: ['test/component/**/*.test.tsx'], environment: 'jsdom' } },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          // The renderer is built once per run, before the first e2e file (out/renderer).
          globalSetup: ['test/e2e/buildRenderer.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Each file starts its own serve + Chromium; two at once is all 2 cores take.
          maxWorkers: 1,
        },
      },
    ],
  },
});
