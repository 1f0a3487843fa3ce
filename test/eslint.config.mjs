// Layering rules from docs/architecture.md: a wrong import fails `npm test`, not a review.
import tseslint from 'typescript-eslint';

import { builtinModules } from 'node:module';

// Exact module names (a bare name used as a pattern would also match folders such as ../util).
const NODE = [...builtinModules, 'electron', 'react', 'react-dom'];
const PRELOAD = 'main/preload is a sandboxed bundle: electron, src/api/desktop (constants and types), and type-only imports from src/';
const restrict = (paths, patterns, message) => ({
  'no-restricted-imports': ['error', { paths: paths.map((name) => ({ name, message })), patterns: [{ group: patterns, message }] }],
});

export default tseslint.config(
  { ignores: ['**/node_modules/**', 'out/**', 'test/output/**', '**/*.cjs', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.ts', '**/*.tsx', '**/*.mts'],
    ignores: ['main/app/**', 'main/preload/**'],
    rules: restrict(['electron'], ['electron/*'], 'only main/app and main/preload may import electron (in plain Node it starts a binary download: docs/stack.md §11 pitfall 1)'),
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/api/**', 'src/devices/**'],
    rules: restrict([...NODE, 'zod'], ['node:*', '**/main/**', '**/renderer/**', '**/test/**'],
      'src/ is the environment-free core: it imports src/ only'),
  },
  {
    // A device type's descriptor holds the schema of its workloads' params, which the API applies.
    files: ['src/api/**/*.ts', 'src/devices/**/*.ts'],
    rules: restrict(NODE, ['node:*', '**/main/**', '**/renderer/**', '**/test/**'],
      'src/api and src/devices may import src/ and the schema library (zod) only'),
  },
  {
    files: ['renderer/**/*.ts', 'renderer/**/*.tsx'],
    // The build config runs in Node (Vite), not in the page.
    ignores: ['renderer/vite.config.ts'],
    rules: restrict(NODE.filter((m) => m !== 'react' && m !== 'react-dom'), ['node:*', '**/main/**'],
      'renderer/ reaches the engine through src/api only: no Node, no Electron, no main/'),
  },
  {
    files: ['main/host/**/*.ts'],
    rules: restrict(['electron', 'react', 'react-dom'], ['electron/*', '**/renderer/**', '**/app/**', '**/preload/**', '**/test/**'],
      'main/host runs without Electron: src/, node:*, serialport and main/native only'),
  },
  {
    files: ['main/preload/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: NODE.filter((m) => m !== 'electron').map((name) => ({ name, message: PRELOAD })),
          patterns: [
            { group: ['node:*', 'zod', '**/renderer/**', '**/test/**', '**/app/**', '**/native/**', '**/host/**'], message: PRELOAD },
            { regex: '(^|/)src/(?!api/desktop$)', allowTypeImports: true, message: PRELOAD },
          ],
        },
      ],
    },
  },
);
