/**
 * The docs and the code point at each other; both ends must exist. Every `src/…`, `main/…` and
 * `renderer/…` path a page of docs/ names is in the repository (a glob: its folder), and every
 * `docs/<page>.md §N` cited in code or docs names a page there and a section heading in it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../..');
const DOCS = join(ROOT, 'docs');
const pages = readdirSync(DOCS).filter((f) => f.endsWith('.md'));
const docText = (page: string): string => readFileSync(join(DOCS, page), 'utf8');
/** Other projects' files the docs cite as models (VS Code's IPC and preload, OpenOCD's RTT). */
const FOREIGN = ['src/vs/', 'src/target/'];

function* files(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'build' || e.name === 'out' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (/\.(ts|tsx|cjs|mjs|js|md)$/.test(e.name)) yield p;
  }
}

/** Section numbers of a page: "## 4. Queue layouts" → 4, "### 4.5 Memory ordering" → 4.5. */
function sections(page: string): Set<string> {
  return new Set([...docText(page).matchAll(/^#+ (\d+(?:\.\d+)*)\.? /gm)].map((m) => m[1]!));
}

describe('docs/', () => {
  it('names only paths that exist', () => {
    const missing: string[] = [];
    for (const page of pages) {
      for (const m of docText(page).matchAll(/(?<![\w/.-])((?:src|main|renderer)\/[\w./*<>-]*[\w*>/])/g)) {
        const named = m[1]!;
        if (FOREIGN.some((f) => named.startsWith(f))) continue;
        // A glob or a placeholder (src/devices/<type>.ts) names its folder.
        const path = /[*<]/.test(named) ? dirname(named.slice(0, named.search(/[*<]/)) + 'x') : named;
        if (!existsSync(join(ROOT, path))) missing.push(`docs/${page}: ${named}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('is cited by page and section that exist, in code and in docs', () => {
    const known = new Map(pages.map((p) => [p, sections(p)]));
    const bad: string[] = [];
    let checked = 0;
    const where = [...['src', 'main', 'renderer', 'test', '.ci'].flatMap((d) => (existsSync(join(ROOT, d)) ? [...files(join(ROOT, d))] : [])), ...pages.map((p) => join(DOCS, p))];
    for (const file of where) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/docs\/([\w-]+\.md)((?: ?(?:§|–§|-§|, §| and §)\d+(?:\.\d+)*)*)/g)) {
        const [cite, page, refs] = [m[0], m[1]!, m[2]!];
        const at = relative(ROOT, file);
        const secs = known.get(page);
        if (!secs) {
          bad.push(`${at}: ${cite}: no page docs/${page}`);
          continue;
        }
        for (const s of refs.matchAll(/§(\d+(?:\.\d+)*)/g)) {
          checked++;
          if (!secs.has(s[1]!)) bad.push(`${at}: ${cite}: docs/${page} has no section ${s[1]}`);
        }
      }
    }
    expect(bad).toEqual([]);
    // The citations really were found (a pattern that matched nothing would pass).
    expect(checked).toBeGreaterThan(100);
  });
});
