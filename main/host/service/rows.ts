/**
 * Trace records as the Workbench API shows them: a table row (trace.rows) and a detail with the
 * decoded field tree whose offsets let the hex pane highlight each field (trace.record).
 */
import type { BufferContent, RecordDetail, TraceRow } from '../../../src/api/workbench';
import { HEADERS, lookupMessage, msgToJson, type FieldDef, type ProblemCode } from '../../../src/protocol/index';
import { toHex } from '../../../src/util/hex';
import { describeRecord } from '../../../src/trace/describe';
import { decodeBuffer, decodeVqIndex, NO_DEV, problemCodes, RECORD_FLAGS, timeBase, type RecordView } from '../../../src/trace/record';

const FLAG_NAMES = Object.entries(RECORD_FLAGS);
const utf8 = new TextDecoder();

/** Problems recorded with the record (endpoint, recorder) and found in its bytes now, once each. */
function problemList(view: RecordView, found: readonly { code: ProblemCode }[]): ProblemCode[] {
  const codes = new Set(problemCodes(view.problems));
  for (const p of found) codes.add(p.code);
  return [...codes];
}

function row(view: RecordView, index: number, base: bigint, d: ReturnType<typeof describeRecord>): TraceRow {
  const pair = view.pairSeq;
  const response = (view.flags & RECORD_FLAGS.response) !== 0;
  return {
    index,
    seq: view.seq,
    timeNs: view.relNs(timeBase(base)),
    kind: view.kind,
    dir: view.dir,
    dev: view.devNum === NO_DEV ? null : view.devNum,
    channel: view.channel,
    name: d.name,
    token: view.token,
    size: view.dataLength,
    // Name, dev and token have columns of their own.
    summary: d.detail,
    latencyNs: response && pair >= 0 ? view.latencyNs : null,
    pairSeq: pair >= 0 ? pair : null,
    problems: problemList(view, d.problems),
  };
}

export function toRow(view: RecordView, index: number, base: bigint): TraceRow {
  return row(view, index, base, describeRecord(view));
}

/** Little-endian unsigned value of a header field (at most 4 bytes). */
function readLe(bytes: Uint8Array, offset: number, size: number): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + (bytes[offset + i] ?? 0);
  return v;
}

/** Bytes a field covers in this message: its fixed size, or a variable tail up to msg_size. */
function extent(def: FieldDef, end: number): number {
  return Math.max(0, def.size > 0 ? Math.min(def.size, end - def.offset) : end - def.offset);
}

export function toDetail(view: RecordView, index: number, base: bigint): RecordDetail {
  const d = describeRecord(view);
  const data = view.data();
  const fields: RecordDetail['fields'] = [];
  const msg = d.msg;
  if (msg) {
    const end = Math.min(data.length, msg.msgSize || data.length);
    for (const def of HEADERS[msg.revision].fields) {
      fields.push({ name: def.name, offset: def.offset, size: extent(def, end), value: readLe(data, def.offset, Math.min(def.size, 4)), part: 'header' });
    }
    const values = msgToJson(msg).fields;
    const layout = lookupMessage(msg.revision, msg.bus, msg.msgId).layouts[msg.kind];
    for (const def of layout?.fields ?? []) {
      const value = values[def.name];
      if (value !== undefined) fields.push({ name: def.name, offset: def.offset, size: extent(def, end), value, part: 'payload' });
    }
  }
  const text = view.kind === 'marker' || view.kind === 'queue-state' ? utf8.decode(data) : null;
  return {
    row: row(view, index, base, d),
    fields,
    problems: d.problems.map((p) => ({ offset: p.offset, code: p.code, reason: p.reason })),
    data: toHex(data, ''),
    text,
    vqIndex: view.kind === 'vq-index' ? decodeVqIndex(data) : null,
    buffer: view.kind === 'buffer' ? bufferContent(view) : null,
    flags: FLAG_NAMES.filter(([, bit]) => (view.flags & bit) !== 0).map(([name]) => name),
  };
}

/** A buffer record's content as the API carries it; null when its data is damaged. */
export function bufferContent(view: RecordView): BufferContent | null {
  const b = decodeBuffer(view.data());
  return b && { toDevice: view.dir === 'driver-to-device', head: b.head, length: b.length, bytes: toHex(b.bytes, '') };
}
