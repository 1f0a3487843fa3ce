/**
 * Guessing the wire revision of unknown traffic (docs/protocol.md §13). R2, R3 and R4 all
 * call themselves transport revision 1, so the layouts themselves are the evidence: every frame
 * is decoded as every revision, and a revision scores where the frame fits it. This covers the
 * §13 heuristics through the table: header size (where msg_size sits and whether it matches the
 * frame), 40-byte R0 frames, and the R3/R4 differences (GET_DEVICE_INFO response 32/52 bytes,
 * GET_SHM response 20/32, SET_VQUEUE word@12, GET_VQUEUE word@20, GET_DEVICES order and count).
 * Xen's variant (docs/protocol.md §13) has R2's 6-byte header and layouts, transport messages
 * only and at most 44 bytes: R2 traffic that keeps to that is reported as fitting it.
 */
import { decode } from './codec';
import { HEADER_SIZE, MAX_MSG_SIZE, R0_FRAME_SIZE } from './messages';
import type { Decoded, ProblemCode, Revision, VirtioMsg } from './types';

export interface RevisionGuess {
  revision: Revision | null;
  confidence: 'high' | 'low' | 'none';
  evidence: string[];
  /** 'xen': R2 frames that also fit Xen's variant (no bus messages, none over XEN_MAX_MSG_SIZE). */
  variant: 'xen' | null;
}

/** Xen's VIRTIO_MSG_MAX_SIZE (xen/include/xen/virtio/std/virtio-msg-prot.h). */
export const XEN_MAX_MSG_SIZE = 44;

/** Preference when revisions fit equally: the current revision first (§0). */
const CANDIDATES: readonly Revision[] = ['r4', 'r3', 'r2', 'r0'];

/** Problems that mean the bytes are not shaped like this revision at all. */
const SHAPE: ReadonlySet<ProblemCode> = new Set<ProblemCode>(['truncated', 'size-mismatch', 'trailing-bytes']);

/**
 * 2: decodes cleanly; 1: fits the shape but with anomalies (reserved bits, unknown ids…);
 * 0.5: only the header fits — a damaged frame (truncated, wrong size) whose header still has a
 * known id and a plausible msg_size for this revision; 0: does not fit.
 */
function points(d: Decoded, rev: Revision, length: number): number {
  if (!d.msg) return 0;
  if (!d.problems.some((p) => SHAPE.has(p.code))) return d.problems.length === 0 ? 2 : 1;
  return headerFits(d.msg, rev, length) ? 0.5 : 0;
}

function headerFits(m: VirtioMsg, rev: Revision, length: number): boolean {
  if (m.name.startsWith('RESERVED_') || (m.type & 0xfc) !== 0) return false;
  // R0 has no size field: only a whole 40-byte frame says anything.
  if (rev === 'r0') return length >= R0_FRAME_SIZE;
  return m.msgSize >= HEADER_SIZE[rev] && m.msgSize <= MAX_MSG_SIZE[rev];
}

/** The problem that decided the score: a shape problem first. */
function describe(d: Decoded): string {
  const p = d.problems.find((x) => SHAPE.has(x.code)) ?? d.problems[0];
  return p ? `${p.code} at byte ${p.offset}: ${p.reason}` : 'decodes cleanly';
}

const MAX_EXAMPLES = 3;

export function detectRevision(frames: Uint8Array[]): RevisionGuess {
  if (frames.length === 0) return { revision: null, confidence: 'none', evidence: ['no frames'], variant: null };
  const decoded = new Map<Revision, Decoded[]>(CANDIDATES.map((r) => [r, frames.map((f) => decode(f, r))]));
  const pts = new Map<Revision, number[]>(CANDIDATES.map((r) => [r, decoded.get(r)!.map((d, i) => points(d, r, frames[i]!.length))]));
  const total = (r: Revision): number => pts.get(r)!.reduce((a, b) => a + b, 0);
  const ranked = [...CANDIDATES].sort((a, b) => total(b) - total(a));
  const best = ranked[0]!;
  const runnerUp = ranked[1]!;

  const evidence = ranked.filter((r) => total(r) > 0).map((r) => {
    const p = pts.get(r)!;
    return `${r}: ${p.filter((x) => x >= 1).length} of ${frames.length} frames fit, ${p.filter((x) => x === 2).length} decode cleanly, ${p.filter((x) => x === 0.5).length} only by their header`;
  });
  if (total(best) === 0) return { revision: null, confidence: 'none', evidence: [...evidence, 'no frame fits any revision'], variant: null };

  const label = (i: number): string => {
    const m = decoded.get(best)!.at(i)!.msg;
    return `frame ${i} (${m ? `${m.name} ${m.kind}, ` : ''}${frames[i]!.length} bytes)`;
  };
  const better = frames.map((_, i) => i).filter((i) => pts.get(best)![i]! > pts.get(runnerUp)![i]!);
  for (const i of better.slice(0, MAX_EXAMPLES)) {
    evidence.push(`${label(i)} fits ${best}; as ${runnerUp}: ${describe(decoded.get(runnerUp)![i]!)}`);
  }
  const misfits = frames.map((_, i) => i).filter((i) => pts.get(best)![i] === 0);
  for (const i of misfits.slice(0, MAX_EXAMPLES)) evidence.push(`frame ${i} does not fit ${best}: ${describe(decoded.get(best)![i]!)}`);

  const fits = pts.get(best)!.filter((x) => x >= 1).length;
  const variant = best === 'r2' && xenShaped(frames, decoded.get('r2')!) ? 'xen' : null;
  if (variant) evidence.push(`every frame is at most ${XEN_MAX_MSG_SIZE} bytes and a transport message: fits Xen's R2 variant (no token, VIRTIO_MSG_MAX_SIZE ${XEN_MAX_MSG_SIZE})`);
  if (total(best) === total(runnerUp)) {
    evidence.push(`${best} and ${runnerUp} score equally: no frame tells them apart (${best} preferred)`);
    return { revision: best, confidence: 'low', evidence, variant };
  }
  return { revision: best, confidence: 2 * fits >= frames.length ? 'high' : 'low', evidence, variant };
}

function xenShaped(frames: Uint8Array[], asR2: Decoded[]): boolean {
  return frames.every((f, i) => f.length <= XEN_MAX_MSG_SIZE && asR2[i]!.msg !== null && !asR2[i]!.msg!.bus);
}
