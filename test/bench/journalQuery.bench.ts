/**
 * A 20,000,000-record journal capture opened and queried as the UI does, in a child process whose
 * peak RSS the kernel counts (targets: open ≤ 2 s, first screen of rows ≤ 1 s, jump to the middle
 * ≤ 100 ms, filter `dev == 1` over all of it ≤ 4 s, 1000-bucket window query ≤ 1 s, peak RSS
 * ≤ 400 MB), and a second filter once every chunk's CRC was checked. The journal is written under os.tmpdir() with the journal writer, a chunk at a time
 * (no live bus), and deleted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { JournalWriter } from '../../main/host/trace/journal';
import { sampleMeta } from '../unit/trace/sample';
import { childRun } from './childRun';
import { messageRecords } from './pcapng.bench';

const RECORDS = 20_000_000;
const PER_CHUNK = 10_000;

export async function run(): Promise<Record<string, number | string>> {
  const root = mkdtempSync(join(tmpdir(), 'amp-journal-bench-'));
  try {
    const dir = join(root, 'capture');
    const t0 = performance.now();
    const w = new JournalWriter({ dir, meta: sampleMeta() });
    for (let i = 0; i < RECORDS; i += PER_CHUNK) w.writeChunk(messageRecords(i, PER_CHUNK), PER_CHUNK, i);
    w.close(1n);
    const writeMs = performance.now() - t0;
    const runTs = join(__dirname, '../../main/host/cli/run-ts.cjs');
    const child = childRun(process.execPath, [runTs, join(__dirname, 'journalQuery.child.ts'), dir]);
    return { records: RECORDS, generateMs: Math.round(writeMs), ...(JSON.parse(child.stdout) as Record<string, number>), peakRssMB: child.peakRssMB };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
