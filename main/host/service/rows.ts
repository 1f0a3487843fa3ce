/**
 * Trace records as the Workbench API shows them: a table row (trace.rows) and a detail with the
 * decoded field tree whose offsets let the hex pane highlight each field (trace.record).
 */
import type { BufferContent, RecordDetail, TraceRow } from '../../../src/api/workbench';
import { featureName } from '../../../src/devices/registry';
import { decodedLayout, HEADERS, lookupMessage, msgToJson, type FieldDef, type ProblemCode } from '../../../src/protocol/index';
import { deviceDisplayName, statusNames } from '../../../src/protocol/names';
import { toHex } from '../../../src/util/hex';
import { absentProblems, uncheckedNote, type AbsentField } from '../../../src/trace/conformance';
import { describeRecord, ENDPOINT_PROBLEMS } from '../../../src/trace/describe';
import type { CaptureMeta } from '../../../src/trace/meta';
import { decodeBuffer, decodeVqIndex, NO_DEV, problemCodes, RECORD_FLAGS, timeBase, type RecordView } from '../../../src/trace/record';

const FLAG_NAMES = Object.entries(RECORD_FLAGS);
const utf8 = new TextDecoder();

/**
 * Problems recorded with the record (endpoint, recorder) and found in its bytes now, once each;
 * none about a field the capture does not hold (describeRecord drops those it finds).
 */
function problemList(view: RecordView, found: readonly { code: ProblemCode }[], absent: readonly AbsentField[]): ProblemCode[] {
  const unheld = absentProblems(absent);
  const codes = new Set(problemCodes(view.problems).filter((c) => !unheld.includes(c)));
  for (const p of found) codes.add(p.code);
  return [...codes];
}

function row(view: RecordView, index: number, base: bigint, d: ReturnType<typeof describeRecord>, absent: readonly AbsentField[]): TraceRow {
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
    problems: problemList(view, d.problems, absent),
  };
}

/** `absent`: the fields the capture's source never held (CaptureMeta.absent). */
export function toRow(view: RecordView, index: number, base: bigint, absent: readonly AbsentField[] = []): TraceRow {
  return row(view, index, base, describeRecord(view, absent), absent);
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

type Msg = NonNullable<ReturnType<typeof describeRecord>['msg']>;
type Value = RecordDetail['fields'][number]['value'];

/** Four little-endian bytes as letters when they are all printable (vendor ids such as "QEMU" are). */
function ascii(v: number): string | undefined {
  const bytes = [0, 8, 16, 24].map((shift) => (v >>> shift) & 0xff);
  return bytes.every((b) => b >= 0x20 && b < 0x7f) ? `"${String.fromCharCode(...bytes)}"` : undefined;
}

/**
 * What a field's value means where the protocol names it (docs/protocol.md Appendices A–C): the
 * header's type and id, device status bits, feature bits, a device type, a vendor id's letters.
 * Feature bits of a device-specific range stay BIT_n: a message does not say its device's type.
 */
function meaningOf(def: FieldDef, value: Value, msg: Msg, fields: Readonly<Record<string, unknown>>): string | undefined {
  const name = def.name;
  if (typeof value === 'string') return undefined;
  if (Array.isArray(value)) {
    if (name !== 'features') return undefined;
    const first = Number(fields['block_index'] ?? fields['index'] ?? 0) * 32;
    const names = value.flatMap((word, w) => Array.from({ length: 32 }, (_, b) => b).filter((b) => ((word >>> b) & 1) === 1).map((b) => featureName(first + w * 32 + b)));
    return names.length > 0 ? names.join(', ') : 'none';
  }
  if (def.deviceStatus) return statusNames(value).join(' | ') || '0 (reset)';
  switch (name) {
    case 'type':
      return msg.bus ? `${msg.kind}, bus message` : msg.kind;
    case 'msg_id':
    case 'id':
      return msg.name;
    case 'device_id':
      return deviceDisplayName(value);
    case 'vendor_id':
      return ascii(value);
    default:
      return undefined;
  }
}

export function toDetail(view: RecordView, index: number, meta: Pick<CaptureMeta, 'startMonoNs' | 'startWallNs' | 'absent'>): RecordDetail {
  const base = meta.startMonoNs;
  const absent = meta.absent ?? [];
  const d = describeRecord(view, absent);
  const data = view.data();
  const fields: RecordDetail['fields'] = [];
  const msg = d.msg;
  if (msg) {
    const end = Math.min(data.length, msg.msgSize || data.length);
    const values = msgToJson(msg).fields;
    const field = (def: FieldDef, value: Value, part: 'header' | 'payload'): RecordDetail['fields'][number] => {
      const meaning = meaningOf(def, value, msg, values);
      return { name: def.name, offset: def.offset, size: extent(def, end), value, part, ...(meaning === undefined ? {} : { meaning }) };
    };
    for (const def of HEADERS[msg.revision].fields) fields.push(field(def, readLe(data, def.offset, Math.min(def.size, 4)), 'header'));
    const layout = decodedLayout(lookupMessage(msg.revision, msg.bus, msg.msgId), msg.kind, msg.msgSize);
    for (const def of layout?.fields ?? []) {
      const value = values[def.name];
      if (value !== undefined) fields.push(field(def, value, 'payload'));
    }
  }
  const text = view.kind === 'marker' || view.kind === 'queue-state' || view.kind === 'finding' ? utf8.decode(data) : null;
  return {
    row: row(view, index, base, d, absent),
    fields,
    problems: d.problems.map((p) => ({ offset: p.code in ENDPOINT_PROBLEMS ? null : p.offset, code: p.code, reason: p.reason })),
    data: toHex(data, ''),
    text,
    vqIndex: view.kind === 'vq-index' ? decodeVqIndex(data) : null,
    buffer: view.kind === 'buffer' ? bufferContent(view) : null,
    flags: FLAG_NAMES.filter(([, bit]) => (view.flags & bit) !== 0).map(([name]) => name),
    revision: view.rev,
    unheld: view.kind === 'message' ? uncheckedNote(absent, 'the log this capture was imported from') : null,
    wallNs: (meta.startWallNs + BigInt(view.relNs(timeBase(base)))).toString(),
  };
}

/** A buffer record's content as the API carries it; null when its data is damaged. */
export function bufferContent(view: RecordView): BufferContent | null {
  const b = decodeBuffer(view.data());
  return b && { toDevice: view.dir === 'driver-to-device', head: b.head, length: b.length, bytes: toHex(b.bytes, '') };
}
