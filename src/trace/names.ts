/**
 * Record names without decoding: the same name describeRecord() gives (GET_VQUEUE, DOORBELL, BUFFER,
 * NO_RESPONSE, FINDING…), read from the header fields the recorder stored. Every possible name has a
 * slot number, so filters test a record's name with one table lookup and stats count names in a
 * flat array, over millions of records without allocating.
 */
import { lookupMessage, REVISIONS } from '../protocol/index';
import { MARKER_KINDS, RECORD_FLAGS, RECORD_KINDS, type RecordView } from './record';

/** Slots 0..2047: message (revision code 1..4, namespace, msg_id) via lookupMessage (the MESSAGES table). */
const MSG_SLOTS = REVISIONS.length * 512;
const UNKNOWN = MSG_SLOTS;
const MALFORMED = MSG_SLOTS + 1;
const DOORBELL = MSG_SLOTS + 2;
const VQ_INDEX = MSG_SLOTS + 3;
const QUEUE_STATE = MSG_SLOTS + 4;
const FINDING = MSG_SLOTS + 5;
const MARKER = MSG_SLOTS + 6;
const FIRST_MARKER = MSG_SLOTS + 7;
const BUFFER = FIRST_MARKER + MARKER_KINDS.length;

const markerName = (kind: string): string => kind.toUpperCase().replaceAll('-', '_');

/** Name of each slot. Several slots share a name (GET_VQUEUE in r2, r3 and r4). */
export const NAME_SLOTS: readonly string[] = [
  ...Array.from({ length: MSG_SLOTS }, (_, slot) => lookupMessage(REVISIONS[slot >> 9]!, (slot & 256) !== 0, slot & 0xff).name),
  'UNKNOWN',
  'MALFORMED',
  'DOORBELL',
  'VQ_INDEX',
  'QUEUE_STATE',
  'FINDING',
  'MARKER',
  ...MARKER_KINDS.map(markerName),
  'BUFFER',
];

const KIND_MESSAGE = RECORD_KINDS.indexOf('message');
const KIND_SLOT: readonly number[] = RECORD_KINDS.map((k) =>
  k === 'doorbell' ? DOORBELL : k === 'vq-index' ? VQ_INDEX : k === 'queue-state' ? QUEUE_STATE : k === 'finding' ? FINDING : k === 'buffer' ? BUFFER : MARKER,
);

/** True for the slots of messages whose header was read (the slot says revision, namespace and msg_id). */
export function isMessageSlot(slot: number): boolean {
  return slot < MSG_SLOTS;
}

/** The record's name slot: an index into NAME_SLOTS. */
export function nameSlot(v: RecordView): number {
  const kind = v.kindCode;
  if (kind !== KIND_MESSAGE) {
    if (KIND_SLOT[kind] !== MARKER) return KIND_SLOT[kind]!;
    const m = v.msgId;
    return m < MARKER_KINDS.length ? FIRST_MARKER + m : MARKER;
  }
  const rev = v.revCode;
  if (rev === 0) return UNKNOWN;
  const flags = v.flags;
  if ((flags & RECORD_FLAGS.noHeader) !== 0) return MALFORMED;
  return (rev - 1) * 512 + ((flags & RECORD_FLAGS.bus) !== 0 ? 256 : 0) + v.msgId;
}

export function recordName(v: RecordView): string {
  return NAME_SLOTS[nameSlot(v)]!;
}
