/**
 * The capture source interface as each reader implements it: streaming readers over files bigger
 * than their read buffers, ranged iteration, the live journal's follow, the resident cache.
 */
import { appendFileSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { TraceStore } from '../../main/host/service/traceStore';
import { JournalWriter, openJournal } from '../../main/host/trace/journal';
import { loadCapture } from '../../main/host/trace/load';
import { BlockBuilder, blockCount, toRecords, type RecordBlock } from '../../src/trace/block';
import { exportRecords } from '../../src/trace/exportWriter';
import { importJsonl, JsonlWriter } from '../../src/trace/jsonl';
import { importPcapng, PcapngWriter } from '../../src/trace/pcapng';
import type { TraceRecord } from '../../src/trace/record';
import { ResidentCache, spanIndex, type CaptureSource } from '../../src/trace/source';
import { sampleMeta, sampleRecords, START_MONO_NS } from '../unit/trace/sample';

const root = mkdtempSync(join(tmpdir(), 'amp-source-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const template = sampleRecords();
/** `n` records: the sample messages over and over, seq i, 1 µs apart. */
function records(n: number, from = 0): TraceRecord[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return { ...template[i % template.length]!, seq: i, monoNs: START_MONO_NS + BigInt(i) * 1000n, pairSeq: null, latencyNs: 0n };
  });
}

function blocksOf(recs: TraceRecord[], blockBytes = 64 << 10): RecordBlock[] {
  const b = new BlockBuilder(blockBytes);
  for (const r of recs) b.appendRecord(r);
  return b.blocks();
}

function writeExport(path: string, writer: 'pcapng' | 'jsonl', recs: TraceRecord[]): void {
  const fd = openSync(path, 'w');
  const emit = (c: Uint8Array): void => void writeSync(fd, c);
  exportRecords(writer === 'pcapng' ? new PcapngWriter(emit) : new JsonlWriter(emit), sampleMeta(), blocksOf(recs, 1 << 20));
  closeSync(fd);
}

function load(path: string): CaptureSource {
  const o = loadCapture(path);
  if (!o.ok) throw new Error(o.error);
  return o.value;
}

/** A journal of `n` records in chunks of `perChunk`. */
function journal(dir: string, n: number, perChunk: number): JournalWriter {
  const w = new JournalWriter({ dir, meta: sampleMeta(), segmentBytes: 256 << 10 });
  for (let i = 0; i < n; i += perChunk) writeChunk(w, records(Math.min(perChunk, n - i), i));
  return w;
}

/** A closed journal of `n` records in chunks of `perChunk`, opened again. */
function reopened(name: string, n: number, perChunk: number): CaptureSource {
  const dir = join(root, name);
  journal(dir, n, perChunk).close(1n);
  const c = openJournal(dir);
  if (!c.ok) throw new Error(c.error);
  return c.value;
}

function writeChunk(w: JournalWriter, recs: TraceRecord[]): void {
  const [b] = blocksOf(recs, 16 << 20);
  w.writeChunk(b!.bytes, recs.length, recs[0]!.seq);
}

describe('streaming readers', () => {
  // 60,000 records: a pcapng of about 11 MB and a JSONL of about 30 MB, both past the 4 MiB and 8 MiB read pieces.
  const recs = records(60_000);

  it('a pcapng bigger than its read piece, with a garbage tail, reads as the whole-file reader reads it', () => {
    const path = join(root, 'big.pcapng');
    writeExport(path, 'pcapng', recs);
    appendFileSync(path, Buffer.from([0x06, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 2, 3]));
    const whole = importPcapng(readFileSync(path));
    if (!whole.ok) throw new Error(whole.error);
    const streamed = load(path);
    expect(streamed.count).toBe(0);
    expect(toRecords(streamed.blocks())).toEqual(toRecords(whole.value.blocks));
    expect(streamed.count).toBe(60_000);
    expect(streamed.notes).toEqual(whole.value.notes);
    expect(streamed.notes).toEqual([expect.stringMatching(/^truncated pcapng block at offset \d+: 11 bytes left, a block needs at least 12; stopped here, 60000 records kept$/)]);
    // Read again (from the index), notes are not taken twice.
    expect(blockCount(streamed.blocks())).toBe(60_000);
    expect(streamed.notes).toHaveLength(1);
  });

  it('a JSONL bigger than its read window, with a truncated last line, reads as the whole-file reader reads it', () => {
    const path = join(root, 'big.jsonl');
    writeExport(path, 'jsonl', recs);
    appendFileSync(path, '{"type":"record","seq":"6');
    const whole = importJsonl(readFileSync(path), { windowBytes: 1 << 30 });
    if (!whole.ok) throw new Error(whole.error);
    const streamed = load(path);
    expect(toRecords(streamed.blocks())).toEqual(toRecords(whole.value.blocks));
    expect(streamed.notes).toEqual(whole.value.notes);
    expect(streamed.notes).toEqual([expect.stringMatching(/^line 60002: not valid JSON \(.*\); a truncated last line means the export was cut short$/)]);
  });

  it('a CRLF JSONL file counts its lines as an LF one does', () => {
    const lf = join(root, 'lf.jsonl');
    writeExport(lf, 'jsonl', recs.slice(0, 5));
    const lines = readFileSync(lf, 'utf8').trimEnd().split('\n');
    const crlf = join(root, 'crlf.jsonl');
    writeFileSync(crlf, [...lines.slice(0, 3), '{"type":"record"}', ...lines.slice(3)].join('\r\n') + '\r\n');
    const s = load(crlf);
    expect(blockCount(s.blocks())).toBe(5);
    expect(s.notes).toEqual([expect.stringMatching(/^line 4: field "seq": expected /)]);
  });

  it('ranged iteration on a streamed file starts at the block holding the seq, once the file is indexed', () => {
    const path = join(root, 'ranged.pcapng');
    writeExport(path, 'pcapng', recs);
    const s = load(path);
    blockCount(s.blocks());
    const [first] = s.blocks({ seq: 45_678 });
    const seqs = toRecords([first!]).map((r) => r.seq);
    expect(seqs).toContain(45_678);
    expect(seqs[0]).toBe(s.spans()[spanIndex(s.spans(), { seq: 45_678 })]!.firstSeq);
  });
});

describe('the journal as a capture source', () => {
  it('iterates from a seq and from a time, starting with the block that holds it', () => {
    const src = reopened('ranged', 20_000, 700);
    expect(src.count).toBe(20_000);
    for (const seq of [0, 699, 700, 12_345, 19_999]) {
      const [b] = src.blocks({ seq });
      const got = toRecords([b!]).map((r) => r.seq);
      expect(got[0]).toBe(Math.floor(seq / 700) * 700);
      expect(got).toContain(seq);
    }
    // Record i is at i µs: from 12,345.5 µs the first record at or after it is 12,346.
    const [b] = src.blocks({ ns: 12_345_500 });
    const times = toRecords([b!]).map((r) => Number(r.monoNs - START_MONO_NS));
    expect(times[0]).toBeLessThanOrEqual(12_345_500);
    expect(times.find((t) => t >= 12_345_500)).toBe(12_346_000);
    expect([...src.blocks({ seq: 19_999 })]).toHaveLength(1);
  });

  it('a damaged chunk header is skipped by searching the segment a piece at a time for the next intact chunk', () => {
    const dir = join(root, 'damaged-header');
    const w = new JournalWriter({ dir, meta: sampleMeta() });
    writeChunk(w, records(1000));
    // A chunk of several MiB, more than one search piece: the next chunk lies beyond the first piece.
    writeChunk(w, records(40_000, 1000));
    writeChunk(w, records(1000, 41_000));
    w.close(1n);
    const seg = join(dir, 'seg-000001.ampc');
    const bytes = readFileSync(seg);
    const second = 32 + bytes.readUInt32LE(8);
    const third = second + 32 + bytes.readUInt32LE(second + 8);
    expect(third - second).toBeGreaterThan(2 << 20);
    bytes.writeUInt8(bytes.readUInt8(second) ^ 0xff, second);
    writeFileSync(seg, bytes);
    const c = openJournal(dir);
    if (!c.ok) throw new Error(c.error);
    expect(c.value.notes).toContain(`records 1000..40999 missing (damaged chunk or lost writes)`);
    expect(c.value.notes.some((n) => new RegExp(`^seg-000001\\.ampc: damaged chunk at byte ${second}: chunk magic .*; skipped ${third - second} bytes to the next intact chunk$`).test(n))).toBe(true);
    const seqs = toRecords(c.value.blocks()).map((r) => r.seq);
    expect(seqs).toEqual([...[...Array(1000).keys()], ...[...Array(1000).keys()].map((i) => i + 41_000)]);
  });

  it('the live journal delivers every appended block exactly once across the read/subscribe boundary', () => {
    const dir = join(root, 'live');
    const w = journal(dir, 3000, 500);
    const seen: number[] = [];
    let unsubscribe = (): void => undefined;
    // Subscribing from span 2 while the writer goes on: the catch-up and the appends meet exactly.
    unsubscribe = w.source.follow!((b) => {
      seen.push(...toRecords([b]).map((r) => r.seq));
      // A block appended by a follower while being told still reaches it once.
      if (seen.length === 500) writeChunk(w, records(500, 3000));
    }, 2);
    writeChunk(w, records(500, 3500));
    expect(w.source.live).toBe(true);
    unsubscribe();
    writeChunk(w, records(500, 4000));
    w.close(1n);
    expect(w.source.live).toBe(false);
    expect(seen).toEqual([...Array(3000).keys()].map((i) => i + 1000));
  });

  it('a store fed by the live journal holds exactly what the journal holds', () => {
    const dir = join(root, 'store');
    const w = journal(dir, 1000, 250);
    const store = new TraceStore(w.source);
    const appended: number[] = [];
    const stop = store.follow((n) => appended.push(n));
    writeChunk(w, records(250, 1000));
    writeChunk(w, records(250, 1250));
    stop();
    w.close(1n);
    expect(appended).toEqual([250, 250]);
    expect(store.count).toBe(1500);
    expect(store.at(1499)?.seq).toBe(1499);
    expect(store.live).toBe(false);
  });
});

describe('the resident cache', () => {
  it('keeps at most its budget (plus the block just read) and reads evicted blocks again, unchanged', () => {
    const capture = reopened('evict', 30_000, 1000);
    const blockBytes = capture.spans()[0]!.bytes;
    const cache = new ResidentCache(capture, 3 * blockBytes);
    const firstPass = [...cache.blocks()].map((b) => toRecords([b]));
    expect(cache.resident).toBeLessThanOrEqual(4 * blockBytes);
    for (let k = 0; k < 30; k += 7) {
      expect(toRecords([cache.read(k)!])).toEqual(firstPass[k]);
      expect(cache.resident).toBeLessThanOrEqual(4 * blockBytes);
    }
    // What it holds is served without touching the disk again.
    const dropped = join(root, 'evict', 'seg-000001.ampc');
    const kept = readFileSync(dropped);
    writeFileSync(dropped, '');
    expect(toRecords([cache.read(28)!])).toEqual(firstPass[28]);
    expect(cache.read(0)).toBeNull();
    writeFileSync(dropped, kept);
  });

  it('a store under a small budget answers from records read again', () => {
    const capture = reopened('evict-store', 30_000, 1000);
    const store = new TraceStore(capture, { residentBytes: 200 << 10 });
    const r = store.rows(0, 10, 'dev == 1');
    expect(r.ok && r.value.total).toBe(records(30_000).filter((x) => x.devNum === 1).length);
    for (const p of [29_999, 5, 17_000, 0]) expect(store.at(p)?.seq).toBe(p);
    expect(store.info().residentBytes).toBeLessThanOrEqual((200 << 10) + capture.spans()[0]!.bytes);
  });
});
