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

import { nodeRuntime } from '../../main/host/runtime';
import { journalBytes, JournalWriter, openJournal } from '../../main/host/trace/journal';
import { encode, type Direction, type MessageInit } from '../../src/protocol/index';
import { CAPTURE_FORMAT } from '../../src/trace/meta';
import { Recorder } from '../../src/trace/recorder';

const TOTAL = 10_000_000;
const BATCH = 20_000;

export async function run(): Promise<Record<string, number | string>> {
  const dir = join(mkdtempSync(join(tmpdir(), 'amp-bench-rec-')), 'cap');
  /** A device at work: EVENT_AVAIL → EVENT_USED, then a config read with the next token. */
  const TOKENS = 4096;
  const pattern: [Direction, MessageInit][] = [];
  for (let token = 1; token <= TOKENS; token++) {
    pattern.push(
      ['driver-to-device', { name: 'EVENT_AVAIL', kind: 'event', devNum: 1, fields: { vq_index: 0, next_offset: 0 } }],
      ['device-to-driver', { name: 'EVENT_USED', kind: 'event', devNum: 1, fields: { vq_index: 0 } }],
      ['driver-to-device', { name: 'GET_CONFIG', kind: 'request', devNum: 1, token, fields: { offset: 0, length: 8 } }],
      ['device-to-driver', { name: 'GET_CONFIG', kind: 'response', devNum: 1, token, fields: { generation: 3, offset: 0, length: 8, data: new Uint8Array(8) } }],
    );
  }
  const msgs = pattern.map(([dir, init]) => [dir, encode('r4', init)] as const);
  const journal = new JournalWriter({
    dir,
    meta: { format: CAPTURE_FORMAT, app: 'bench', board: 'bench', boardDescription: '', revision: 'r4', queueFormat: null, link: 'none', startWallNs: 0n, startMonoNs: 0n, notes: [] },
  });
  const rec = new Recorder({ runtime: nodeRuntime, sink: journal, revision: 'r4', maxMessageSize: 64 });
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
