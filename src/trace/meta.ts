/**
 * What a capture says about itself: which board, link and revision, which app wrote it and
 * when it started on both clocks. Stored as JSON (bigints as decimal strings) in the journal's
 * manifest, the pcapng section header comment and the first JSONL line.
 */
import { REVISIONS, type Revision } from '../protocol/types';
import type { Result } from '../util/result';
import { ABSENT_FIELDS, PEERS, type AbsentField, type PeerName } from './conformance';

export const CAPTURE_FORMAT = 'amp-trace/1';

export interface CaptureMeta {
  format: typeof CAPTURE_FORMAT;
  /** Writer, e.g. "amp-workbench 0.1.0". */
  app: string;
  /** Board profile id and description. */
  board: string;
  boardDescription: string;
  /** The bus's virtio-msg revision, when known. */
  revision: Revision | null;
  queueFormat: string | null;
  /** The link, e.g. "sim-qemu-amp-pci (worker thread)". */
  link: string;
  /** Capture start on the wall clock (ns since 1970) and the recorder's monotonic clock. */
  startWallNs: bigint;
  startMonoNs: bigint;
  /** Free text: session notes, recovery notes. */
  notes: string[];
  /** The board profile's known peer: its quirk profile applies to the conformance findings (absent: none). */
  peer?: PeerName;
  /** Message fields the source never held (an imported log that does not print them): no rule judges them (absent: all held). */
  absent?: AbsentField[];
}

export interface CaptureMetaJson extends Omit<CaptureMeta, 'startWallNs' | 'startMonoNs'> {
  startWallNs: string;
  startMonoNs: string;
}

export function metaToJson(m: CaptureMeta): CaptureMetaJson {
  return { ...m, startWallNs: m.startWallNs.toString(), startMonoNs: m.startMonoNs.toString() };
}

export type MetaParse = Result<CaptureMeta>;

/** Validates parsed JSON as capture metadata; the failure names the field, what was expected and what was seen. */
export function metaFromJson(v: unknown): MetaParse {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, error: `capture metadata: expected an object, saw ${JSON.stringify(v)}` };
  const o = v as Record<string, unknown>;
  const bad = (field: string, expected: string): MetaParse => ({ ok: false, error: `capture metadata field "${field}": expected ${expected}, saw ${JSON.stringify(o[field])}` });
  if (o['format'] !== CAPTURE_FORMAT) return bad('format', `"${CAPTURE_FORMAT}"`);
  for (const f of ['app', 'board', 'boardDescription', 'link'] as const) if (typeof o[f] !== 'string') return bad(f, 'a string');
  if (o['revision'] !== null && !REVISIONS.includes(o['revision'] as Revision)) return bad('revision', `null or one of ${REVISIONS.join(', ')}`);
  if (o['queueFormat'] !== null && typeof o['queueFormat'] !== 'string') return bad('queueFormat', 'null or a string');
  const ns = (f: string): bigint | null => (typeof o[f] === 'string' && /^\d{1,20}$/.test(o[f]) ? BigInt(o[f]) : null);
  const startWallNs = ns('startWallNs');
  if (startWallNs === null) return bad('startWallNs', 'a decimal string of nanoseconds');
  const startMonoNs = ns('startMonoNs');
  if (startMonoNs === null) return bad('startMonoNs', 'a decimal string of nanoseconds');
  if (!Array.isArray(o['notes']) || !o['notes'].every((n) => typeof n === 'string')) return bad('notes', 'an array of strings');
  const peer = o['peer'];
  if (peer !== undefined && !PEERS.includes(peer as PeerName)) return bad('peer', `absent or one of ${PEERS.join(', ')}`);
  const absent = o['absent'];
  if (absent !== undefined && !(Array.isArray(absent) && absent.every((f) => ABSENT_FIELDS.includes(f as AbsentField)))) return bad('absent', `absent or a list of ${ABSENT_FIELDS.join(', ')}`);
  return {
    ok: true,
    value: {
      format: CAPTURE_FORMAT,
      app: o['app'] as string,
      board: o['board'] as string,
      boardDescription: o['boardDescription'] as string,
      revision: o['revision'] as Revision | null,
      queueFormat: o['queueFormat'] as string | null,
      link: o['link'] as string,
      startWallNs,
      startMonoNs,
      notes: [...(o['notes'] as string[])],
      ...(peer === undefined ? {} : { peer: peer as PeerName }),
      ...(absent === undefined ? {} : { absent: [...(absent as AbsentField[])] }),
    },
  };
}
