/**
 * The contract of the virtio-msg codec (docs/protocol.md). Implementations live beside
 * this file; everything else (bus endpoint, driver, device role, trace, CLI) uses only these
 * types and the functions exported from src/protocol/index.ts.
 */

/**
 * Wire revisions (docs/protocol.md §2): R0 pre-RFC 40-byte messages (ST/OpenAMP
 * prototype), R2 6-byte header (Linux RFC), R3 8-byte header (PATCH v1), R4 8-byte header
 * (PATCH v2). R1 exists only on paper and is recognised as R0-shaped.
 */
export type Revision = 'r0' | 'r2' | 'r3' | 'r4';
export const REVISIONS: readonly Revision[] = ['r0', 'r2', 'r3', 'r4'];

/** Request, response or one-way event (an event never has a response). */
export type MessageKind = 'request' | 'response' | 'event';

/**
 * Who sent the bytes. Needed for R0, where the OpenAMP device answers by echoing the request
 * buffer without setting the response bit (docs/amp-bus.md §3.2): a non-event message travelling
 * device→driver is a response.
 */
export const DIRECTIONS = ['driver-to-device', 'device-to-driver'] as const;
export type Direction = (typeof DIRECTIONS)[number];

/** A decoded field: integers ≤ 32 bits as number, 64-bit as bigint, byte runs as Uint8Array, u32 arrays as number[]. */
export type FieldValue = number | bigint | Uint8Array | number[];

export interface VirtioMsg {
  revision: Revision;
  /** Raw `type` byte (bit0 response, bit1 bus message). */
  type: number;
  kind: MessageKind;
  /** `type` bit1: a bus message (dev_num 0) rather than a transport message. */
  bus: boolean;
  msgId: number;
  /**
   * Protocol name, e.g. GET_DEVICE_INFO, EVENT_USED, GET_DEVICES; R0 uses its own names
   * (DEVICE_INFO, GET_FEATURES, CONNECT…); FF-A bus messages their kernel names (BUS_VERSION…);
   * others `RESERVED_0x0d`, `IMPL_REQUEST_0x85`, `IMPL_EVENT_0xc1`, `BUS_IMPL_REQUEST_0x90`.
   */
  name: string;
  devNum: number;
  /** 0 for revisions without a token (R0, R2). */
  token: number;
  /** The header's msg_size; for R0 (no size field) the frame length, always 40. */
  msgSize: number;
  /** Payload fields by protocol name (snake_case), in wire order. Unknown messages: `payload`. */
  fields: Record<string, FieldValue>;
}

/**
 * What is wrong with a message and where. `offset` is the byte offset from the first header
 * byte; `reason` says what was expected and what was seen, e.g.
 * "msg_size 0x0034 (52) but 48 bytes received".
 */
export interface Problem {
  offset: number;
  code: ProblemCode;
  reason: string;
}

/**
 * Every problem code, in a fixed order: the trace stores a record's problems as a bitmask over
 * this list (bit i = PROBLEM_CODES[i]), so entries are only ever appended.
 */
export const PROBLEM_CODES = [
  'truncated', // fewer bytes than the header or the fixed payload needs
  'size-mismatch', // msg_size disagrees with the bytes or with the message's own counts
  'oversize', // bigger than the revision's or the bus's maximum
  'reserved-bits', // reserved type bits, MBZ words or padding not zero
  'unknown-id', // msg_id not defined for this revision/namespace
  'bad-field', // a field value the protocol forbids (count not multiple of 8, dev_num ≠ 0 on a bus message…)
  'event-response', // an event id with the response bit set
  'trailing-bytes', // bytes after msg_size inside the frame that are not zero
  'unmatched-response', // a response that answers no outstanding request (set by the bus endpoint)
  'no-response', // a request that timed out (set by the bus endpoint)
  'token-mismatch', // response token differs from the request's (set by the bus endpoint)
  'duplicate', // a response whose request was already answered: a stale or repeated copy (request/response matcher)
  'late', // a response whose request had timed out (request/response matcher)
  'wrong-dev-num', // a response with its request's token but another dev_num (request/response matcher)
  'malformed-response', // the response to a request, unusable: msg_size beyond the slot or below the header
  'wrong-msg-id', // a response with its request's token and dev_num but another msg_id (request/response matcher)
  'wrong-token', // a response to the pending request by (dev_num, msg_id) with another non-zero token, not an answered or timed-out one (request/response matcher)
] as const;

export type ProblemCode = (typeof PROBLEM_CODES)[number];

export interface Decoded {
  /** null only when not even a header could be read. */
  msg: VirtioMsg | null;
  problems: Problem[];
}

export interface DecodeOptions {
  /** Needed to classify R0 messages (see Direction). */
  direction?: Direction;
  /** The bus's advertised maximum message size; larger messages get an 'oversize' problem. */
  maxSize?: number;
}

/** Input to `encode`: the message by name (or raw id) and its fields by protocol name. */
export interface MessageInit {
  /** Protocol name as in VirtioMsg.name, or give bus + msgId for unnamed ids. */
  name?: string;
  msgId?: number;
  bus?: boolean;
  kind: MessageKind;
  devNum?: number;
  token?: number;
  fields?: Record<string, FieldValue>;
  /** Override msg_size (to build malformed test messages); normally computed. */
  msgSize?: number;
  /**
   * Override the raw `type` byte; normally computed from kind and bus. For the R0 OpenAMP echo
   * (a response without the response bit, docs/amp-bus.md §3.2) and malformed test messages.
   */
  type?: number;
}

/** Header fields only: what the bus endpoint needs to route and match, cheaply. */
export interface Header {
  type: number;
  kind: MessageKind;
  bus: boolean;
  msgId: number;
  devNum: number;
  token: number;
  msgSize: number;
  headerSize: number;
}
