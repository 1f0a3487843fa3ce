/**
 * electron-vite build of the desktop app (`electron-vite build -c main/app/electron.vite.config.ts`;
 * works without the Electron binary — docs/stack.md §1):
 *   main     → out/main: main.js (main process), engine.js (utility process), and worker-entry.cjs
 *              (the simulated board's worker thread, which main/host/sim/simLink.ts starts from
 *              its own folder). Dependencies stay external (node_modules, shipped by
 *              electron-builder); the native addon is copied beside, where main/native/index.ts
 *              looks for it relative to the bundle.
 *   preload  → out/preload/preload.cjs: one CommonJS file with everything bundled
 *              (externalizeDeps false), as a sandboxed preload requires (docs/stack.md §11 pitfall 9).
 *   renderer → out/renderer, with renderer/vite.config.ts's settings.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import { defineConfig } from 'electron-vite';
import type { Plugin } from 'vite';

import renderer from '../../renderer/vite.config';

const root = resolve(__dirname, '../..');
const out = (sub: string) => resolve(root, 'out', sub);
const NATIVE_ADDON = 'build/Release/amp_native.node';

/**
 * Code that finds files next to itself through __dirname (simLink.ts: worker-entry.cjs;
 * native/index.ts: the addon) must sit in an entry file of out/main, not in a shared chunk under
 * out/main/chunks, or those paths point into chunks/. Fails the build if that ever changes.
 */
const DIRNAME_USERS = ['main/host/sim/simLink.ts', 'main/native/index.ts'].map((f) => resolve(root, f));

function mainBundleChecks(): Plugin {
  let outDir = '';
  return {
    name: 'amp-workbench:main-bundle',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir;
    },
    generateBundle(_options, bundle) {
      for (const chunk of Object.values(bundle)) {
        if (chunk.type !== 'chunk' || chunk.isEntry) continue;
        const misplaced = chunk.moduleIds.filter((id) => DIRNAME_USERS.includes(id));
        if (misplaced.length) this.error(`${misplaced.join(', ')} landed in the shared chunk ${chunk.fileName}; its __dirname paths would point into chunks/`);
      }
    },
    // The addon is optional (the links that need it say so): copied when it was built.
    writeBundle() {
      const from = resolve(root, 'main/native', NATIVE_ADDON);
      if (!existsSync(from)) {
        this.warn(`${from} is not built: the app will run without the shm-file, pci and ivshmem links (build it with \`node main/native/build.cjs\`)`);
        return;
      }
      const to = resolve(outDir, NATIVE_ADDON);
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(from, to);
    },
  };
}

export default defineConfig({
  main: {
    plugins: [mainBundleChecks()],
    build: {
      outDir: out('main'),
      rolldownOptions: {
        input: {
          main: resolve(root, 'main/app/main.ts'),
          engine: resolve(root, 'main/app/engine.ts'),
          'worker-entry': resolve(root, 'main/host/sim/worker.ts'),
        },
        output: { entryFileNames: (chunk) => (chunk.name === 'worker-entry' ? '[name].cjs' : '[name].js') },
      },
    },
  },
  preload: {
    build: {
      outDir: out('preload'),
      externalizeDeps: false,
      rolldownOptions: {
        input: { preload: resolve(root, 'main/preload/preload.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    ...renderer,
    build: {
      ...renderer.build,
      outDir: out('renderer'),
      rolldownOptions: { input: resolve(root, 'renderer/index.html') },
    },
  },
});
