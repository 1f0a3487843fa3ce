/**
 * Export of a capture (or the part of it a filter and a time range select) to a file, in
 * chunks, with progress reports: the file is never held in memory whole.
 */
import { closeSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';

import { CsvWriter } from '../../../src/trace/csv';
import type { ExportFormat, TraceWriter } from '../../../src/trace/exportWriter';
import { compileFilter, renderFilterError } from '../../../src/trace/filter';
import { JsonlWriter } from '../../../src/trace/jsonl';
import { PcapngWriter } from '../../../src/trace/pcapng';
import { PerfettoWriter } from '../../../src/trace/perfetto';
import { kindCode, RecordView, timeBase } from '../../../src/trace/record';
import { firstHeld } from '../../../src/trace/source';
import { ok, type Result } from '../../../src/util/result';
import { fileErrorText } from '../failure';
import type { Capture } from './journal';
import { osDescription } from './osInfo';

const FINDING = kindCode('finding');

export interface ExportOptions {
  format: ExportFormat;
  out: string;
  filter?: string;
  /** Time range [fromNs, toNs) relative to the capture start. */
  fromNs?: number;
  toNs?: number;
  /** Only the records with these seqs (chosen in a view); with a filter and range, those of them that match. */
  seqs?: readonly number[];
  /** Called about every 100,000 records. */
  onProgress?: (done: number, total: number) => void;
}

/** `problems`/`findings`: written records that carry a problem, and finding records written. */
export interface ExportSummary {
  written: number;
  scanned: number;
  bytes: number;
  problems: number;
  findings: number;
  /** Records at the start a rolling capture no longer held when the export began. */
  dropped: number;
}

export type ExportResult = Result<ExportSummary>;

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
/** Records between the points where the export may pause or stop (a divisor of PROGRESS_EVERY). */
const STEP_RECORDS = 1000;

/**
 * The export as steps: it yields every STEP_RECORDS records, so a caller that must stay
 * responsive (the engine serving a UI) can give the event loop a turn and stop it midway. The
 * records exported are those present when it starts: a live capture growing meanwhile does not
 * stretch it.
 */
function* exportSteps(capture: Capture, opts: ExportOptions, stopped: () => string | null): Generator<void, ExportResult> {
  let test: ((v: Parameters<TraceWriter['write']>[0]) => boolean) | null = null;
  if (opts.filter !== undefined && opts.filter.trim() !== '') {
    const f = compileFilter(opts.filter, { startMonoNs: capture.meta.startMonoNs });
    if (!f.ok) return { ok: false, error: `filter: error at column ${f.column}:\n${renderFilterError(opts.filter, f)}` };
    test = f.value.test;
  }
  const base = timeBase(capture.meta.startMonoNs);
  const from = opts.fromNs ?? -Infinity;
  const to = opts.toNs ?? Infinity;
  const chosen = opts.seqs ? new Set(opts.seqs) : null;
  // A live capture is exported as far as it is now; a file to its end, however far that is
  // (a streamed file counts its records as it goes).
  const dropped = firstHeld(capture);
  const total = capture.live ? capture.count - dropped : Infinity;
  const known = (): number => (capture.live ? total : capture.count - dropped);
  // Written to a temporary name and renamed at the end, so a failed export leaves no half file.
  const tmp = `${opts.out}.partial`;
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch (e) {
    // Named by the file the user chose: the temporary name is ours.
    return { ok: false, error: `cannot write ${opts.out}: ${fileErrorText(e, opts.out, 'write')}` };
  }
  let bytes = 0;
  let written = 0;
  let scanned = 0;
  let problems = 0;
  let findings = 0;
  const discard = (why: string): ExportResult => {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    try {
      unlinkSync(tmp);
    } catch {
      // Gone already (its folder was removed under the export): the error says why the export failed.
    }
    return { ok: false, error: why };
  };
  try {
    const writer = writerFor(opts.format, (chunk) => {
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
      bytes += chunk.length;
    });
    writer.begin(capture.meta);
    const v = new RecordView(new Uint8Array(0));
    walk: for (const block of capture.blocks()) {
      for (let i = 0; i < block.offsets.length; i++) {
        if (scanned === total) break walk;
        v.at(block.bytes, block.offsets[i]!);
        scanned++;
        const t = v.relNs(base);
        if (t >= from && t < to && (chosen === null || chosen.has(v.seq)) && (test === null || test(v))) {
          writer.write(v);
          written++;
          if (v.problems !== 0) problems++;
          if (v.kindCode === FINDING) findings++;
        }
        if (scanned % STEP_RECORDS !== 0) continue;
        if (opts.onProgress && scanned % PROGRESS_EVERY === 0) opts.onProgress(scanned, known());
        yield;
        const why = stopped();
        if (why !== null) return discard(`export to ${opts.out} ${why} after ${scanned.toLocaleString('en')} of ${known().toLocaleString('en')} records; no file was written`);
      }
    }
    writer.end();
    closeSync(fd);
    renameSync(tmp, opts.out);
  } catch (e) {
    return discard(`cannot write ${opts.out}: ${fileErrorText(e, opts.out, 'write')}`);
  }
  opts.onProgress?.(scanned, scanned);
  return ok({ written, scanned, bytes, problems, findings, dropped });
}

/** Exports in one go (the CLI). */
export function exportCapture(capture: Capture, opts: ExportOptions): ExportResult {
  const steps = exportSteps(capture, opts, () => null);
  for (;;) {
    const s = steps.next();
    if (s.done) return s.value;
  }
}

/** How long the export may hold the event loop before it gives other work a turn. */
const SLICE_MS = 20;

/**
 * Exports in slices of about SLICE_MS, so the engine keeps serving requests and the live capture
 * while a long export runs; `signal` cancels it (the partial file is removed).
 */
export async function exportCaptureAsync(capture: Capture, opts: ExportOptions & { signal?: AbortSignal }): Promise<ExportResult> {
  const steps = exportSteps(capture, opts, () => (opts.signal?.aborted ? 'was cancelled' : null));
  let sliceStart = performance.now();
  for (;;) {
    const s = steps.next();
    if (s.done) return s.value;
    if (performance.now() - sliceStart >= SLICE_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
}
