/**
 * Export of a capture (or the part of it a filter and a time range select) to a file, in
 * chunks, with progress reports: the file is never held in memory whole.
 */
import { closeSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';

import { forEachRecord } from '../../../src/trace/block';
import { CsvWriter } from '../../../src/trace/csv';
import type { TraceWriter } from '../../../src/trace/exportWriter';
import { compileFilter, renderFilterError } from '../../../src/trace/filter';
import { JsonlWriter } from '../../../src/trace/jsonl';
import { PcapngWriter } from '../../../src/trace/pcapng';
import { PerfettoWriter } from '../../../src/trace/perfetto';
import type { Capture } from './journal';
import { osDescription } from './osInfo';

export const EXPORT_FORMATS = ['pcapng', 'perfetto', 'jsonl', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  format: ExportFormat;
  out: string;
  filter?: string;
  /** Time range [fromNs, toNs) relative to the capture start. */
  fromNs?: number;
  toNs?: number;
  /** Called about every 100,000 records. */
  onProgress?: (done: number, total: number) => void;
}

export type ExportResult = { ok: true; written: number; scanned: number; bytes: number } | { ok: false; error: string };

function writerFor(format: ExportFormat, emit: (chunk: Uint8Array) => void): TraceWriter {
  switch (format) {
    case 'pcapng':
      return new PcapngWriter(emit, { os: osDescription() });
    case 'perfetto':
      return new PerfettoWriter(emit);
    case 'jsonl':
      return new JsonlWriter(emit);
    case 'csv':
      return new CsvWriter(emit);
  }
}

const PROGRESS_EVERY = 100_000;

export function exportCapture(capture: Capture, opts: ExportOptions): ExportResult {
  let test: ((v: Parameters<TraceWriter['write']>[0]) => boolean) | null = null;
  if (opts.filter !== undefined && opts.filter.trim() !== '') {
    const f = compileFilter(opts.filter, { startMonoNs: capture.meta.startMonoNs });
    if (!f.ok) return { ok: false, error: `filter: error at column ${f.column}:\n${renderFilterError(opts.filter, f)}` };
    test = f.test;
  }
  const base = capture.meta.startMonoNs;
  const from = opts.fromNs ?? -Infinity;
  const to = opts.toNs ?? Infinity;
  // Written to a temporary name and renamed at the end, so a failed export leaves no half file.
  const tmp = `${opts.out}.partial`;
  const fd = openSync(tmp, 'w');
  let bytes = 0;
  let written = 0;
  let scanned = 0;
  try {
    const writer = writerFor(opts.format, (chunk) => {
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
      bytes += chunk.length;
    });
    writer.begin(capture.meta);
    forEachRecord(capture.blocks(), (v) => {
      scanned++;
      if (opts.onProgress && scanned % PROGRESS_EVERY === 0) opts.onProgress(scanned, capture.count);
      const t = v.relNs(base);
      if (t < from || t >= to) return;
      if (test !== null && !test(v)) return;
      writer.write(v);
      written++;
    });
    writer.end();
    closeSync(fd);
    renameSync(tmp, opts.out);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    unlinkSync(tmp);
    return { ok: false, error: `export to ${opts.out} failed: ${e instanceof Error ? e.message : String(e)}` };
  }
  opts.onProgress?.(scanned, capture.count);
  return { ok: true, written, scanned, bytes };
}
