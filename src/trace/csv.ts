/**
 * CSV export (RFC 4180: CRLF line ends, fields with a comma, quote, CR or LF quoted, quotes
 * doubled). One header row, then one row per record, columns in this fixed order:
 *
 * | column     | content                                                                    |
 * |------------|----------------------------------------------------------------------------|
 * | seq        | record number in the capture                                               |
 * | time_ns    | ns since the capture start (monoNs − meta.startMonoNs)                      |
 * | mono_ns    | the recorder's monotonic clock, ns                                          |
 * | wall_iso   | wall clock, ISO-8601 UTC with ns: 2026-01-01T00:00:00.000012345Z            |
 * | dir        | driver-to-device, device-to-driver, or empty                               |
 * | dev        | dev_num, or empty                                                          |
 * | kind       | message, doorbell, queue-state, vq-index, marker, finding, buffer          |
 * | msg        | message name (GET_VQUEUE), MALFORMED, UNKNOWN, DOORBELL, VQ_INDEX, BUFFER…  |
 * | msg_id     | msg_id as 0x.. (messages with a header), else empty                        |
 * | token      | token as 0x.... (messages with a header), else empty                       |
 * | size       | data bytes                                                                 |
 * | pair_seq   | a response's request, a no-response marker's request, a finding's record   |
 * | latency_ns | a paired response's latency, else empty                                    |
 * | problems   | problem codes, ";"-separated                                               |
 * | summary    | the one-line description (describeRecord); a finding's severity, rule, text |
 * | data_hex   | the raw bytes as hex                                                       |
 *
 * CSV is export-only: JSONL is the lossless text format.
 */
import { hexNum, toHex } from '../util/hex';
import type { AbsentField } from './conformance';
import { describeRecord } from './describe';
import { DEFAULT_CHUNK_CHARS, TextChunker, type ExportByteSink, type TraceWriter } from './exportWriter';
import type { CaptureMeta } from './meta';
import { NO_DEV, RECORD_FLAGS, type RecordView } from './record';

export const CSV_COLUMNS = [
  'seq',
  'time_ns',
  'mono_ns',
  'wall_iso',
  'dir',
  'dev',
  'kind',
  'msg',
  'msg_id',
  'token',
  'size',
  'pair_seq',
  'latency_ns',
  'problems',
  'summary',
  'data_hex',
] as const;

const NEEDS_QUOTES = /[",\r\n]/;

/** One field, quoted when RFC 4180 requires it. */
export function csvField(s: string): string {
  return NEEDS_QUOTES.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** The last second formatted: records come in bursts within one second, and toISOString is the slow part. */
let cachedSec = -1n;
let cachedPrefix = '';

/** ns since 1970 as ISO-8601 UTC with all nine fraction digits. */
export function isoNs(wallNs: bigint): string {
  const sec = wallNs / 1_000_000_000n;
  const frac = (wallNs % 1_000_000_000n).toString().padStart(9, '0');
  if (sec !== cachedSec) {
    cachedSec = sec;
    // "2026-01-01T00:00:00": always 19 characters, since u64 ns end in the year 2554.
    cachedPrefix = new Date(Number(sec) * 1000).toISOString().slice(0, 19);
  }
  return `${cachedPrefix}.${frac}Z`;
}

export class CsvWriter implements TraceWriter {
  /** Fields the capture never held: no problem about them is written (docs/formats.md §5). */
  private absent: readonly AbsentField[] = [];
  private readonly out: TextChunker;
  private start = 0n;

  constructor(emit: ExportByteSink, options: { chunkChars?: number } = {}) {
    this.out = new TextChunker(emit, options.chunkChars ?? DEFAULT_CHUNK_CHARS);
  }

  begin(meta: CaptureMeta): void {
    this.absent = meta.absent ?? [];
    this.start = meta.startMonoNs;
    this.out.push(CSV_COLUMNS.join(',') + '\r\n');
  }

  write(v: RecordView): void {
    const d = describeRecord(v, this.absent);
    const mono = v.monoNs;
    const header = v.kind === 'message' && v.rev !== null && (v.flags & RECORD_FLAGS.noHeader) === 0;
    const pair = v.pairSeq;
    const paired = pair >= 0 && v.kind === 'message';
    const codes = [...new Set(d.problems.map((p) => p.code))];
    const row = [
      String(v.seq),
      (mono - this.start).toString(),
      mono.toString(),
      isoNs(v.wallNs),
      v.dir ?? '',
      v.devNum === NO_DEV ? '' : String(v.devNum),
      v.kind,
      csvField(d.name),
      header ? hexNum(v.msgId, 2) : '',
      header ? hexNum(v.token, 4) : '',
      String(v.dataLength),
      pair >= 0 ? String(pair) : '',
      paired ? String(v.latencyNs) : '',
      codes.join(';'),
      csvField(d.summary),
      toHex(v.data(), ''),
    ];
    this.out.push(row.join(',') + '\r\n');
  }

  end(): void {
    this.out.flush();
  }
}
