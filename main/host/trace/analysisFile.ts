/**
 * The analysis saved with a capture (docs/formats.md §7): the statistics, the Expert report, the
 * transaction index and the Timeline's event index of a capture the workbench wrote, computed while it was recorded and written
 * into its folder when the recording closed, so opening a 20 M-record capture fills the
 * Statistics, Expert and Transactions views without reading it through. It holds the capture's
 * fingerprint (record count, last chunk's place and CRC): a capture changed since, or a damaged
 * file, is a failure value and the caller analyses the capture again. Little-endian:
 *
 * ```
 *  +0 u32 magic          "AMPA"
 *  +4 u32 version        ANALYSIS_FILE_VERSION
 *  +8 u32 JSON bytes     (SavedJson, UTF-8), then zero padding to a multiple of 8
 * +12 u32 crc32c of every byte after this 16-byte header
 * +16 JSON, ends (u32 × requests, padded to 8), operation columns (f64 × operations each,
 *     OPERATION_COLUMNS order), then per event lane (src/trace/events.ts) its times, then its seqs (f64 × events)
 * ```
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { DeviceJson } from '../../../src/api/workbench';
import type { EventLaneSnapshot } from '../../../src/trace/events';
import type { ExpertReport } from '../../../src/trace/expert';
import type { CaptureFingerprint } from '../../../src/trace/source';
import type { TraceStats } from '../../../src/trace/stats';
import { OPERATION_COLUMNS, type QueueLatency, type TransactionSnapshot } from '../../../src/trace/transactions';
import { crc32c } from '../../../src/util/crc32c';
import { fail, ok, type Result } from '../../../src/util/result';
import { fileErrorText } from '../failure';

export const ANALYSIS_FILE = 'analysis.ampa';
/** 2: the observed devices joined the JSON part; a version 1 file is analysed again. */
export const ANALYSIS_FILE_VERSION = 2;
const MAGIC = 0x41504d41; // "AMPA" read little-endian
const HEADER = 16;

/** What a finished analysis pass over a capture leaves (TraceStore.savedAnalysis). */
export interface SavedAnalysis {
  fingerprint: CaptureFingerprint;
  stats: TraceStats;
  expert: ExpertReport;
  transactions: TransactionSnapshot;
  events: EventLaneSnapshot[];
  /** The devices as the capture's messages left them (Devices and Queues views of the opened capture). */
  devices: DeviceJson[];
}

interface SavedJson {
  fingerprint: CaptureFingerprint;
  stats: TraceStats;
  expert: ExpertReport;
  queueLatency: QueueLatency[];
  requests: number;
  operations: number;
  /** Events per lane. */
  events: number[];
  devices: DeviceJson[];
}

const pad8 = (n: number): number => (n + 7) & ~7;

export function encodeAnalysis(a: SavedAnalysis): Uint8Array<ArrayBuffer> {
  const t = a.transactions;
  const operations = t.columns[0]?.length ?? 0;
  const events = a.events.map((l) => l.times.length);
  const json: SavedJson = { fingerprint: a.fingerprint, stats: a.stats, expert: a.expert, queueLatency: t.queueLatency, requests: t.ends.length, operations, events, devices: a.devices };
  const text = new TextEncoder().encode(JSON.stringify(json));
  const endsAt = HEADER + pad8(text.length);
  const columnsAt = endsAt + pad8(t.ends.length * 4);
  const eventsAt = columnsAt + OPERATION_COLUMNS.length * operations * 8;
  const out = new Uint8Array(eventsAt + events.reduce((n, e) => n + e * 16, 0));
  out.set(text, HEADER);
  const put = (x: Uint32Array | Float64Array, at: number): void => out.set(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), at);
  put(t.ends, endsAt);
  t.columns.forEach((c, i) => put(c, columnsAt + i * operations * 8));
  let at = eventsAt;
  for (const l of a.events) {
    put(l.times, at);
    put(l.seqs, at + l.times.byteLength);
    at += 2 * l.times.byteLength;
  }
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, ANALYSIS_FILE_VERSION, true);
  dv.setUint32(8, text.length, true);
  dv.setUint32(12, crc32c(out.subarray(HEADER)), true);
  return out;
}

/** The analysis in `bytes`, or what is wrong with it (damage, another version). */
export function decodeAnalysis(bytes: Uint8Array): Result<SavedAnalysis> {
  if (bytes.length < HEADER) return fail(`a header of ${HEADER} bytes expected, ${bytes.length} present`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = dv.getUint32(0, true);
  if (magic !== MAGIC) return fail(`magic "AMPA" expected, saw 0x${magic.toString(16).padStart(8, '0')}`);
  const version = dv.getUint32(4, true);
  if (version !== ANALYSIS_FILE_VERSION) return fail(`version ${ANALYSIS_FILE_VERSION} expected, saw ${version}`);
  const crc = crc32c(bytes.subarray(HEADER));
  if (crc !== dv.getUint32(12, true)) return fail(`CRC-32C 0x${dv.getUint32(12, true).toString(16)} stored, 0x${crc.toString(16)} computed (the file is damaged)`);
  const textBytes = dv.getUint32(8, true);
  let json: SavedJson;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes.subarray(HEADER, HEADER + textBytes))) as SavedJson;
  } catch {
    return fail('its JSON part does not parse');
  }
  const endsAt = HEADER + pad8(textBytes);
  const columnsAt = endsAt + pad8(json.requests * 4);
  const eventsAt = columnsAt + OPERATION_COLUMNS.length * json.operations * 8;
  const size = eventsAt + json.events.reduce((n, e) => n + e * 16, 0);
  if (bytes.length !== size) return fail(`${size} bytes expected for ${json.requests} requests, ${json.operations} operations and ${json.events.join('/')} events, ${bytes.length} present`);
  // Copies into aligned memory: the file's bytes need not sit at a multiple of 8.
  const take = <A extends Uint32Array<ArrayBuffer> | Float64Array<ArrayBuffer>>(x: A, at: number): A => {
    new Uint8Array(x.buffer).set(bytes.subarray(at, at + x.byteLength));
    return x;
  };
  const ends = take(new Uint32Array(json.requests), endsAt);
  const columns = OPERATION_COLUMNS.map((_, i) => take(new Float64Array(json.operations), columnsAt + i * json.operations * 8));
  let at = eventsAt;
  const events = json.events.map((n) => {
    const lane = { times: take(new Float64Array(n), at), seqs: take(new Float64Array(n), at + n * 8) };
    at += n * 16;
    return lane;
  });
  return ok({ fingerprint: json.fingerprint, stats: json.stats, expert: json.expert, transactions: { ends, columns, queueLatency: json.queueLatency }, events, devices: json.devices });
}

/** Writes the analysis into capture folder `dir` (replacing a previous one whole, never half-written). */
export function writeAnalysisFile(dir: string, a: SavedAnalysis): Result<void> {
  const path = join(dir, ANALYSIS_FILE);
  try {
    writeFileSync(path + '.tmp', encodeAnalysis(a));
    renameSync(path + '.tmp', path);
    return ok(undefined);
  } catch (e) {
    return fail(`cannot save the analysis in ${path}: ${fileErrorText(e, path, 'write')}`);
  }
}

/**
 * The analysis saved in capture folder `dir` if it was made from the content `fingerprint`
 * identifies; null when the folder has none; a failure saying why it cannot be used.
 */
export function readAnalysisFile(dir: string, fingerprint: CaptureFingerprint | null): Result<SavedAnalysis> | null {
  const path = join(dir, ANALYSIS_FILE);
  if (!existsSync(path)) return null;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    return fail(`${ANALYSIS_FILE}: ${fileErrorText(e, path, 'read')}`);
  }
  const a = decodeAnalysis(bytes);
  if (!a.ok) return fail(`${ANALYSIS_FILE}: ${a.error}`);
  const saved = a.value.fingerprint;
  if (fingerprint === null || JSON.stringify(saved) !== JSON.stringify(fingerprint)) {
    const seen = fingerprint === null ? 'a capture with no chunk' : describe(fingerprint);
    return fail(`${ANALYSIS_FILE} was made from ${describe(saved)}, the capture now has ${seen}`);
  }
  return a;
}

function describe(f: CaptureFingerprint): string {
  return `${f.records} records ending with the chunk at byte ${f.chunk.offset} of ${f.chunk.file} (CRC 0x${f.chunk.crc.toString(16)})`;
}
