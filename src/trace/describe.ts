/**
 * One line per record for tables, CSV, pcapng info columns and Perfetto slice names, plus the
 * record's full problem list: what the codec finds in the bytes now, and what the bus endpoint
 * or recorder flagged when it happened (no-response, unmatched-response, token-mismatch, duplicate,
 * late, wrong-dev-num, wrong-msg-id, wrong-token, malformed-response).
 */
import { decode, decodedLayout, flagNames, lookupMessage, statusNames, type FieldDef } from '../protocol/index';
import type { FieldValue, Problem, VirtioMsg } from '../protocol/types';
import { hexNum, toHex } from '../util/hex';
import { absentProblems, findingOf, type AbsentField } from './conformance';
import { decodeBuffer, decodeVqIndex, MARKER_KINDS, NO_DEV, problemCodes, type RecordView, type TraceRecord } from './record';

export interface RecordDescription {
  /** Message name (GET_VQUEUE), or DOORBELL, VQ_INDEX, QUEUE_STATE, FINDING, or the marker kind upper-cased. */
  name: string;
  /** The name with its most telling fields, e.g. "GET_VQUEUE dev 1 token 0x0003 index=0". */
  summary: string;
  /**
   * The summary without its leading name, dev and token, for tables that show those in columns of
   * their own: a message's fields ("index=0"), the text after a doorbell's, marker's, vq-index's or
   * queue state's name, why a record is MALFORMED or UNKNOWN.
   */
  detail: string;
  problems: Problem[];
  /** The decoded message, for message records whose header could be read. */
  msg: VirtioMsg | null;
}

export const ENDPOINT_PROBLEMS: Readonly<Record<string, string>> = {
  'unmatched-response': 'response answers no outstanding request',
  'no-response': 'request was not answered before its timeout',
  'token-mismatch': 'response token differs from the request; matched by (dev_num, msg_id)',
  duplicate: 'response repeats the answer to a request already answered; ignored',
  late: 'response to a request that had timed out; ignored',
  'wrong-dev-num': "response carries its request's token but another dev_num; the request failed",
  'malformed-response': 'response to a request is malformed; the request failed',
  'wrong-msg-id': "response carries its request's token and dev_num but another msg_id; the request failed",
  'wrong-token': 'response to the request by dev_num and msg_id carries another token; the request failed',
};

/** Fields a message's summary shows (the dissector's too). */
export const MAX_SUMMARY_FIELDS = 4;

/** Words of a u32[] field (feature blocks) the summary shows; more are elided. */
export const MAX_SUMMARY_WORDS = 4;

/** A field's value in the summary; the dissector's decode_fields/decode_run write the same text. */
function fieldText(v: FieldValue, def: FieldDef | undefined): string {
  if (typeof v === 'bigint') return '0x' + v.toString(16);
  if (v instanceof Uint8Array) return v.length <= 8 ? toHex(v).replaceAll(' ', '') : `${v.length} bytes`;
  if (Array.isArray(v)) return `[${v.slice(0, MAX_SUMMARY_WORDS).map((w) => hexNum(w, 8)).join(',')}${v.length > MAX_SUMMARY_WORDS ? ',…' : ''}]`;
  if (def?.deviceStatus) return `${hexNum(v, 2)}(${statusNames(v).join('|') || 'reset'})`;
  return v > 0xffff ? '0x' + v.toString(16) : String(v);
}

function text(data: Uint8Array): string {
  return new TextDecoder().decode(data);
}

type Source = Pick<RecordView, 'kind' | 'dir' | 'rev' | 'devNum' | 'channel' | 'problems' | 'msgId' | 'msgType' | 'seq' | 'pairSeq'> & { data(): Uint8Array };

function asSource(r: RecordView | TraceRecord): Source {
  if ('toRecord' in r) return r;
  return { ...r, devNum: r.devNum ?? NO_DEV, pairSeq: r.pairSeq ?? -1, data: () => r.data };
}

/** The first bytes of a buffer as hex and, where printable, as text: `48656c6c6f "Hello"`. */
function bufferPreview(bytes: Uint8Array): string {
  const first = bytes.subarray(0, 16);
  const ascii = Array.from(first, (c) => (c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.')).join('');
  return `${toHex(first).replaceAll(' ', '')}${bytes.length > 16 ? '…' : ''} "${ascii}${bytes.length > 16 ? '…' : ''}"`;
}

/** `head` and `detail` as one line; a record with no detail is its head alone. */
function line(head: string, detail: string): string {
  return detail === '' ? head : `${head} ${detail}`;
}

/**
 * `absent`: the fields the capture's source never held (CaptureMeta.absent); the problems their
 * stand-in bytes raise are conformance's to drop (absentProblems), so none of them is listed.
 */
export function describeRecord(record: RecordView | TraceRecord, absent: readonly AbsentField[] = []): RecordDescription {
  const r = asSource(record);
  const data = r.data();
  const dev = r.devNum === NO_DEV ? '' : ` dev ${r.devNum}`;
  switch (r.kind) {
    case 'doorbell': {
      const who = r.dir === 'driver-to-device' ? 'driver rang device' : r.dir === 'device-to-driver' ? 'device rang driver' : 'doorbell';
      return { name: 'DOORBELL', summary: line('DOORBELL', who), detail: who, problems: [], msg: null };
    }
    case 'vq-index': {
      const v = decodeVqIndex(data);
      const detail = `q${r.channel}${v ? ` avail.idx ${v.availIdx} used.idx ${v.usedIdx} last seen ${v.lastSeenUsed} in flight ${v.inFlight}` : ' (damaged)'}`;
      return { name: 'VQ_INDEX', summary: line(`VQ_INDEX${dev}`, detail), detail, problems: [], msg: null };
    }
    case 'buffer': {
      const b = decodeBuffer(data);
      const what = r.dir === 'driver-to-device' ? 'published' : 'used';
      const kept = b === null ? '' : b.bytes.length < b.length ? ` (first ${b.bytes.length} kept)` : '';
      const head = b === null ? `q${r.channel} (damaged)` : `q${r.channel} head ${b.head} ${what}: ${b.length} bytes${kept}`;
      // The summary is the dissector's (src/trace/dissector.ts); the detail adds the first bytes.
      const detail = b === null || b.bytes.length === 0 ? head : `${head} ${bufferPreview(b.bytes)}`;
      return { name: 'BUFFER', summary: line(`BUFFER${dev}`, head), detail, problems: [], msg: null };
    }
    case 'queue-state': {
      const detail = text(data);
      return { name: 'QUEUE_STATE', summary: `QUEUE_STATE ${detail}`, detail, problems: [], msg: null };
    }
    case 'marker': {
      const name = (MARKER_KINDS[r.msgId] ?? 'marker').toUpperCase().replaceAll('-', '_');
      const detail = text(data).trimEnd();
      return { name, summary: line(`${name}${dev}`, detail), detail, problems: [], msg: null };
    }
    case 'finding': {
      const f = findingOf(r);
      // "error R4-token-echo (record 12): …"; a rule this build does not know keeps its codes.
      const detail = f ? `${f.severity} ${f.rule} (record ${f.seq}): ${f.message}` : `rule ${r.msgId} severity ${r.msgType} (record ${r.pairSeq}): ${text(data)}`;
      return { name: 'FINDING', summary: line(`FINDING${dev}`, detail), detail, problems: [], msg: null };
    }
    case 'message':
      break;
  }
  const flagged = problemCodes(r.problems)
    .filter((c) => c in ENDPOINT_PROBLEMS)
    .map((code): Problem => ({ offset: 0, code, reason: ENDPOINT_PROBLEMS[code]! }));
  if (r.rev === null) return { name: 'UNKNOWN', summary: `UNKNOWN ${data.length} bytes, revision unknown`, detail: 'revision unknown', problems: flagged, msg: null };
  const d = decode(data, r.rev, r.dir ? { direction: r.dir } : {});
  const unheld = absentProblems(absent);
  const problems = [...d.problems.filter((p) => !unheld.includes(p.code)), ...flagged];
  if (!d.msg) {
    const reason = d.problems[0]?.reason ?? 'no header';
    return { name: 'MALFORMED', summary: `MALFORMED ${data.length} bytes: ${reason}`, detail: reason, problems, msg: null };
  }
  const m = d.msg;
  const head = [m.name];
  if (!m.bus) head.push(`dev ${m.devNum}`);
  if (m.token !== 0) head.push(`token 0x${m.token.toString(16).padStart(4, '0')}`);
  const defs = decodedLayout(lookupMessage(m.revision, m.bus, m.msgId), m.kind, m.msgSize)?.fields ?? [];
  const detail = Object.entries(m.fields)
    .slice(0, MAX_SUMMARY_FIELDS)
    .map(([k, v]) => {
      // Flags words by name too: "result=2(busy)", "features=5(direct_msg_rx|indirect_msg_rx)".
      const def = defs.find((f) => f.name === k);
      const names = def?.bits && typeof v === 'number' ? flagNames(def, v) : [];
      return `${k}=${fieldText(v, def)}${names.length > 0 ? `(${names.join('|')})` : ''}`;
    })
    .join(' ');
  return { name: m.name, summary: line(head.join(' '), detail), detail, problems, msg: m };
}
