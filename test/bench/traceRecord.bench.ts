/**
 * Recording throughput: 10,000,000 messages of a running bus (events, and requests with their
 * responses whose tokens run through 4096 values, so half the messages are new bytes the
 * recorder must decode; all R4) through the Recorder into a disk journal, yielding to the event loop
 * between batches so the 100 ms flush timer runs as in a live session. Targets: ≥ 1,000,000
 * messages/s sustained, RSS under 300 MB throughout.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { journalBytes, openJournal } from '../../main/host/trace/journal';

import { benchRecorder, workingDevice } from './busTraffic';

const TOTAL = 10_000_000;
const BATCH = 20_000;

export async function run(): Promise<Record<string, number | string>> {
  const dir = join(mkdtempSync(join(tmpdir(), 'amp-bench-rec-')), 'cap');
  const msgs = workingDevice(4096);
  const { journal, rec } = benchRecorder(dir);
  let peakRss = process.memoryUsage().rss;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < TOTAL; ) {
    const end = Math.min(TOTAL, i + BATCH);
    for (; i < end; i++) {
      const m = msgs[i % msgs.length]!;
      rec.message(m[0], m[1]);
    }
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    await new Promise((r) => setImmediate(r));
  }
  rec.close();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  journal.close(0n);
  const bytes = journalBytes(dir);
  const opened = openJournal(dir);
  const readBack = opened.ok ? opened.capture.count : -1;
  rmSync(join(dir, '..'), { recursive: true, force: true });
  return {
    messages: TOTAL,
    seconds: Number(seconds.toFixed(2)),
    recordPerSecond: Math.round(TOTAL / seconds),
    peakRssMB: Math.round(peakRss / 2 ** 20),
    journalMB: Math.round(bytes / 1e6),
    readBack,
  };
}
