/**
 * Conformance findings: the virtio-msg and AMP-bus rules that can be checked on the wire, one
 * table (RULES), and a pure evaluator that walks a session's records in order and says where
 * a peer (or the workbench itself) broke one. The recorder runs it live on every record and
 * writes each finding as a 'finding' record right after the record that triggered it;
 * `amp-workbench check` runs it again over a capture after the fact.
 *
 * Rules about one message's bytes (sizes, reserved bits…) read the problem bits the codec set
 * when the message was recorded, and pairing rules read what the recorder's request/response
 * matcher decided (unmatched, token fallback or wrong token, no-response markers): each rule has one
 * implementation, and the findings cannot disagree with the rest of the trace.
 *
 * Known peers deviate in known ways. A quirk profile (PEERS, chosen by the board profile's
 * `peer` field) turns the matching findings into `info`, so a real peer's capture reads clean
 * except for what is really wrong.
 */
import { decode, fieldBigint, fieldNumber, lookupMessage, PROBLEM_CODES, type Direction, type Fields, type ProblemCode, type Revision } from '../protocol/index';
import { STATUS } from '../protocol/names';
import { forEachRecord, type RecordBlock } from './block';
import { MARKER_KINDS, NO_DEV, RECORD_FLAGS, RECORD_KINDS, REVISION_CODES, VQ_INDEX_DATA_SIZE, type RecordView } from './record';

export const SEVERITIES = ['error', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Rule {
  id: string;
  /** Where the rule comes from, in the reference notes. */
  section: string;
  severity: Severity;
  description: string;
  /** Codec problems this rule reports (rules about one message's bytes). */
  problems?: readonly ProblemCode[];
  /** Message fields the rule reads: a capture without one of them (CaptureMeta.absent) cannot be judged by it. */
  needs?: readonly AbsentField[];
}

/**
 * Message fields a capture can lack because its source never held them: an imported log whose
 * format does not print the token (virtio_msg_print) or the payload (OP-TEE's header lines),
 * docs/formats.md §5. What each lacks is recorded as a stand-in (token 0, the header alone),
 * so no rule that reads it may judge.
 */
export const ABSENT_FIELDS = ['token', 'payload'] as const;
export type AbsentField = (typeof ABSENT_FIELDS)[number];

/**
 * Every rule. A finding record stores its rule as an index into this table, so entries are only
 * ever appended (like PROBLEM_CODES).
 */
export const RULES = [
  { id: 'msg-size-exact', section: 'virtio-msg §4.1, §6.17', severity: 'error', description: "msg_size is the message's layout size, header included, and the bytes hold it", problems: ['size-mismatch', 'truncated'], needs: ['payload'] },
  { id: 'msg-size-max', section: 'virtio-msg §8, §17.1', severity: 'error', description: 'no message exceeds the bus maximum message size', problems: ['oversize'] },
  { id: 'reserved-zero', section: 'virtio-msg §4.1, §17.1', severity: 'warning', description: 'reserved type bits, reserved words and padding are zero', problems: ['reserved-bits', 'trailing-bytes'], needs: ['payload'] },
  { id: 'msg-id-known', section: 'virtio-msg §5', severity: 'warning', description: 'msg_id is defined in the revision and namespace', problems: ['unknown-id'] },
  { id: 'field-value', section: 'virtio-msg §6', severity: 'warning', description: 'fields hold values the protocol defines', problems: ['bad-field'], needs: ['payload'] },
  { id: 'event-no-response-bit', section: 'virtio-msg §4.1', severity: 'error', description: 'an event never has the response bit set', problems: ['event-response'] },
  { id: 'response-to-request', section: 'virtio-msg §7', severity: 'error', description: 'a response answers an outstanding request' },
  { id: 'response-type', section: 'virtio-msg §7', severity: 'error', description: 'response type = request type | 1' },
  { id: 'R4-token-echo', section: 'virtio-msg §7, §17.2', severity: 'error', description: 'R4: the device copies the request token into its response', needs: ['token'] },
  { id: 'R3-token-echo', section: 'amp-bus §3.1', severity: 'warning', description: 'R3 on the AMP bus: a response echoes its request token', needs: ['token'] },
  { id: 'request-token-nonzero', section: 'amp-bus §3.1', severity: 'warning', description: 'R3/R4 requests carry a non-zero token', needs: ['token'] },
  { id: 'event-token-zero', section: 'virtio-msg §4.1', severity: 'warning', description: 'R3/R4 events carry token 0', needs: ['token'] },
  { id: 'request-answered', section: 'virtio-msg §11, §17.2', severity: 'error', description: 'every request is answered before its timeout' },
  { id: 'status-transition', section: 'virtio-msg §14.2, appendix C', severity: 'error', description: 'a status write keeps every bit the device holds; only 0 (reset) clears bits', needs: ['payload'] },
  { id: 'features-ok-after-write', section: 'virtio-msg §14.2 steps 6-7', severity: 'error', description: 'FEATURES_OK is set only after SET_DRIVER_FEATURES since the last reset', needs: ['payload'] },
  { id: 'driver-ok-after-features-ok', section: 'virtio-msg §14.2 step 10', severity: 'error', description: 'DRIVER_OK is set only together with FEATURES_OK', needs: ['payload'] },
  { id: 'vqueue-absent-sentinel', section: 'virtio-msg §6.7', severity: 'warning', description: 'R4: GET_VQUEUE of an unavailable queue (max_size 0) is all zero but the index', needs: ['payload'] },
  { id: 'vqueue-unconfigured-size', section: 'virtio-msg §6.7, §17.1', severity: 'warning', description: 'GET_VQUEUE of a queue not set up since reset reports cur_size 0', needs: ['payload'] },
  { id: 'queue-index-range', section: 'virtio-msg §14.5', severity: 'error', description: "queue indices are below the device's max_virtqueues; a virtqueue's avail.idx runs at most its size ahead of used.idx", needs: ['payload'] },
  { id: 'queue-index-forward', section: 'virtio 1.x §2.7 (split virtqueue)', severity: 'error', description: "a virtqueue's avail.idx and used.idx only move forward" },
  { id: 'event-used-after-used-ring', section: 'virtio-msg §10.2', severity: 'warning', description: 'EVENT_USED is sent only after the used ring moved', needs: ['payload'] },
  { id: 'event-dev-num', section: 'virtio-msg §14.5', severity: 'error', description: 'a device event names a device that answered GET_DEVICE_INFO', needs: ['payload'] },
  { id: 'bus-queue-index', section: 'amp-bus §4.1, §4.2', severity: 'error', description: "the peer's bus queue producer and consumer indices stay within 0..N-1" },
  { id: 'response-once', section: 'virtio-msg §7', severity: 'error', description: 'a request is answered once: no stale or repeated copy of an answer' },
  { id: 'response-dev-num', section: 'virtio-msg §7', severity: 'error', description: "a response names its request's dev_num" },
  { id: 'response-msg-id', section: 'virtio-msg §7', severity: 'error', description: "a response carries its request's msg_id" },
] as const satisfies readonly Rule[];

export type RuleId = (typeof RULES)[number]['id'];

/** Where a rule's section lies in the project's docs: "virtio-msg §4.1" → docs/protocol.md §4.1. */
const DOC_PAGES: Readonly<Record<string, string>> = { 'virtio-msg': 'docs/protocol.md', 'amp-bus': 'docs/amp-bus.md' };

/** A rule's reference as a docs page: "docs/protocol.md §4.1, §6.17"; a section outside the docs as written. */
export function ruleDocs(section: string): string {
  const m = /^(\S+) (§.*)$/.exec(section);
  const page = m ? DOC_PAGES[m[1]!] : undefined;
  return page === undefined ? section : `${page} ${m![2]}`;
}

const R = Object.fromEntries(RULES.map((r, i) => [r.id, i])) as Record<RuleId, number>;

export function ruleIndex(id: RuleId): number {
  return R[id];
}

export const PEERS = ['qemu', 'openamp-st', 'linux-rfc'] as const;
export type PeerName = (typeof PEERS)[number];

/** A known peer's known deviation: findings of `rule` about these messages (any when omitted) become info. */
export interface Quirk {
  rule: RuleId;
  messages?: readonly string[];
  why: string;
}

export const QUIRKS: Readonly<Record<PeerName, readonly Quirk[]>> = {
  // QEMU field notes (virtio-msg-amp-pci model) and virtio-msg §16.1.
  qemu: [
    ...(['msg-size-exact', 'msg-size-max', 'reserved-zero'] as const).map(
      (rule): Quirk => ({ rule, messages: ['GET_DEVICES'], why: 'QEMU answers GET_DEVICES with num = MAX(count, 32), msg_size 14 + num and bitmap bytes past the first 4 copied from beyond its array' }),
    ),
    ...(['R3-token-echo', 'R4-token-echo'] as const).map((rule): Quirk => ({ rule, messages: ['GET_DEVICES', 'PING'], why: 'QEMU answers bus messages with token 0' })),
    { rule: 'vqueue-unconfigured-size', messages: ['GET_VQUEUE'], why: "QEMU reports its default queue size (8) as cur_size before SET_VQUEUE" },
    { rule: 'request-answered', messages: ['GET_SHM'], why: 'QEMU before PoC-v2 drops GET_SHM unanswered' },
  ],
  // docs/amp-bus.md §3.2 and OpenAMP virtio_msg_rproc_bus.c, as the R0 device server plays it.
  'openamp-st': [
    { rule: 'response-type', why: 'the ST firmware answers by echoing the request buffer without the response bit' },
    { rule: 'request-answered', messages: ['SET_DEVICE_STATUS', 'GET_CONFIG', 'SET_CONFIG', 'RESET_VQUEUE'], why: 'the ST firmware answers only get-style requests and never SET_DEVICE_STATUS' },
    ...(['queue-index-range', 'event-used-after-used-ring', 'event-dev-num'] as const).map(
      (rule): Quirk => ({ rule, messages: ['EVENT_USED'], why: "the ST firmware puts its bus id in EVENT_USED's vq_idx and does not keep dev_num meaningful there" }),
    ),
  ],
  // Linux RFC v1 transport (virtio_msg.c, virtio-msg §16.2).
  'linux-rfc': (['msg-size-exact', 'reserved-zero'] as const).map((rule): Quirk => ({ rule, messages: ['SET_CONFIG'], why: 'the Linux RFC sets SET_CONFIG msg_size without counting the data bytes that follow' })),
};

export interface Finding {
  rule: RuleId;
  section: string;
  severity: Severity;
  /** What was expected and what was seen, and who did it. */
  message: string;
  /** The offending record. */
  seq: number;
  /** The offending record's device, or null. */
  devNum: number | null;
}

export interface EvaluatorOptions {
  /** The peer's quirk profile (CaptureMeta.peer / the board profile's `peer`). */
  peer?: PeerName | null;
  /** Findings of one rule reported at most this many times (the live recorder); default unlimited. */
  limitPerRule?: number;
  /** Fields the capture's source did not hold (CaptureMeta.absent): rules that need them are not evaluated. */
  absent?: readonly AbsentField[];
}

/** The rules a capture lacking `absent` cannot be judged by (RULES' `needs`). */
export function uncheckedRules(absent: readonly AbsentField[]): Rule[] {
  return RULES.filter((r: Rule) => r.needs?.some((f) => absent.includes(f)) ?? false);
}

/** The codec problems of those rules: what the stand-in bytes of an absent field would raise. */
export function absentProblems(absent: readonly AbsentField[]): readonly ProblemCode[] {
  return uncheckedRules(absent).flatMap((r) => r.problems ?? []);
}

/** What stands in for an absent field in the records. */
const STAND_IN: Readonly<Record<AbsentField, string>> = { token: 'token (recorded as 0)', payload: 'payload bytes (records hold the header alone)' };

/** The capture note saying once which rules could not judge, and why; null when every rule could. */
export function uncheckedNote(absent: readonly AbsentField[], source: string): string | null {
  const rules = uncheckedRules(absent);
  if (rules.length === 0) return null;
  return `${source} holds no ${absent.map((f) => STAND_IN[f]).join(' and no ')}: not checked: ${rules.map((r) => r.id).join(', ')}`;
}

const NONE: readonly Finding[] = Object.freeze([]);
const utf8 = new TextDecoder();

// Module-local copies, as in recorder.ts: under a CommonJS transpile every imported binding is a getter call.
const KIND_MESSAGE = RECORD_KINDS.indexOf('message');
const KIND_VQ_INDEX = RECORD_KINDS.indexOf('vq-index');
const KIND_MARKER = RECORD_KINDS.indexOf('marker');
const KIND_FINDING = RECORD_KINDS.indexOf('finding');
const MARKER_NO_RESPONSE = MARKER_KINDS.indexOf('no-response');
const MARKER_ERROR = MARKER_KINDS.indexOf('error');
/** The recorder's ERROR marker for the bus endpoint's 'peer-index' queue problem (recorder.ts endpointProblem). */
const PEER_INDEX_MARKER = /^queue peer-index at bus byte \d+: (.*)$/s;
const F_REQUEST = RECORD_FLAGS.request;
const F_RESPONSE = RECORD_FLAGS.response;
const F_EVENT = RECORD_FLAGS.event;
const F_BUS = RECORD_FLAGS.bus;
const F_NO_HEADER = RECORD_FLAGS.noHeader;
const F_TOKEN_FALLBACK = RECORD_FLAGS.tokenFallback;
const bit = (code: ProblemCode): number => (1 << PROBLEM_CODES.indexOf(code)) >>> 0;
const UNMATCHED = bit('unmatched-response');
const DUPLICATE = bit('duplicate');
const WRONG_DEV_NUM = bit('wrong-dev-num');
const WRONG_MSG_ID = bit('wrong-msg-id');
const WRONG_TOKEN = bit('wrong-token');
/** Problems the codec sets, each reported by the rule that lists it. */
const CODEC_RULES: readonly [mask: number, rule: number][] = RULES.flatMap((r, i) => ('problems' in r ? [[r.problems.reduce((m, c) => (m | bit(c)) >>> 0, 0), i] as [number, number]] : []));
const CODEC_MASK = CODEC_RULES.reduce((m, [mask]) => (m | mask) >>> 0, 0);
const REV_R3 = REVISION_CODES.indexOf('r3');
const REV_R4 = REVISION_CODES.indexOf('r4');
/** Status bits a driver write must keep once set (the device sets DEVICE_NEEDS_RESET; SUSPEND may be cleared). */
const KEPT_BITS = STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK | STATUS.DRIVER_OK | STATUS.FAILED;


/** Messages some rule looks into; everything else costs one table read. */
const ROLE = { used: 1, avail: 2, setStatus: 3, status: 4, setFeatures: 5, getVqueue: 6, setVqueue: 7, deviceInfo: 8 } as const;
const ROLE_OF_NAME: Readonly<Record<string, number>> = {
  EVENT_USED: ROLE.used,
  EVENT_AVAIL: ROLE.avail,
  SET_DEVICE_STATUS: ROLE.setStatus,
  GET_DEVICE_STATUS: ROLE.status,
  SET_DRIVER_FEATURES: ROLE.setFeatures,
  SET_FEATURES: ROLE.setFeatures, // R0's name
  GET_VQUEUE: ROLE.getVqueue,
  SET_VQUEUE: ROLE.setVqueue,
  GET_DEVICE_INFO: ROLE.deviceInfo,
  DEVICE_INFO: ROLE.deviceInfo, // R0's name
};

interface RevTable {
  rev: Revision;
  /** Message name by (bus ? 256 : 0) + msg_id. */
  names: readonly string[];
  /** ROLE by (bus ? 256 : 0) + msg_id. */
  role: Uint8Array;
  /** Byte offset of EVENT_USED's / EVENT_AVAIL's queue index (vq_index, R0 vq_idx), from the message table. */
  usedQueueAt: number;
  availQueueAt: number;
}

const REV_TABLES: (RevTable | undefined)[] = [];

function revTable(code: number): RevTable | null {
  let t = REV_TABLES[code];
  if (t === undefined) {
    const rev = REVISION_CODES[code];
    if (!rev) return null;
    const names = Array.from({ length: 512 }, (_, slot) => lookupMessage(rev, slot >= 256, slot & 0xff).name);
    const role = new Uint8Array(512);
    for (let slot = 0; slot < 512; slot++) role[slot] = ROLE_OF_NAME[names[slot]!] ?? 0;
    const queueAt = (name: string): number => {
      for (let id = 0; id < 256; id++) {
        const d = lookupMessage(rev, false, id);
        if (d.name === name) return d.layouts.event!.fields[0]!.offset;
      }
      return -1;
    };
    t = { rev, names, role, usedQueueAt: queueAt('EVENT_USED'), availQueueAt: queueAt('EVENT_AVAIL') };
    REV_TABLES[code] = t;
  }
  return t;
}

interface DeviceState {
  /** The status the device holds as far as the wire says (last written, then as reported). */
  status: number;
  /**
   * A reset (status 0) was seen: what happened since is known, so rules about the history since
   * reset judge. A capture that starts mid-session (ring mode, a re-attach) does not blame the
   * device for what it cannot show.
   */
  resetSeen: boolean;
  featuresWritten: boolean;
  /** From GET_DEVICE_INFO; -1 while unknown. */
  maxVirtqueues: number;
  /** GET_DEVICE_INFO named a device (device_id ≠ 0). */
  present: boolean;
  /** Queue sizes set with SET_VQUEUE since the last reset. */
  queueSizes: Map<number, number>;
}

interface QueueState {
  avail: number;
  used: number;
  /** Used entries seen (used.idx moves in vq-index records) and EVENT_USED received since tracking began. */
  entries: number;
  events: number;
  lastEventSeq: number;
}

/**
 * Requests waiting for their response, by seq, each as what response-type and request-answered
 * need: (type byte · 512 + name slot) · 8 + revision code. A direct-mapped table (no Map churn on
 * the hot path); the rare request still unanswered when its slot is reused is kept aside, up to a
 * bound, oldest dropped first.
 */
class OutstandingRequests {
  private static readonly SLOTS = 1 << 16;
  private static readonly ASIDE_MAX = 1 << 16;
  private readonly seqs = new Float64Array(OutstandingRequests.SLOTS).fill(-1);
  private readonly infos = new Int32Array(OutstandingRequests.SLOTS);
  private readonly aside = new Map<number, number>();

  add(seq: number, info: number): void {
    const i = seq % OutstandingRequests.SLOTS;
    const old = this.seqs[i]!;
    if (old >= 0) {
      if (this.aside.size >= OutstandingRequests.ASIDE_MAX) this.aside.delete(this.aside.keys().next().value!);
      this.aside.set(old, this.infos[i]!);
    }
    this.seqs[i] = seq;
    this.infos[i] = info;
  }

  /** The request's info, now no longer outstanding; -1 when unknown. */
  take(seq: number): number {
    const i = seq % OutstandingRequests.SLOTS;
    if (this.seqs[i] === seq) {
      this.seqs[i] = -1;
      return this.infos[i]!;
    }
    const aside = this.aside.get(seq);
    if (aside === undefined) return -1;
    this.aside.delete(seq);
    return aside;
  }
}

/** "device→driver GET_CONFIG response": built only for a finding, so a scan over millions of answered requests makes no text. */
const responseText = (v: RecordView, name: string): string => `${dirText(v.dir)} ${name} response`;
const hex = (v: number, digits = 2): string => '0x' + v.toString(16).padStart(digits, '0');
const dirText = (dir: Direction | null): string => (dir === 'device-to-driver' ? 'device→driver' : dir === 'driver-to-device' ? 'driver→device' : '');

/** The per-session evaluator: feed it every record in capture order; it returns the findings each one raises. */
export class ConformanceEvaluator {
  private readonly peer: PeerName | null;
  private readonly limit: number;
  /** By RULES index: 1 when the rule needs a field the capture lacks. */
  private readonly unchecked = new Uint8Array(RULES.length);
  private readonly counts = new Uint32Array(RULES.length);
  private readonly severityCounts = new Float64Array(SEVERITIES.length);
  private readonly devices = new Map<number, DeviceState>();
  private readonly queues = new Map<number, QueueState>();
  private readonly outstanding = new OutstandingRequests();
  private anyPresent = false;
  /** The first record evaluated was the capture's first (seq 0): every device's GET_DEVICE_INFO is in view. */
  private fromStart: boolean | null = null;
  private out: Finding[] | null = null;

  constructor(opts: EvaluatorOptions = {}) {
    this.peer = opts.peer ?? null;
    this.limit = opts.limitPerRule ?? Infinity;
    for (const r of uncheckedRules(opts.absent ?? [])) this.unchecked[R[r.id as RuleId]] = 1;
  }

  /** Findings so far by severity, those beyond the per-rule limit included. */
  get totals(): { errors: number; warnings: number; infos: number } {
    const [errors, warnings, infos] = this.severityCounts;
    return { errors: errors!, warnings: warnings!, infos: infos! };
  }

  /** Evaluates the record under `v` (finding records are ignored); returns its findings, most often none. */
  record(v: RecordView): readonly Finding[] {
    this.fromStart ??= v.seq === 0;
    const kind = v.kindCode;
    if (kind === KIND_MESSAGE) this.message(v);
    else if (kind === KIND_VQ_INDEX) this.vqIndex(v);
    else if (kind === KIND_MARKER) {
      const marker = v.msgId;
      if (marker === MARKER_NO_RESPONSE) this.noResponse(v);
      else if (marker === MARKER_ERROR) this.errorMarker(v);
    }
    const out = this.out;
    if (out === null) return NONE;
    this.out = null;
    return out;
  }

  private message(v: RecordView): void {
    const flags = v.flags;
    const problems = v.problems;
    if ((problems & CODEC_MASK) !== 0) this.codecFindings(v, problems);
    if ((flags & F_NO_HEADER) !== 0) return;
    const revCode = v.revCode;
    const table = revTable(revCode);
    if (table === null) return;
    const slot = ((flags & F_BUS) !== 0 ? 256 : 0) + v.msgId;
    const role = table.role[slot]!;
    const tokens = revCode >= REV_R3;
    if ((flags & F_REQUEST) !== 0) {
      if (tokens && v.token === 0) this.raise(R['request-token-nonzero'], v, this.nameOf(table, slot), `${dirText(v.dir)} ${this.nameOf(table, slot)} request has token 0; R3/R4 requests carry a non-zero token`);
      this.outstanding.add(v.seq, (v.msgType * 512 + slot) * 8 + revCode);
      if (role !== 0) this.request(v, table, role);
    } else if ((flags & F_RESPONSE) !== 0) {
      this.response(v, table, slot, problems, flags);
      if (role !== 0) this.responseFields(v, table, role);
    } else if ((flags & F_EVENT) !== 0) {
      if (tokens && v.token !== 0) this.raise(R['event-token-zero'], v, this.nameOf(table, slot), `${dirText(v.dir)} ${this.nameOf(table, slot)} has token ${hex(v.token, 4)}; events carry token 0`);
      if (role === ROLE.used) this.eventUsed(v, table);
      else if (role === ROLE.avail) this.queueInRange(v, 'EVENT_AVAIL', v.dataU32(table.availQueueAt));
    }
  }

  private nameOf(table: RevTable, slot: number): string {
    return table.names[slot]!;
  }

  private codecFindings(v: RecordView, problems: number): void {
    const rev = v.rev;
    const dir = v.dir;
    const d = rev === null ? null : decode(v.data(), rev, dir ? { direction: dir } : {});
    const name = d?.msg?.name ?? 'message';
    const what = `${dirText(dir)} ${d?.msg ? `${name} ${d.msg.kind}` : 'message'}`;
    for (const [mask, rule] of CODEC_RULES) {
      if ((problems & mask) === 0) continue;
      const reasons = (d?.problems ?? []).filter((p) => (bit(p.code) & mask) !== 0).map((p) => `${p.reason} (byte ${p.offset})`);
      // The bus maximum is the recorder's to know: an oversize flag decode cannot repeat keeps its size.
      const fallback = d?.msg ? `msg_size ${d.msg.msgSize} exceeds the bus maximum message size` : `${PROBLEM_CODES.filter((c) => (bit(c) & mask & problems) !== 0).join(', ')} flagged when recorded`;
      this.raise(rule, v, name, `${what}: ${reasons.length > 0 ? reasons.join('; ') : fallback}`);
    }
  }

  private response(v: RecordView, table: RevTable, slot: number, problems: number, flags: number): void {
    const name = this.nameOf(table, slot);
    if ((problems & UNMATCHED) !== 0) {
      const tok = v.revCode >= REV_R3 ? ` token ${hex(v.token, 4)}` : '';
      this.raise(R['response-to-request'], v, name, `${responseText(v, name)} dev ${v.devNum}${tok} answers no outstanding request`);
      return;
    }
    const pair = v.pairSeq;
    if ((problems & DUPLICATE) !== 0) {
      this.raise(R['response-once'], v, name, `${responseText(v, name)} dev ${v.devNum} token ${hex(v.token, 4)} repeats the answer to a request already answered`);
      return;
    }
    if ((problems & WRONG_DEV_NUM) !== 0) this.raise(R['response-dev-num'], v, name, `${responseText(v, name)} names dev_num ${v.devNum}, not the dev_num of its request (record ${pair})`);
    if ((problems & WRONG_MSG_ID) !== 0) this.raise(R['response-msg-id'], v, name, `${responseText(v, name)} carries msg_id ${hex(v.msgId)}, not the msg_id of its request (record ${pair})`);
    const echoless = (flags & F_TOKEN_FALLBACK) !== 0 ? 'paired by (dev_num, msg_id)' : (problems & WRONG_TOKEN) !== 0 ? 'the request failed' : null;
    if (echoless !== null) {
      const rule = v.revCode === REV_R4 ? R['R4-token-echo'] : v.revCode === REV_R3 ? R['R3-token-echo'] : -1;
      if (rule >= 0) this.raise(rule, v, name, `${responseText(v, name)} has token ${hex(v.token, 4)}, not the token of its request (record ${pair}); ${echoless}`);
    }
    // A late response's request was taken by its no-response marker: its type is no longer known.
    const req = pair < 0 ? -1 : this.outstanding.take(pair);
    if (req < 0) return;
    const reqType = Math.floor(req / 4096);
    const want = (reqType & 0x03) | 0x01;
    if (v.msgType !== want) this.raise(R['response-type'], v, name, `${responseText(v, name)} has type ${hex(v.msgType)}, expected ${hex(want)} (request record ${pair} type ${hex(reqType)} | 1)`);
  }

  private noResponse(v: RecordView): void {
    const pair = v.pairSeq;
    const req = pair < 0 ? -1 : this.outstanding.take(pair);
    const table = req < 0 ? null : revTable(req % 8);
    if (table === null) return;
    const name = this.nameOf(table, Math.floor(req / 8) % 512);
    const dev = v.devNum === NO_DEV ? '' : ` dev ${v.devNum}`;
    this.raise(R['request-answered'], v, name, `${name}${dev} (record ${pair}) got no response before its timeout`);
  }

  /** Bus queue faults the endpoint found are recorded as ERROR markers; the index ones break a rule. */
  private errorMarker(v: RecordView): void {
    const m = PEER_INDEX_MARKER.exec(utf8.decode(v.data()));
    if (m !== null) this.raise(R['bus-queue-index'], v, 'QUEUE', `bus queue: ${m[1]}`);
  }

  private device(devNum: number): DeviceState {
    let d = this.devices.get(devNum);
    if (d === undefined) {
      d = { status: 0, resetSeen: false, featuresWritten: false, maxVirtqueues: -1, present: false, queueSizes: new Map() };
      this.devices.set(devNum, d);
    }
    return d;
  }

  private fields(v: RecordView, table: RevTable): Fields | null {
    const dir = v.dir;
    return decode(v.data(), table.rev, dir ? { direction: dir } : {}).msg?.fields ?? null;
  }

  private request(v: RecordView, table: RevTable, role: number): void {
    const f = this.fields(v, table);
    if (f === null) return;
    const dev = this.device(v.devNum);
    switch (role) {
      case ROLE.setStatus:
        return this.statusWrite(v, dev, fieldNumber(f, 'status'));
      case ROLE.setFeatures:
        dev.featuresWritten = true;
        return;
      case ROLE.getVqueue:
        return this.queueInRange(v, 'GET_VQUEUE', fieldNumber(f, 'index'));
      case ROLE.setVqueue: {
        const index = fieldNumber(f, 'index');
        this.queueInRange(v, 'SET_VQUEUE', index);
        dev.queueSizes.set(index, fieldNumber(f, 'size'));
        this.queues.delete(queueKey(v.devNum, index));
        return;
      }
    }
  }

  private statusWrite(v: RecordView, dev: DeviceState, s: number): void {
    const held = dev.status;
    if (s === 0) {
      dev.status = 0;
      dev.resetSeen = true;
      dev.featuresWritten = false;
      dev.queueSizes.clear();
      for (const k of [...this.queues.keys()]) if (Math.floor(k / 0x1_0000) === v.devNum) this.queues.delete(k);
      return;
    }
    const what = `SET_DEVICE_STATUS ${hex(s)} to dev ${v.devNum}`;
    const cleared = held & KEPT_BITS & ~s;
    if (cleared !== 0) this.raise(R['status-transition'], v, 'SET_DEVICE_STATUS', `${what} clears ${hex(cleared)} of the status ${hex(held)} the device holds; only a write of 0 (reset) clears bits`);
    if ((s & STATUS.FEATURES_OK) !== 0 && (held & STATUS.FEATURES_OK) === 0 && dev.resetSeen && !dev.featuresWritten) {
      this.raise(R['features-ok-after-write'], v, 'SET_DEVICE_STATUS', `${what} sets FEATURES_OK, but no SET_DRIVER_FEATURES was sent since the last reset`);
    }
    if ((s & STATUS.DRIVER_OK) !== 0 && (held & STATUS.DRIVER_OK) === 0 && (s & STATUS.FEATURES_OK) === 0) {
      this.raise(R['driver-ok-after-features-ok'], v, 'SET_DEVICE_STATUS', `${what} sets DRIVER_OK without FEATURES_OK`);
    }
    dev.status = s;
  }

  private responseFields(v: RecordView, table: RevTable, role: number): void {
    if (role !== ROLE.setStatus && role !== ROLE.status && role !== ROLE.getVqueue && role !== ROLE.deviceInfo) return;
    const f = this.fields(v, table);
    if (f === null) return;
    const dev = this.device(v.devNum);
    if (role === ROLE.deviceInfo) {
      dev.present = fieldNumber(f, 'device_id') !== 0;
      if (dev.present) this.anyPresent = true;
      if ('max_virtqueues' in f) dev.maxVirtqueues = fieldNumber(f, 'max_virtqueues');
    } else if (role === ROLE.getVqueue) {
      const index = fieldNumber(f, 'index');
      const max = fieldNumber(f, 'max_size');
      const cur = fieldNumber(f, 'cur_size');
      if (max === 0) {
        if (table.rev === 'r4') {
          const nonZero = ['cur_size', 'flags', 'desc_addr', 'driver_addr', 'device_addr'].filter((n) => fieldBigint(f, n) !== 0n);
          if (nonZero.length > 0) this.raise(R['vqueue-absent-sentinel'], v, 'GET_VQUEUE', `GET_VQUEUE response for unavailable queue ${index} of dev ${v.devNum} (max_size 0) has ${nonZero.join(', ')} non-zero; expected all zero but the index`);
        }
      } else if ('cur_size' in f && cur !== 0 && dev.resetSeen && !dev.queueSizes.has(index)) {
        this.raise(R['vqueue-unconfigured-size'], v, 'GET_VQUEUE', `GET_VQUEUE response for queue ${index} of dev ${v.devNum} reports cur_size ${cur} before any SET_VQUEUE; expected 0`);
      }
    } else {
      dev.status = fieldNumber(f, 'status');
    }
  }

  /** A queue index a message names, against the device's max_virtqueues. */
  private queueInRange(v: RecordView, name: string, index: number): void {
    const max = this.devices.get(v.devNum)?.maxVirtqueues ?? -1;
    if (max >= 0 && index >= max) this.raise(R['queue-index-range'], v, name, `${dirText(v.dir)} ${name} names queue ${index} of dev ${v.devNum}; the device has max_virtqueues ${max}`);
  }

  private eventUsed(v: RecordView, table: RevTable): void {
    const index = v.dataU32(table.usedQueueAt);
    const devNum = v.devNum;
    if (this.anyPresent && this.fromStart === true && this.devices.get(devNum)?.present !== true) {
      this.raise(R['event-dev-num'], v, 'EVENT_USED', `EVENT_USED names dev ${devNum}, which no GET_DEVICE_INFO response named`);
      return;
    }
    this.queueInRange(v, 'EVENT_USED', index);
    const q = this.queues.get(queueKey(devNum, index));
    if (q === undefined) return;
    q.events++;
    q.lastEventSeq = v.seq;
  }

  private vqIndex(v: RecordView): void {
    const x = vqIndexes(v);
    if (x === null) return;
    const devNum = v.devNum;
    const index = v.channel;
    const key = queueKey(devNum, index);
    const q = this.queues.get(key);
    if (q === undefined) {
      this.queues.set(key, { avail: x.availIdx, used: x.usedIdx, entries: 0, events: 0, lastEventSeq: -1 });
      return;
    }
    const where = `virtqueue ${index} of dev ${devNum}`;
    const da = (x.availIdx - q.avail) & 0xffff;
    const du = (x.usedIdx - q.used) & 0xffff;
    if (da >= 0x8000) this.raise(R['queue-index-forward'], v, 'VQ_INDEX', `${where}: avail.idx went back from ${q.avail} to ${x.availIdx}`);
    if (du >= 0x8000) this.raise(R['queue-index-forward'], v, 'VQ_INDEX', `${where}: used.idx went back from ${q.used} to ${x.usedIdx}`);
    else if (du !== 0) {
      // used.idx as the driver read it when it collected: every EVENT_USED so far needed a used entry before it.
      q.entries += du;
      if (q.events > q.entries) {
        const what = `${q.events} EVENT_USED for ${where} while used.idx moved ${q.entries} (to ${x.usedIdx}): an EVENT_USED came without the used ring moving (latest record ${q.lastEventSeq})`;
        this.raise(R['event-used-after-used-ring'], v, 'EVENT_USED', what, q.lastEventSeq);
        q.events = q.entries;
      }
    }
    const ahead = (x.availIdx - x.usedIdx) & 0xffff;
    const size = this.devices.get(devNum)?.queueSizes.get(index);
    if (size !== undefined && ahead > size) this.raise(R['queue-index-range'], v, 'VQ_INDEX', `${where}: avail.idx ${x.availIdx} runs ${ahead} ahead of used.idx ${x.usedIdx}, more than the queue size ${size}`);
    q.avail = x.availIdx;
    q.used = x.usedIdx;
  }

  private raise(rule: number, v: RecordView, about: string, message: string, seq = v.seq): void {
    if (this.unchecked[rule] === 1) return;
    const r: Rule = RULES[rule]!;
    const quirk = this.peer === null ? undefined : QUIRKS[this.peer].find((q) => q.rule === r.id && (q.messages === undefined || q.messages.includes(about)));
    const severity = quirk === undefined ? r.severity : 'info';
    this.severityCounts[SEVERITIES.indexOf(severity)]!++;
    const n = ++this.counts[rule]!;
    if (n > this.limit) return;
    let text = message.trim();
    if (quirk !== undefined) text += ` (known ${this.peer} deviation: ${quirk.why})`;
    if (n === this.limit) text += ` (the ${this.limit}th ${r.id} finding: later ones are not recorded; amp-workbench check counts them)`;
    const dev = v.devNum;
    (this.out ??= []).push({ rule: r.id as RuleId, section: r.section, severity, message: text, seq, devNum: dev === NO_DEV ? null : dev });
  }
}

/** avail.idx and used.idx of a vq-index record (record.ts VQ_INDEX_DATA: u16s at data offsets 0 and 2), read without allocating a decode. */
export function vqIndexes(v: RecordView): { availIdx: number; usedIdx: number } | null {
  const x = v.dataU32(0);
  if (x < 0 || v.dataLength < VQ_INDEX_DATA_SIZE) return null;
  VQ_INDEXES.availIdx = x & 0xffff;
  VQ_INDEXES.usedIdx = x >>> 16;
  return VQ_INDEXES;
}
/** vqIndexes' answer, reused: valid until its next call. */
const VQ_INDEXES = { availIdx: 0, usedIdx: 0 };

function queueKey(devNum: number, index: number): number {
  return devNum * 0x1_0000 + (index & 0xffff);
}


/** A finding record as read back: the RULES entry, the severity and message it carries. */
export interface RecordedFinding extends Finding {
  /** The finding record's own seq. */
  recordSeq: number;
}


/**
 * What a finding record says (record.ts: msgId = RULES index, msgType = SEVERITIES index,
 * pairSeq = the offending record, data = the message); null for other records or codes this
 * build does not know.
 */
export function findingOf(r: Pick<RecordView, 'kind' | 'msgId' | 'msgType' | 'seq'> & { devNum: number | null; pairSeq: number | null; data: Uint8Array | (() => Uint8Array) }): RecordedFinding | null {
  if (r.kind !== 'finding') return null;
  const rule: Rule | undefined = RULES[r.msgId];
  const severity = SEVERITIES[r.msgType];
  if (rule === undefined || severity === undefined) return null;
  const data = typeof r.data === 'function' ? r.data() : r.data;
  const seq = r.pairSeq === null || r.pairSeq < 0 ? -1 : r.pairSeq;
  return { rule: rule.id as RuleId, section: rule.section, severity, message: utf8.decode(data), seq, devNum: r.devNum === NO_DEV ? null : r.devNum, recordSeq: r.seq };
}

export interface CheckReport {
  errors: number;
  warnings: number;
  infos: number;
  /** Every finding, in record order. */
  findings: Finding[];
  /** Records evaluated (finding records already in the capture are not: the rules are re-run). */
  checked: number;
  /** Finding records the capture already held (written live; not counted again). */
  recorded: number;
}

/**
 * Evaluates the rules after the fact over a capture's records, so a capture made before the
 * rules existed is checked too. Findings recorded live are skipped and derived again, never
 * counted twice.
 */
export function checkRecords(blocks: Iterable<RecordBlock>, opts: EvaluatorOptions = {}): CheckReport {
  const evaluator = new ConformanceEvaluator(opts);
  const findings: Finding[] = [];
  let checked = 0;
  let recorded = 0;
  forEachRecord(blocks, (v) => {
    if (v.kindCode === KIND_FINDING) {
      recorded++;
      return;
    }
    checked++;
    for (const f of evaluator.record(v)) findings.push(f);
  });
  const count = (s: Severity): number => findings.filter((f) => f.severity === s).length;
  return { errors: count('error'), warnings: count('warning'), infos: count('info'), findings, checked, recorded };
}
