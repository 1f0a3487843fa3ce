/**
 * Export to a file (main/host/trace/export.ts): the one-go export of the CLI and the sliced export
 * of the engine write the same bytes; the sliced one can be cancelled at its next step and then
 * leaves no file; a live capture growing during the export does not stretch it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { exportCapture, exportCaptureAsync } from '../../main/host/trace/export';
import type { Capture } from '../../main/host/trace/journal';
import { loadCapture } from '../../main/host/trace/load';
import { fromRecords, toRecords, type RecordBlock } from '../../src/trace/block';
import { memorySource } from '../../src/trace/source';
import { sampleMeta, sessionRecords } from '../unit/trace/sample';

const root = mkdtempSync(join(tmpdir(), 'amp-export-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const records = sessionRecords();
/** One block per record, so every record boundary is a point where the export may stop. */
const blocks: RecordBlock[] = records.flatMap((r) => fromRecords([r]));

/** A live capture holding `count` records so far. */
function capture(source: () => Iterable<RecordBlock> = () => blocks, count = records.length): Capture {
  return { ...memorySource('test', sampleMeta(), [], blocks), live: true, count, blocks: source };
}

describe('export to a file', () => {
  it('writes the same file in one go and in slices', async () => {
    const a = join(root, 'a.pcapng');
    const b = join(root, 'b.pcapng');
    const one = exportCapture(capture(), { format: 'pcapng', out: a });
    const sliced = await exportCaptureAsync(capture(), { format: 'pcapng', out: b });
    expect(one).toEqual(sliced);
    expect(one.ok && one.value.written).toBe(records.length);
    expect(readFileSync(b)).toEqual(readFileSync(a));
    const back = loadCapture(b);
    if (!back.ok) throw new Error(back.error);
    expect(toRecords(back.value.blocks())).toEqual(records);
  });

  it('stops at its next step (every 1,000 records) when cancelled, removes the partial file and says how far it got', async () => {
    const out = join(root, 'cancelled.jsonl');
    const abort = new AbortController();
    const many = Array.from({ length: 100 }, () => blocks).flat();
    function* cancelAt1500(): Generator<RecordBlock> {
      for (let i = 0; i < many.length; i++) {
        if (i === 1500) abort.abort();
        yield many[i]!;
      }
    }
    const r = await exportCaptureAsync(capture(cancelAt1500, many.length), { format: 'jsonl', out, signal: abort.signal });
    expect(r).toEqual({ ok: false, error: `export to ${out} was cancelled after 2,000 of ${many.length.toLocaleString('en')} records; no file was written` });
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.partial`)).toBe(false);
  });

  it('exports the records present when it started, not those a live capture adds meanwhile', async () => {
    const out = join(root, 'live.csv');
    const at = 10;
    const r = await exportCaptureAsync(capture(() => blocks, at), { format: 'csv', out });
    expect(r.ok && r.value.scanned).toBe(at);
    expect(r.ok && r.value.written).toBe(at);
    // Header line plus one line per record.
    expect(readFileSync(out, 'utf8').trimEnd().split('\n')).toHaveLength(at + 1);
  });

  it('reports a bad filter without creating a file', async () => {
    const out = join(root, 'bad.pcapng');
    const r = await exportCaptureAsync(capture(), { format: 'pcapng', out, filter: 'dve == 1' });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/^filter: error at column 1/);
    expect(existsSync(`${out}.partial`)).toBe(false);
    expect(existsSync(out)).toBe(false);
  });
});
