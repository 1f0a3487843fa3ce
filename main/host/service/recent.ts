/**
 * The newest captures in a captures folder, for the Connect screen: each capture folder's manifest
 * (capture.json) read for its board, link, start and, once closed, its record count. Folders
 * without a readable manifest are not captures and are left out.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { RecentCapture } from '../../../src/api/workbench';
import { metaFromJson } from '../../../src/trace/meta';
import { MANIFEST } from '../trace/journal';
import { AUTOMATIC_CAPTURES_KEPT } from '../trace/trace';

function closedRecords(manifest: unknown): number | null {
  const closed = (manifest as { journal?: { closed?: { records?: unknown } } }).journal?.closed;
  return typeof closed?.records === 'number' ? closed.records : null;
}

export function recentCaptures(capturesDir: string, max = AUTOMATIC_CAPTURES_KEPT): RecentCapture[] {
  let names: string[];
  try {
    names = readdirSync(capturesDir);
  } catch {
    // No captures folder yet: nothing was recorded.
    return [];
  }
  const found: RecentCapture[] = [];
  for (const name of names) {
    const path = join(capturesDir, name);
    let manifest: unknown;
    try {
      manifest = JSON.parse(readFileSync(join(path, MANIFEST), 'utf8'));
    } catch {
      continue;
    }
    const meta = metaFromJson(manifest);
    if (!meta.ok) continue;
    found.push({ path, board: meta.value.board, link: meta.value.link, startMs: Number(meta.value.startWallNs / 1_000_000n), records: closedRecords(manifest) });
  }
  return found.sort((a, b) => b.startMs - a.startMs).slice(0, max);
}
