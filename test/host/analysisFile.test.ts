/**
 * The analysis saved with a capture (main/host/trace/analysisFile.ts): a store over the capture as
 * it was written saves it once the capture is closed; the capture opened again fills Statistics,
 * Expert and Transactions from it without reading a block, with exactly what a fresh pass gives;
 * a damaged file or one made from other content is refused with one note, and the pass runs.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { TraceStore } from '../../main/host/service/traceStore';
import { ANALYSIS_FILE, decodeAnalysis, encodeAnalysis, readAnalysisFile, writeAnalysisFile } from '../../main/host/trace/analysisFile';
import { JournalWriter, openJournal, type Capture } from '../../main/host/trace/journal';
import { EVENT_LANE_FILTERS } from '../../src/trace/events';
import type { CaptureSource } from '../../src/trace/source';
import { workRecords } from '../bench/analysisCapture';
import { sampleMeta } from '../unit/trace/sample';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const PER_CHUNK = 500;

/** A capture of `records` records written as a session writes it, with a store following it; returns the folder and that store. */
function written(records: number): { dir: string; live: TraceStore } {
  const dir = join(mkdtempSync(join(tmpdir(), 'amp-analysis-file-')), 'capture');
  dirs.push(join(dir, '..'));
  const w = new JournalWriter({ dir, meta: sampleMeta() });
  const live = new TraceStore(w.source);
  for (let i = 0; i < records; i += PER_CHUNK) {
    w.writeChunk(workRecords(i, PER_CHUNK), PER_CHUNK, i);
    // The views ask while it grows: the analysis is made as it goes.
    live.stats();
  }
  expect(live.savedAnalysis()).toBeNull();
  w.close(1n);
  return { dir, live };
}

function open(dir: string): Capture {
  const o = openJournal(dir);
  if (!o.ok) throw new Error(o.error);
  return o.value;
}

/** `source` with its block reads counted. */
function counted(source: CaptureSource): { source: CaptureSource; reads: () => number } {
  let reads = 0;
  const c = Object.create(source) as CaptureSource;
  c.read = (k, transient) => {
    reads++;
    return source.read(k, transient);
  };
  return { source: c, reads: () => reads };
}

/** What the three views show of `s`. */
function views(s: TraceStore): unknown {
  const t = s.transactions();
  return {
    stats: s.stats(),
    expert: s.expert(),
    queueLatency: t.queueLatency(),
    requests: [0, 7, undefined].map((from) => s.transactionPage('requests', from, 50)),
    operations: [0, 3, undefined].map((from) => s.transactionPage('virtqueue', from, 50)),
    lanes: Object.values(EVENT_LANE_FILTERS).map((filter) => s.window({ fromNs: 0, toNs: 20e6, buckets: 64, series: 'records', filter })),
  };
}

describe('the analysis saved with a capture', () => {
  it('is saved from the session store once the capture is closed, and fills the views of the reopened capture without reading it', () => {
    const { dir, live } = written(10_000);
    const saved = live.savedAnalysis();
    expect(saved?.fingerprint).toEqual(open(dir).fingerprint!());
    expect(writeAnalysisFile(dir, saved!).ok).toBe(true);

    const fresh = new TraceStore(open(dir));
    const capture = open(dir);
    const analysis = readAnalysisFile(dir, capture.fingerprint!());
    expect(analysis?.ok).toBe(true);
    const { source, reads } = counted(capture);
    const restored = new TraceStore(source, { analysis });
    expect(restored.prepared).toBe(true);
    const s = restored.stats();
    const e = restored.expert();
    const ops = restored.transactions().operations;
    const marks = restored.window({ fromNs: 0, toNs: 20e6, buckets: 10, series: 'records', filter: EVENT_LANE_FILTERS.marks });
    expect(reads()).toBe(0);
    // A bookmark every 1000 cycles of 10 records (analysisCapture.ts): record 9 only, in the first 2 ms.
    expect(marks.ok && [marks.value.count, marks.value.first[0]]).toEqual([[1, 0, 0, 0, 0, 0, 0, 0, 0, 0], 9]);
    expect([s.ok && s.value.records, ops]).toEqual([10_000, 1_000]);
    expect(e.checked).toBe(10_000);
    expect(views(restored)).toEqual(views(fresh));
    expect(restored.info().notes).toEqual(fresh.info().notes);
    // Already saved: nothing new to save.
    expect(restored.savedAnalysis()).toBeNull();
  });

  it('round-trips byte for byte', () => {
    const { live } = written(1_000);
    const bytes = encodeAnalysis(live.savedAnalysis()!);
    const back = decodeAnalysis(bytes);
    expect(back.ok && encodeAnalysis(back.value)).toEqual(bytes);
  });

  it('is refused with one note, and the capture analysed again, when damaged or made from other content', () => {
    const { dir, live } = written(2_000);
    writeAnalysisFile(dir, live.savedAnalysis()!);
    const path = join(dir, ANALYSIS_FILE);
    const good = readFileSync(path);
    const fresh = new TraceStore(open(dir));

    const damaged = Uint8Array.from(good);
    damaged[damaged.length - 3]! ^= 0x40;
    writeFileSync(path, damaged);
    const d = readAnalysisFile(dir, open(dir).fingerprint!());
    expect(d?.ok === false && d.error).toMatch(/^analysis\.ampa: CRC-32C 0x[0-9a-f]+ stored, 0x[0-9a-f]+ computed \(the file is damaged\)$/);
    const store = new TraceStore(open(dir), { analysis: d });
    expect(store.prepared).toBe(false);
    expect(views(store)).toEqual(views(fresh));
    expect(store.info().notes.filter((n) => n.includes(ANALYSIS_FILE))).toEqual([
      `the analysis saved with the capture is not used (${d?.ok === false && d.error}); the capture is analysed again`,
    ]);

    // Made from another capture (more records, another last chunk).
    const other = written(2_500);
    writeFileSync(path, encodeAnalysis(other.live.savedAnalysis()!));
    const m = readAnalysisFile(dir, open(dir).fingerprint!());
    expect(m?.ok === false && m.error).toMatch(/^analysis\.ampa was made from 2500 records ending with the chunk at byte \d+ of seg-000001\.ampc \(CRC 0x[0-9a-f]+\), the capture now has 2000 records ending/);

    // A capture without the file: nothing to say.
    rmSync(path);
    expect(readAnalysisFile(dir, open(dir).fingerprint!())).toBeNull();
  });
});
