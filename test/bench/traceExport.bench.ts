/**
 * Trace exports over 1,000,000 records of a running device (request/response pairs, EVENT_AVAIL /
 * EVENT_USED, doorbells, vq-index updates): Perfetto, JSONL and CSV export rates and sizes (the
 * output is counted, not kept), then a JSONL import of the exported file, and the engine's sliced
 * CSV export to a real file: its total time and the longest the event loop waited meanwhile (what
 * a UI request or the live capture would wait during an export).
 * Run with the others: npm run bench.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { exportCaptureAsync } from '../../main/host/trace/export';
import { encode, type MessageInit } from '../../src/protocol/index';
import { BlockBuilder, blockCount, type RecordBlock } from '../../src/trace/block';
import { CsvWriter } from '../../src/trace/csv';
import { exportRecords, type TraceWriter } from '../../src/trace/exportWriter';
import { importJsonl, JsonlWriter } from '../../src/trace/jsonl';
import { memorySource } from '../../src/trace/source';
import { CAPTURE_FORMAT, type CaptureMeta } from '../../src/trace/meta';
import { PerfettoWriter } from '../../src/trace/perfetto';
import { encodeVqIndex, RECORD_FLAGS, type TraceRecord } from '../../src/trace/record';

const RECORDS = 1_000_000;

const META: CaptureMeta = {
  format: CAPTURE_FORMAT,
  app: 'amp-workbench bench',
  board: 'sim-qemu-amp-pci',
  boardDescription: 'benchmark capture',
  revision: 'r4',
  queueFormat: 'vmamp',
  link: 'none',
  startWallNs: 1_767_225_600_000_000_000n,
  startMonoNs: 1_000_000_000n,
  notes: [],
};

type Step = Omit<TraceRecord, 'seq' | 'monoNs' | 'wallNs' | 'pairSeq' | 'latencyNs'> & { answers?: number };

function message(dir: 'driver-to-device' | 'device-to-driver', init: MessageInit, answers?: number): Step {
  const flags = init.kind === 'request' ? RECORD_FLAGS.request : init.kind === 'response' ? RECORD_FLAGS.response : RECORD_FLAGS.event;
  const data = encode('r4', init);
  const step: Step = { kind: 'message', dir, rev: 'r4', channel: dir === 'driver-to-device' ? 0 : 1, devNum: init.devNum ?? 0, msgType: data[0]!, msgId: data[1]!, token: init.token ?? 0, problems: 0, flags, data };
  return answers === undefined ? step : { ...step, answers };
}

const NONE = { dir: null, rev: null, channel: 0, devNum: null, msgType: 0, msgId: 0, token: 0, problems: 0, flags: 0 } as const;

/** One cycle of a running i2c device; `answers` is the cycle offset of the request a response answers. */
const CYCLE: Step[] = [
  message('driver-to-device', { name: 'GET_CONFIG', kind: 'request', devNum: 1, token: 1, fields: { offset: 0, length: 4 } }),
  { ...NONE, kind: 'doorbell', dir: 'driver-to-device', data: new Uint8Array(0) },
  message('driver-to-device', { name: 'EVENT_AVAIL', kind: 'event', devNum: 1, fields: { vq_index: 0, next_offset: 0x8000_0001 } }),
  { ...NONE, kind: 'vq-index', devNum: 1, data: encodeVqIndex({ availIdx: 1, usedIdx: 0, lastSeenUsed: 0, inFlight: 1 }) },
  message('driver-to-device', { name: 'SET_DEVICE_STATUS', kind: 'request', devNum: 1, token: 2, fields: { status: 0x0f } }),
  message('device-to-driver', { name: 'GET_CONFIG', kind: 'response', devNum: 1, token: 1, fields: { generation: 1, offset: 0, length: 4, data: Uint8Array.of(1, 2, 3, 4) } }, 0),
  message('device-to-driver', { name: 'EVENT_USED', kind: 'event', devNum: 1, fields: { vq_index: 0 } }),
  { ...NONE, kind: 'doorbell', dir: 'device-to-driver', data: new Uint8Array(0) },
  message('device-to-driver', { name: 'SET_DEVICE_STATUS', kind: 'response', devNum: 1, token: 2, fields: { status: 0x0f } }, 4),
  { ...NONE, kind: 'vq-index', devNum: 1, data: encodeVqIndex({ availIdx: 1, usedIdx: 1, lastSeenUsed: 1, inFlight: 0 }) },
];

function capture(n: number): RecordBlock[] {
  const b = new BlockBuilder();
  const STEP_NS = 1_000n;
  for (let seq = 0; seq < n; seq++) {
    const k = seq % CYCLE.length;
    const { answers, ...step } = CYCLE[k]!;
    const monoNs = META.startMonoNs + BigInt(seq) * STEP_NS;
    const pairSeq = answers === undefined ? null : seq - k + answers;
    const latencyNs = pairSeq === null ? 0n : BigInt(seq - pairSeq) * STEP_NS;
    b.appendRecord({ ...step, seq, monoNs, wallNs: META.startWallNs + (monoNs - META.startMonoNs), pairSeq, latencyNs });
  }
  return b.blocks();
}

function timeExport(make: (emit: (c: Uint8Array) => void) => TraceWriter, blocks: RecordBlock[], keep: Uint8Array[] | null): { perSecond: number; ms: number; mb: number } {
  let bytes = 0;
  const t0 = performance.now();
  const n = exportRecords(
    make((c) => {
      bytes += c.length;
      keep?.push(c);
    }),
    META,
    blocks,
  );
  const ms = performance.now() - t0;
  return { perSecond: Math.round((n / ms) * 1000), ms: Math.round(ms), mb: Math.round(bytes / 1e5) / 10 };
}

export async function run(): Promise<Record<string, number | string>> {
  const blocks = capture(RECORDS);
  // Warm-up on a slice so the first format measured is not charged for compilation.
  const warm = capture(20_000);
  for (const make of [(e: (c: Uint8Array) => void) => new PerfettoWriter(e), (e: (c: Uint8Array) => void) => new JsonlWriter(e), (e: (c: Uint8Array) => void) => new CsvWriter(e)]) timeExport(make, warm, null);

  const perfetto = timeExport((e) => new PerfettoWriter(e), blocks, null);
  const jsonlChunks: Uint8Array[] = [];
  const jsonl = timeExport((e) => new JsonlWriter(e), blocks, jsonlChunks);
  const csv = timeExport((e) => new CsvWriter(e), blocks, null);

  const file = new Uint8Array(jsonlChunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of jsonlChunks) {
    file.set(c, o);
    o += c.length;
  }
  jsonlChunks.length = 0;
  const t0 = performance.now();
  const back = importJsonl(file);
  const importMs = performance.now() - t0;
  if (!back.ok || back.value.notes.length > 0 || blockCount(back.value.blocks) !== RECORDS) throw new Error(`JSONL import lost records: ${back.ok ? back.value.notes.join('; ') : back.error}`);

  // The engine's export: sliced, to a file, while a 1 ms timer measures how long the loop is held.
  const dir = mkdtempSync(join(tmpdir(), 'amp-bench-export-'));
  let longestStallMs = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    longestStallMs = Math.max(longestStallMs, now - last);
    last = now;
  }, 1);
  const s0 = performance.now();
  const sliced = await exportCaptureAsync(memorySource('bench', META, [], blocks), { format: 'csv', out: join(dir, 'out.csv') });
  const slicedMs = performance.now() - s0;
  clearInterval(ticker);
  rmSync(dir, { recursive: true, force: true });
  if (!sliced.ok || sliced.value.written !== RECORDS) throw new Error(`sliced export: ${sliced.ok ? `${sliced.value.written} records` : sliced.error}`);

  return {
    records: RECORDS,
    mix: `${CYCLE.length}-record cycle: 2 request/response pairs, EVENT_AVAIL, EVENT_USED, 2 doorbells, 2 vq-index (r4)`,
    perfettoPerSecond: perfetto.perSecond,
    perfettoMs: perfetto.ms,
    perfettoMB: perfetto.mb,
    jsonlPerSecond: jsonl.perSecond,
    jsonlMs: jsonl.ms,
    jsonlMB: jsonl.mb,
    csvPerSecond: csv.perSecond,
    csvMs: csv.ms,
    csvMB: csv.mb,
    jsonlImportPerSecond: Math.round((RECORDS / importMs) * 1000),
    jsonlImportMs: Math.round(importMs),
    engineCsvToFileMs: Math.round(slicedMs),
    engineExportLongestLoopWaitMs: Math.round(longestStallMs * 10) / 10,
  };
}
