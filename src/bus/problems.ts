/**
 * What the board did wrong on the bus, as the bus endpoint reports it while it runs (a queue
 * fault, a message it could not take), in one wording for the capture's ERROR marker and the
 * user's `bus problem:` lines, and a tally that says each kind once with how often it happened.
 */
import { decodeHeader, lookupMessage, type Revision } from '../protocol/index';
import type { EndpointProblem } from './endpoint';

/** The message's name and addressee when its header can be read ("EVENT_USED (dev_num 0)"), else "message". */
function messageName(bytes: Uint8Array, rev: Revision | null): string {
  const h = rev === null ? null : decodeHeader(bytes, rev);
  // No token: a torn slot's token bytes are whatever the slot held before.
  return h === null || rev === null ? 'message' : `${lookupMessage(rev, h.bus, h.msgId).name} (${h.bus ? 'bus message' : `dev_num ${h.devNum}`})`;
}

/**
 * "device-to-driver EVENT_USED (dev_num 0) at byte 6: msg_size 0 is smaller than the 8-byte
 * header (expected ≥ 8, saw 0); …", or for a queue fault its reason, which says where.
 */
export function endpointProblemText(p: EndpointProblem, rev: Revision | null): string {
  if (p.kind === 'queue') return p.problem.reason;
  if (p.kind === 'handler') return p.reason;
  return `${p.direction} ${messageName(p.bytes, rev)} at byte ${p.problem.offset}: ${p.problem.reason}`;
}

/**
 * The board's own faults a session reports as problems: queue index faults and messages the
 * board sent that could not be taken (malformed events and requests). Left out: the peer
 * stopping its queue (the session ends, saying so once), responses (each is reported through
 * the request it answers, or recorded with the matcher's verdict), and our own handlers' errors.
 */
function boardFault(p: EndpointProblem, rev: Revision): boolean {
  if (p.kind === 'queue') return p.problem.code !== 'peer-state';
  if (p.kind === 'handler' || p.problem.code === 'no-response') return false;
  return decodeHeader(p.bytes, rev)?.kind !== 'response';
}

/** The board's faults seen during a session, each kind once (its first occurrence) with a count. */
export class BusProblemTally {
  private readonly seen = new Map<string, { text: string; count: number }>();

  constructor(private readonly rev: Revision) {}

  add(p: EndpointProblem): void {
    if (p.kind === 'handler' || !boardFault(p, this.rev)) return;
    // A kind: the same problem at the same place of the same message; values may differ (a torn slot's stale bytes).
    const key = p.kind === 'queue' ? `queue ${p.problem.code}@${p.problem.offset}:${p.problem.reason}` : `${p.problem.code}@${p.problem.offset}:${messageName(p.bytes, this.rev)}`;
    const known = this.seen.get(key);
    if (known) known.count++;
    else this.seen.set(key, { text: endpointProblemText(p, this.rev), count: 1 });
  }

  /** One line per kind, the first occurrence's text, with how often it was seen when more than once. */
  lines(): string[] {
    return [...this.seen.values()].map(({ text, count }) => (count > 1 ? `${text} (seen ${count} times, the first shown)` : text));
  }
}
