import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** "amp-workbench 0.1.0": the writer named in every capture and export. */
export function appName(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { name?: string; version?: string };
    return `${pkg.name ?? 'amp-workbench'} ${pkg.version ?? '?'}`;
  } catch {
    return 'amp-workbench (version unknown)';
  }
}
