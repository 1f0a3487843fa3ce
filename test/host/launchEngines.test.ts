/**
 * `npm install` on the Node version the README names prints no EBADENGINE warning: the README,
 * package.json's engines and every package the lockfile installs (what `npm ci` checks) agree,
 * for every Node the engines admit (eslint and jsdom skip Node 23, hence `^22.13.0 || >=24`).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const semver = createRequire(__filename)('semver') as {
  satisfies(version: string, range: string): boolean;
  subset(sub: string, dom: string): boolean;
  minVersion(range: string): { version: string } | null;
};

const root = resolve(__dirname, '../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
};

/** "Node.js ≥ 22.13" in the README's Requirements, as a full version. */
const readmeNode = `${/^- Node\.js ≥ (\d+\.\d+)\b/m.exec(readme)?.[1]}.0`;

describe('Node version', () => {
  it('is the same minimum in the README and in package.json engines', () => {
    expect(readmeNode).toMatch(/^\d+\.\d+\.0$/);
    expect(semver.minVersion(pkg.engines.node)?.version).toBe(readmeNode);
  });

  it('is, in every version package.json engines admit, accepted by every package the lockfile installs', () => {
    const rejecting = Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && p.engines && !Array.isArray(p.engines) && p.engines.node && !semver.subset(pkg.engines.node, p.engines.node))
      .map(([path, p]) => `${path.replace(/^.*node_modules\//, '')}@${p.version} wants node ${(p.engines as { node: string }).node}`);
    expect(rejecting).toEqual([]);
  });

  it('includes the Node these tests run on (CI)', () => {
    expect(semver.satisfies(process.version, pkg.engines.node)).toBe(true);
  });
});
