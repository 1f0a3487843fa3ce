// Layering rules from architecture.md: a wrong import fails `npm test`, not a review.
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['node:*', 'fs', 'path', 'os', 'child_process', 'worker_threads', 'net', 'crypto', 'events', 'stream', 'util', 'url'];
const restrict = (patterns, message) => ({
  'no-restricted-imports': ['error', { patterns: [{ group: patterns, message }] }],
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
    files: ['src/**/*.ts'],
    ignores: ['src/api/**'],
    rules: restrict([...nodeBuiltins, 'electron', 'react', 'react-dom', 'zod', '**/main/**', '**/renderer/**', '**/test/**'],
      'src/ is the environment-free core: it imports src/ only'),
  },
  {
    files: ['src/api/**/*.ts'],
    rules: restrict([...nodeBuiltins, 'electron', 'react', 'react-dom', '**/main/**', '**/renderer/**', '**/test/**'],
      'src/api may import src/ and the schema library (zod) only'),
  },
  {
    files: ['main/host/**/*.ts'],
    rules: restrict(['electron', 'react', 'react-dom', '**/renderer/**', '**/main/app/**', '**/main/preload/**', '**/test/**'],
      'main/host runs without Electron: src/, node:*, serialport and main/native only'),
  },
);
