/**
 * Request/response matching (docs/protocol.md §7): the one rule the bus endpoint acts on
 * and the trace recorder records, so the engine and the capture cannot disagree. Pure: no
 * clock, no I/O; whoever owns the timeout says when a request expired.
 *
 * A response answers an outstanding request of its lane (one dev_num, or the bus) whose type
 * it answers (request type | 1; R0 also the OpenAMP echo without the response bit) and whose
 * msg_id it carries, oldest first, and
 * - R3/R4 with a non-zero token: only the request with that token. A token that belongs to a
 *   request already answered is a `duplicate` (a stale or repeated copy), to one that timed out
 *   `late`; the right token with another dev_num is a `wrong-dev-num` answer to that request,
 *   with another msg_id a `wrong-msg-id` one. A non-zero token is never matched by (dev_num, msg_id):
 *   a response to the lane's oldest outstanding request of that type and msg_id whose token is
 *   none of these is a `wrong-token` answer to that request (the board did not echo the token;
 *   R4 requires the echo, and so does the AMP bus for R3, since it owns the token there).
 * - R3/R4 with token 0: a peer that does not echo tokens (QEMU's GET_DEVICES, docs/peers.md §1.2):
 *   matched by (dev_num, msg_id) and flagged as a fallback (problem token-mismatch).
 * - R0/R2 (no token): by (dev_num, msg_id), which is the revision's rule.
 * Without a token a response no outstanding request takes is `late` or `duplicate` after the
 * most recent finished request it could have answered.
 */
import { HEADERS, lookupMessage, type Header, type Revision } from '../protocol/index';

/** The header fields matching looks at. */
export type MatchHeader = Pick<Header, 'type' | 'bus' | 'msgId' | 'devNum' | 'token'>;

/** A request the matcher tracks; callers extend it with what they need back (their pending state, a record seq…). */
export interface MatchEntry extends MatchHeader {
  /** Set by `request()`: unique per matcher, increasing. */
  id: number;
}

export type VerdictKind = 'answer' | 'wrong-dev-num' | 'wrong-msg-id' | 'wrong-token' | 'duplicate' | 'late' | 'unmatched';

export interface Verdict<E extends MatchEntry> {
  kind: VerdictKind;
  /** The request answered (answer, wrong-dev-num, wrong-msg-id, wrong-token), answered before (duplicate) or expired (late); null when unmatched. */
  request: E | null;
  /** An answer found by (dev_num, msg_id) although the revision has tokens: the peer sent token 0. */
  fallback: boolean;
}

/** Finished requests remembered for duplicate and late answers, each kind. */
const KEEP = 256;
const BUS_LANE = 0x1_0000;

const laneOf = (h: MatchHeader): number => (h.bus ? BUS_LANE : h.devNum);

export class Matcher<E extends MatchEntry> {
  private readonly tokens: boolean;
  private readonly r0: boolean;
  private nextId = 1;
  /** Outstanding requests per lane, oldest first. */
  private readonly lanes = new Map<number, E[]>();
  private readonly answered: (E | undefined)[] = new Array<E | undefined>(KEEP);
  private readonly expired: (E | undefined)[] = new Array<E | undefined>(KEEP);
  private answeredAt = 0;
  private expiredAt = 0;

  constructor(readonly revision: Revision) {
    this.tokens = revision === 'r3' || revision === 'r4';
    this.r0 = revision === 'r0';
  }

  /** A request went out: it is outstanding until answered, expired or cancelled. */
  request(e: E): E {
    e.id = this.nextId++;
    const lane = laneOf(e);
    const q = this.lanes.get(lane);
    if (q === undefined) this.lanes.set(lane, [e]);
    else q.push(e);
    return e;
  }

  /** What an incoming response is; an answer finishes its request. */
  response(h: MatchHeader): Verdict<E> {
    const token = this.tokens ? h.token : 0;
    const q = this.lanes.get(laneOf(h));
    /** The oldest request the response answers but for its (non-zero) token. */
    let echoless: E | null = null;
    if (q !== undefined) {
      for (let i = 0; i < q.length; i++) {
        const p = q[i]!;
        if (!this.answers(h, p)) continue;
        if (token === 0 || p.token === token) {
          if (i === 0) q.shift();
          else q.splice(i, 1);
          this.answeredAt = remember(this.answered, this.answeredAt, p);
          return { kind: 'answer', request: p, fallback: token === 0 && p.token !== 0 };
        }
        echoless ??= p;
      }
    }
    const a = this.finished(this.answered, h, token);
    const x = this.finished(this.expired, h, token);
    if (x !== null && (a === null || x.id > a.id)) {
      // Answered now, if late: a further copy is a duplicate.
      this.expired[this.expired.indexOf(x)] = undefined;
      this.answeredAt = remember(this.answered, this.answeredAt, x);
      return { kind: 'late', request: x, fallback: token === 0 && x.token !== 0 };
    }
    if (a !== null) return { kind: 'duplicate', request: a, fallback: false };
    if (token !== 0) {
      for (const lane of this.lanes.values()) {
        for (let i = 0; i < lane.length; i++) {
          const p = lane[i]!;
          if (p.token !== token || p.bus !== h.bus) continue;
          // One field wrong: the answer is that request's, and says what the board got wrong.
          const kind = p.devNum !== h.devNum ? (this.answersType(h, p) ? 'wrong-dev-num' : null) : 'wrong-msg-id';
          if (kind === null) continue;
          lane.splice(i, 1);
          this.answeredAt = remember(this.answered, this.answeredAt, p);
          return { kind, request: p, fallback: false };
        }
      }
    }
    if (echoless !== null) {
      q!.splice(q!.indexOf(echoless), 1);
      this.answeredAt = remember(this.answered, this.answeredAt, echoless);
      return { kind: 'wrong-token', request: echoless, fallback: false };
    }
    return { kind: 'unmatched', request: null, fallback: false };
  }

  /** The request timed out: a later answer to it is late. False when it was no longer outstanding. */
  expire(e: E): boolean {
    if (!this.remove(e)) return false;
    this.expiredAt = remember(this.expired, this.expiredAt, e);
    return true;
  }

  /** The request failed without an answer being due any more (never sent, link lost, closed). */
  cancel(e: E): void {
    this.remove(e);
  }

  /** Expires, oldest first per lane, every outstanding request `due` says timed out; returns them by id. */
  sweep(due: (e: E) => boolean): E[] {
    const out: E[] = [];
    for (const q of this.lanes.values()) {
      let n = 0;
      while (n < q.length && due(q[n]!)) n++;
      for (const e of q.splice(0, n)) {
        this.expiredAt = remember(this.expired, this.expiredAt, e);
        out.push(e);
      }
    }
    return out.sort((a, b) => a.id - b.id);
  }

  private remove(e: E): boolean {
    const q = this.lanes.get(laneOf(e));
    const i = q ? q.indexOf(e) : -1;
    if (i < 0) return false;
    q!.splice(i, 1);
    return true;
  }

  private answersType(h: MatchHeader, p: E): boolean {
    return h.msgId === p.msgId && ((h.type & 3) === ((p.type & 3) | 1) || (this.r0 && (h.type & 3) === (p.type & 3)));
  }

  private answers(h: MatchHeader, p: E): boolean {
    return h.devNum === p.devNum && this.answersType(h, p);
  }

  /** The most recent finished request in `ring` this response could have answered. */
  private finished(ring: readonly (E | undefined)[], h: MatchHeader, token: number): E | null {
    let best: E | null = null;
    for (const p of ring) {
      if (p !== undefined && (best === null || p.id > best.id) && (token === 0 || p.token === token) && this.answers(h, p)) best = p;
    }
    return best;
  }
}

function remember<E>(ring: (E | undefined)[], at: number, e: E): number {
  ring[at] = e;
  return (at + 1) % ring.length;
}

// ---- texts --------------------------------------------------------------------------------------

const hex16 = (n: number): string => '0x' + n.toString(16).padStart(4, '0');

/** "GET_VQUEUE (dev_num 1, token 0x0001)"; `what` follows the name ("GET_VQUEUE response (…)"). */
export function describeMessage(rev: Revision, h: Pick<Header, 'bus' | 'msgId' | 'devNum' | 'token'>, what = ''): string {
  const token = rev === 'r3' || rev === 'r4' ? `, token ${hex16(h.token)}` : '';
  return `${lookupMessage(rev, h.bus, h.msgId).name}${what} (${addressOf(h)}${token})`;
}

const addressOf = (h: Pick<Header, 'bus' | 'devNum'>): string => (h.bus ? 'bus message' : `dev_num ${h.devNum}`);

export function noResponseText(rev: Revision, request: MatchHeader, timeoutMs: number): string {
  return `no response to ${describeMessage(rev, request)} within ${timeoutMs} ms`;
}

/** The `wrong-token` verdict: "GET_DEVICE_INFO response (dev_num 0) carries token 0x8002, the request has token 0x0002: …". */
export function wrongTokenText(rev: Revision, request: MatchHeader, token: number): string {
  const [want, saw] = [hex16(request.token), hex16(token)];
  const name = lookupMessage(rev, request.bus, request.msgId).name;
  return `${name} response (${addressOf(request)}) carries token ${saw}, the request has token ${want}: the board did not echo the token (byte 4: expected ${want}, saw ${saw})`;
}

/**
 * A message whose msg_size cannot be believed: larger than the bytes it came in (the queue
 * slot), or smaller than its header. `field` is where, `expected`/`saw` what.
 */
export interface Framing {
  code: 'oversize' | 'size-mismatch';
  offset: number;
  /** e.g. "exceeds the 64-byte slot" */
  problem: string;
  expected: string;
  saw: number;
}

/** The framing fault of a `length`-byte message whose header says `msgSize`, or null (R0 has no msg_size). */
export function checkFraming(rev: Revision, msgSize: number, length: number): Framing | null {
  const h = HEADERS[rev];
  if (h.msgSizeOffset < 0) return null;
  if (msgSize < h.size) return { code: 'size-mismatch', offset: h.msgSizeOffset, problem: `is smaller than the ${h.size}-byte header`, expected: `≥ ${h.size}`, saw: msgSize };
  if (msgSize > length) return { code: 'oversize', offset: h.msgSizeOffset, problem: `exceeds the ${length}-byte slot`, expected: `≤ ${length}`, saw: msgSize };
  return null;
}

/** "msg_size 300 at byte 6 exceeds the 64-byte slot (expected ≤ 64, saw 300)"; without the byte where a Problem carries it. */
export function framingText(f: Framing, withByte = true): string {
  return `msg_size ${f.saw}${withByte ? ` at byte ${f.offset}` : ''} ${f.problem} (expected ${f.expected}, saw ${f.saw})`;
}
