/**
 * The Workbench API: every request a front end may make of the engine, its result, and the events
 * the engine pushes. Written once, transport-independent (the VS Code pattern, docs/architecture.md
 * "Models"): the same contract is bound to Electron IPC, to the web mode's WebSocket and to tests.
 *
 * - `WORKBENCH_METHODS` holds, per method, the zod schema of its params and of its result, and
 *   whether a read-only viewer may call it. Types are inferred from the schemas.
 * - `parseRequest` validates a request from outside (renderer, socket) at runtime: an unknown
 *   method or a bad field is an error value naming the field, what was expected and what was seen.
 * - Every result is plain JSON: no bigints (hex strings instead), no typed arrays (hex strings).
 *
 * Wire shape on message transports: `{id, method, params}` → `{id, result}` or `{id, error}`;
 * events `{event, data}`. The high-rate trace is never pushed: `trace.appended` says how many
 * records arrived and the UI pulls the rows it shows (docs/stack.md §6, "batch" and "windowed queries").
 */
import { z } from 'zod';

import type { ConfigField } from '../devices/config';
import { decodeConfig } from '../devices/config';
import type { WorkloadSpec } from '../devices/descriptor';
import { featureName, WORKLOAD_KINDS, WORKLOADS, type RegisteredWorkloadSpec, type WorkloadKind } from '../devices/registry';
import type { DevicePhase, DeviceState } from '../roles/driver/driver';
import { deviceDisplayName, statusNames } from '../protocol/names';
import { DIRECTIONS, PROBLEM_CODES } from '../protocol/types';
import type { Result } from '../util/result';
import { SEVERITIES } from '../trace/conformance';
import { EXPORT_FORMATS } from '../trace/exportWriter';
import { RECORD_KINDS } from '../trace/record';
import { hex32, hexNum, toHex } from '../util/hex';
import type { BoardProfile } from './boardProfile';
import { describeValue, expectedText, fieldName, valueAt } from './issues';

// ---- shared pieces ------------------------------------------------------------------------------

const none = z.object({}).strict();
const devNum = z.number().int().min(0).max(0xfffe);
const count = z.number().int().nonnegative();
/** A trace filter in the filter language (src/trace/filter.ts); empty means none. */
const filter = z.string().max(4096);
/** Nanoseconds from the capture start. */
const timeNs = z.number().int().nonnegative();
const hexString = z.string().regex(/^0x[0-9a-f]+$/, 'expected a "0x…" hex string');
/** Byte runs as hex digit pairs ("0a1b…"), as results carry them (requests: the descriptors' hexBytesParam). */
const hexBytesOut = z.string().regex(/^([0-9a-f]{2})*$/);
/** The most bytes of a buffer queue.buffer returns. */
export const QUEUE_BUFFER_MAX = 4096;

export const WINDOW_SERIES = ['messages', 'bytes', 'latency', 'occupancy', 'records'] as const;
export const DEVICE_PHASES = ['probing', 'resetting', 'negotiating', 'configuring', 'queues', 'ready', 'no-driver', 'needs-reset', 'failed', 'removed'] as const;
// The driver's phases and this list must agree: a phase added there fails typecheck here.
type MissingPhase = Exclude<DevicePhase, (typeof DEVICE_PHASES)[number]>;
const _phasesComplete: [MissingPhase] extends [never] ? true : MissingPhase = true;
void _phasesComplete;

// ---- result shapes ------------------------------------------------------------------------------

export const boardInfoSchema = z.object({
  id: z.string(),
  description: z.string(),
  format: z.string(),
  revision: z.string().nullable(),
  simulated: z.boolean(),
  default: z.boolean(),
  devices: z.array(z.object({ devNum: z.number(), kind: z.string() })),
  /**
   * Whether the hardware is there, probed on the engine's machine when the list is asked for
   * (a PCI function in sysfs, a serial port, a shared file, QEMU on PATH); `reason` says what was
   * looked for and found. "unknown" where presence cannot be seen without connecting (a TCP bridge).
   */
  presence: z.object({ state: z.enum(['present', 'absent', 'unknown']), reason: z.string() }),
});

/** A capture folder in the engine's captures folder, newest first (capture.recent). */
export const recentCaptureSchema = z.object({
  path: z.string(),
  board: z.string(),
  link: z.string(),
  /** Wall-clock start, ms since 1970. */
  startMs: z.number(),
  /** Records when the capture was closed; null while it is written or when it was not closed. */
  records: z.number().nullable(),
});
export type RecentCapture = z.infer<typeof recentCaptureSchema>;

const profileErrorSchema = z.object({ field: z.string(), message: z.string(), line: z.number().optional(), column: z.number().optional() });

const featureSchema = z.object({ bit: z.number(), name: z.string(), offered: z.boolean(), negotiated: z.boolean() });

const configFieldSchema = z.object({
  name: z.string(),
  offset: z.number(),
  size: z.number(),
  type: z.string(),
  value: z.union([z.number(), z.string()]),
  valid: z.boolean().nullable(),
  validWhen: z.string().nullable(),
});

const queueModelSchema = z.object({
  index: z.number(),
  name: z.string(),
  size: z.number(),
  maxSize: z.number(),
  descAddr: hexString,
  driverAddr: hexString,
  deviceAddr: hexString,
  usedEvents: z.number(),
});

/** DeviceState as JSON: bigints as "0x…", config as hex bytes and decoded fields. */
export const deviceJsonSchema = z.object({
  devNum: z.number(),
  phase: z.enum(DEVICE_PHASES),
  deviceId: z.number(),
  deviceType: z.string(),
  deviceName: z.string(),
  vendorId: hexString,
  uuid: z.string().nullable(),
  status: z.number(),
  statusNames: z.array(z.string()),
  featuresOffered: hexString,
  featuresNegotiated: hexString,
  /** Every bit offered or negotiated, lowest first. */
  features: z.array(featureSchema),
  configSize: z.number().nullable(),
  config: hexBytesOut,
  configFields: z.array(configFieldSchema),
  generation: z.number().nullable(),
  maxVirtqueues: z.number().nullable(),
  queues: z.array(queueModelSchema),
  /** Shared-memory regions the device reports (GET_SHM). */
  shm: z.array(z.object({ shmid: z.number(), length: hexString, address: hexString })),
  error: z.string().nullable(),
  findings: z.array(z.string()),
});
export type DeviceJson = z.infer<typeof deviceJsonSchema>;

/** What the workbench plays on the bus: the driver (default), the device side (serve-device), or a read-only observer. */
export const SESSION_ROLES = ['driver', 'device', 'monitor'] as const;
/** Where the trace and device state come from: a board now, or a capture file opened with capture.open. */
export const SESSION_SOURCES = ['board', 'capture'] as const;
export type SessionRole = (typeof SESSION_ROLES)[number];
export type SessionSource = (typeof SESSION_SOURCES)[number];

export const sessionStateSchema = z.object({
  connected: z.boolean(),
  role: z.enum(SESSION_ROLES),
  source: z.enum(SESSION_SOURCES),
  board: z.string().nullable(),
  link: z.string().nullable(),
  /** The capture folder this session records into; with source "capture", the capture that was opened. */
  capture: z.string().nullable(),
  notices: z.array(z.string()),
  findings: z.array(z.string()),
  devices: z.array(deviceJsonSchema),
});
export type SessionStateJson = z.infer<typeof sessionStateSchema>;

const ringStateSchema = z.object({
  size: z.number(),
  descAddr: z.string(),
  driverAddr: z.string(),
  deviceAddr: z.string(),
  avail: z.object({ flags: z.number(), flagNames: z.string(), idx: z.number(), used_event: z.number().nullable() }).nullable(),
  used: z.object({ flags: z.number(), flagNames: z.string(), idx: z.number(), avail_event: z.number().nullable() }).nullable(),
  lastSeenUsed: z.number().nullable(),
  inFlight: z.number().nullable(),
  descriptors: z.array(z.object({ index: z.number(), addr: z.string(), len: z.number(), flags: z.string(), next: z.number() })),
  chains: z.array(
    z.object({
      availSlot: z.number(),
      head: z.number(),
      descriptors: z.array(z.number()),
      readableBytes: z.number(),
      writableBytes: z.number(),
      problem: z.string().optional(),
    }),
  ),
  usedNotSeen: z.array(z.object({ slot: z.number(), id: z.number(), len: z.number() })),
  /** The chains the device returned last (used ring, newest first), walked over the descriptor table as it is now. */
  recent: z.array(
    z.object({
      slot: z.number(),
      id: z.number(),
      len: z.number(),
      descriptors: z.array(z.number()),
      readableBytes: z.number(),
      writableBytes: z.number(),
      problem: z.string().optional(),
    }),
  ),
  problems: z.array(z.object({ code: z.string(), reason: z.string() }).loose()),
});

export const traceInfoSchema = z.object({
  source: z.enum(['live', 'file']),
  /** Capture folder or file. */
  path: z.string(),
  /** Records in the trace now: positions 0..count-1, of which the first `dropped` are gone. */
  count: z.number(),
  /**
   * Records at the start no longer held: a rolling capture (ring mode) deleted their segments.
   * Rows, stats, windows and exports cover positions dropped..count-1 only.
   */
  dropped: z.number(),
  board: z.string(),
  revision: z.string().nullable(),
  queueFormat: z.string().nullable(),
  link: z.string(),
  /** Clock anchors of the capture start, ns as decimal strings. */
  startMonoNs: z.string(),
  startWallNs: z.string(),
  /** First and last record time, ns from the start; null while empty. */
  firstNs: z.number().nullable(),
  lastNs: z.number().nullable(),
  notes: z.array(z.string()),
  /** Record bytes held in memory now, and the bound (older blocks are re-read from disk). */
  residentBytes: z.number(),
  residentLimit: z.number(),
});
export type TraceInfo = z.infer<typeof traceInfoSchema>;

/** Columns trace.rows can order by (main/host/service/sortRows.ts reads each from the record). */
export const SORT_COLUMNS = ['seq', 'time', 'dir', 'dev', 'msg', 'token', 'queue', 'size', 'latency'] as const;
export type SortColumn = (typeof SORT_COLUMNS)[number];

/** One row of the trace table. */
export const traceRowSchema = z.object({
  /** Position in the trace (0-based, gap-free), which a filtered view's rows also report. */
  index: z.number(),
  seq: z.number(),
  timeNs: z.number(),
  kind: z.enum(RECORD_KINDS),
  dir: z.enum(DIRECTIONS).nullable(),
  dev: z.number().nullable(),
  /** Bus queue of a message, virtqueue of a vq-index record. */
  channel: z.number(),
  name: z.string(),
  token: z.number(),
  size: z.number(),
  /** What the record says beyond its name, dev and token (describeRecord().detail): a message's fields, a marker's text. */
  summary: z.string(),
  /** Responses: ns since the request. */
  latencyNs: z.number().nullable(),
  /** A response's request, or the request a no-response marker is about. */
  pairSeq: z.number().nullable(),
  problems: z.array(z.enum(PROBLEM_CODES)),
  /** trace.rows: ns since the previous record of the trace, whatever the filter (absent for the first record held). */
  deltaNs: z.number().optional(),
  /** With trace.rows' colourRules: the index of the first rule the record matches (absent when none does). */
  colour: z.number().optional(),
});
export type TraceRow = z.infer<typeof traceRowSchema>;

/** A field of a message with where it lies in the bytes, for the hex pane's highlighting. */
export const recordFieldSchema = z.object({
  name: z.string(),
  /** Byte offset from the first header byte; size 0 for an absent optional tail. */
  offset: z.number(),
  size: z.number(),
  value: z.union([z.number(), z.string(), z.array(z.number())]),
  part: z.enum(['header', 'payload']),
  /** The value by name where the protocol names it: status bits, feature names, a vendor id's letters, a device type. */
  meaning: z.string().optional(),
});

/** A buffer record's content (record.ts BUFFER_DATA): which way, the chain's head, its full length and the bytes kept. */
export const bufferSchema = z.object({ toDevice: z.boolean(), head: z.number(), length: z.number(), bytes: hexBytesOut });
export type BufferContent = z.infer<typeof bufferSchema>;

export const recordDetailSchema = z.object({
  row: traceRowSchema,
  fields: z.array(recordFieldSchema),
  /** offset: the byte the problem is at; null for a problem the bus endpoint noted (no answer, no request…), which is in no byte. */
  problems: z.array(z.object({ offset: z.number().nullable(), code: z.string(), reason: z.string() })),
  /** The record's data bytes (message bytes, marker text…) as hex pairs. */
  data: hexBytesOut,
  /** Marker, queue-state and finding text. */
  text: z.string().nullable(),
  vqIndex: z.object({ availIdx: z.number(), usedIdx: z.number(), lastSeenUsed: z.number(), inFlight: z.number() }).nullable(),
  /** A buffer record's bytes. */
  buffer: bufferSchema.nullable(),
  flags: z.array(z.string()),
  /** The message's protocol revision (r0, r2…); null for records without a header. */
  revision: z.string().nullable(),
  /** A message's fields its capture's log did not print (CaptureMeta.absent) and the checks that skip them, said once; null when every field was held. */
  unheld: z.string().nullable(),
  /** Wall-clock time of the record, ns since the Unix epoch (the capture's start wall time plus its offset), as a decimal string. */
  wallNs: z.string(),
});
export type RecordDetail = z.infer<typeof recordDetailSchema>;

const nullableNumbers = z.array(z.number().nullable());

export const windowResultSchema = z.object({
  fromNs: z.number(),
  toNs: z.number(),
  bucketNs: z.number(),
  series: z.enum(WINDOW_SERIES),
  count: z.array(z.number()),
  sum: z.array(z.number()),
  min: nullableNumbers,
  max: nullableNumbers,
  /** Seq of each bucket's first record: what a click on the bucket jumps to. */
  first: nullableNumbers,
});

const traffic = z.object({ messages: z.number(), bytes: z.number() });
const histogramBucket = z.object({ fromNs: z.number(), toNs: z.number().nullable(), count: z.number() });

const latencySchema = z.object({
  name: z.string(),
  count: z.number(),
  minNs: z.number(),
  meanNs: z.number(),
  p50Ns: z.number(),
  p90Ns: z.number(),
  p99Ns: z.number(),
  maxNs: z.number(),
  histogram: z.array(histogramBucket),
});

export const traceStatsSchema = z.object({
  records: z.number(),
  firstNs: z.number().nullable(),
  lastNs: z.number().nullable(),
  kinds: z.record(z.enum(RECORD_KINDS), z.number()),
  directions: z.object({ toDevice: traffic, toDriver: traffic }),
  names: z.array(z.object({ name: z.string(), count: z.number(), toDevice: z.number(), toDriver: z.number(), bytes: z.number() })),
  devices: z.array(z.object({ dev: z.number().nullable(), messages: z.number(), toDevice: z.number(), toDriver: z.number(), bytes: z.number() })),
  problems: z.array(z.object({ code: z.enum(PROBLEM_CODES), count: z.number() })),
  latency: z.array(latencySchema),
  throughput: z.object({ originNs: z.number(), bucketNs: z.number(), messages: z.array(z.number()), bytes: z.array(z.number()) }),
  occupancy: z.array(
    z.object({ dev: z.number().nullable(), queue: z.number(), samples: z.number(), maxInFlight: z.number(), lastInFlight: z.number(), maxPerBucket: nullableNumbers }),
  ),
  findings: z.array(z.object({ rule: z.string(), severity: z.enum(SEVERITIES), count: z.number() })),
});

/** A request with what ended it, or a virtqueue operation (src/trace/transactions.ts); the records as trace rows. */
export const transactionRowSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('request'),
    name: z.string(),
    dev: z.number().nullable(),
    /** Null when the capture no longer holds it (a rolling capture). */
    request: traceRowSchema.nullable(),
    /** The response, or the NO_RESPONSE marker of the request's timeout. */
    end: traceRowSchema,
    outcome: z.enum(['answered', 'no-response', 'late']),
    latencyNs: z.number().nullable(),
  }),
  z.object({
    kind: z.literal('virtqueue'),
    dev: z.number(),
    queue: z.number(),
    /** EVENT_AVAIL; then the vq-index record where used.idx covered its buffers, and EVENT_USED (null until seen). */
    avail: traceRowSchema,
    usedEntry: traceRowSchema.nullable(),
    eventUsed: traceRowSchema.nullable(),
    /** Used entries collected in the step that completed it. */
    entries: z.number(),
    /** The chains' bytes the driver published and got back used (buffer records), in record order. */
    buffers: z.array(bufferSchema.extend({ seq: count })),
    /** EVENT_AVAIL to the used entries (to EVENT_USED until those are seen); null while in flight. */
    latencyNs: z.number().nullable(),
  }),
]);
export type TransactionRow = z.infer<typeof transactionRowSchema>;

export const transactionsResultSchema = z.object({
  total: count,
  from: count,
  rows: z.array(transactionRowSchema),
  /** Latency of each virtqueue's operations (workload latency), by device then queue. */
  queueLatency: z.array(latencySchema.extend({ dev: z.number(), queue: z.number(), operations: z.number() })),
});

export const expertReportSchema = z.object({
  checked: z.number(),
  errors: z.number(),
  warnings: z.number(),
  infos: z.number(),
  groups: z.array(
    z.object({
      rule: z.string(),
      severity: z.enum(SEVERITIES),
      description: z.string(),
      /** Where the rule is written down: "docs/protocol.md §7". */
      docs: z.string(),
      count: z.number(),
      /** The first items (src/trace/expert.ts EXPERT_KEPT), in record order. */
      items: z.array(z.object({ seq: z.number(), dev: z.number().nullable(), message: z.string() })),
    }),
  ),
});

// ---- requests -----------------------------------------------------------------------------------

/** A workload request: its kind picks the device type's workload, whose own schema checks the params. */
type WorkloadRequest<W, Extra extends z.ZodRawShape> =
  W extends WorkloadSpec<infer Kind, infer Params> ? z.ZodObject<{ devNum: typeof devNum; kind: z.ZodLiteral<Kind>; params: Params } & Extra, z.core.$strict> : never;
/** The request of every registered workload kind, with `extra` fields beside devNum, kind and params. */
function workloadRequest<Extra extends z.ZodRawShape>(extra: Extra) {
  type Any = WorkloadRequest<RegisteredWorkloadSpec, Extra>;
  const requests = [...WORKLOADS.values()].map(({ workload: w }) => z.object({ devNum, kind: z.literal(w.kind), params: w.params, ...extra }).strict());
  return z.discriminatedUnion('kind', requests as unknown as [Any, ...Any[]], { error: `expected kind one of ${WORKLOAD_KINDS.map((k) => `"${k}"`).join(', ')}` });
}
const workloadParams = workloadRequest({});
/** A load: the workload `count` times back to back, or with count null until it is stopped (as `exercise --count`). */
const loadParams = workloadRequest({ count: z.number().int().min(1).max(100_000_000).nullable() });

const workloadResult = z.object({
  kind: z.enum(WORKLOAD_KINDS as [WorkloadKind, ...WorkloadKind[]]),
  devNum: z.number(),
  /** Whether the device did what was asked; `error` says why not. */
  succeeded: z.boolean(),
  error: z.string().nullable(),
  latencyUs: z.number(),
  /** The bytes the device returned, one entry per read (i2c-transfer: each read segment; rng-read: the random bytes; console-send with echo: the echo). */
  reads: z.array(hexBytesOut),
});

/** The latency of a load's operations that succeeded, in µs, over its last `samples` of them. */
const latencySummarySchema = z.object({ samples: z.number(), last: z.number(), p50: z.number(), p99: z.number(), max: z.number(), mean: z.number() });

/** Where a load is: operations done and failed, live latency, the first distinct failures. */
export const loadProgressSchema = z.object({
  devNum: z.number(),
  kind: z.enum(WORKLOAD_KINDS as [WorkloadKind, ...WorkloadKind[]]),
  /** Operations asked for; null: until stopped. */
  count: z.number().nullable(),
  done: z.number(),
  failed: z.number(),
  running: z.boolean(),
  elapsedMs: z.number(),
  latencyUs: latencySummarySchema.nullable(),
  /** The latest latencies (µs, oldest first) for a live chart. */
  recentUs: z.array(z.number()),
  /** The first failures that differ from each other, each saying which operation. */
  errors: z.array(z.string()),
  /** Why it stopped before `count` (stopped by the user, the session ended); null while running or when all ran. */
  stopped: z.string().nullable(),
});
export type LoadProgress = z.infer<typeof loadProgressSchema>;

/** Console text as the terminal sends it (UTF-8 on the wire). */
const consoleText = z.string().min(1).max(4096);

const windowParams = z
  .object({
    fromNs: timeNs,
    toNs: timeNs,
    buckets: z.number().int().min(1).max(100_000),
    series: z.enum(WINDOW_SERIES),
    filter: filter.optional(),
    dev: devNum.optional(),
    queue: z.number().int().min(0).max(0xffff).optional(),
  })
  .strict()
  .refine((q) => q.toNs > q.fromNs, { path: ['toNs'], message: 'expected toNs greater than fromNs' });

const exportParams = z
  .object({
    format: z.enum(EXPORT_FORMATS),
    /** Output file on the engine's machine. */
    out: z.string().min(1).max(4096),
    filter: filter.optional(),
    fromNs: timeNs.optional(),
    toNs: timeNs.optional(),
    /** Only these records (by seq): the records chosen in a view. At most 100,000, which keeps a request within the web mode's 1 MiB message. */
    seqs: z.array(count).min(1).max(100_000).optional(),
    /** Replace an existing file; without it an existing `out` is refused with code "exists". */
    overwrite: z.boolean().optional(),
  })
  .strict()
  .refine((q) => q.fromNs === undefined || q.toNs === undefined || q.toNs > q.fromNs, { path: ['toNs'], message: 'expected toNs greater than fromNs' });

const connectParams = z
  .object({
    /** A built-in board id (boards.list); without board and profileText the default simulated board. */
    board: z.string().min(1).max(200).optional(),
    /** A board profile file's text, validated as profile.validate does. */
    profileText: z.string().min(1).max(1 << 20).optional(),
    fileName: z.string().min(1).max(4096).optional(),
    /** A link spec as the CLI's --link takes it (sim, shm-file:FILE, serial:PORT@BAUD, pci[:BDF]…). */
    link: z.string().min(1).max(4096).optional(),
    /** 'device': the workbench serves the profile's devices to the driver on `link` (linux-loopback, shm-file, ivshmem); 'monitor': it watches the board's driver and device read-only (default 'driver'). */
    role: z.enum(['driver', 'device', 'monitor']).optional(),
    /** With role 'device': KIND[:DEV_NUM],… instead of the profile's sim.devices. */
    devices: z.string().min(1).max(1000).optional(),
  })
  .strict()
  .refine((p) => p.board === undefined || p.profileText === undefined, { path: ['profileText'], message: 'expected either board or profileText, not both' });

function method<P extends z.ZodType, R extends z.ZodType>(params: P, result: R, readOnly: boolean) {
  return { params, result, readOnly };
}

export const WORKBENCH_METHODS = {
  'boards.list': method(none, z.object({ boards: z.array(boardInfoSchema) }), true),
  'profile.validate': method(
    z.object({ text: z.string().max(1 << 20), fileName: z.string().min(1).max(4096) }).strict(),
    z.union([z.object({ valid: z.literal(true), id: z.string(), description: z.string() }), z.object({ valid: z.literal(false), errors: z.array(profileErrorSchema) })]),
    true,
  ),
  'session.connect': method(connectParams, sessionStateSchema.extend({ bringUpError: z.string().nullable() }), false),
  'session.disconnect': method(none, z.object({ capture: z.string().nullable(), records: count }), false),
  'session.state': method(none, sessionStateSchema, true),
  /** Transport-level: makes the caller the one controlling client (web mode); in-process callers always control. */
  'session.takeControl': method(none, z.object({ controller: z.literal(true) }), true),
  'device.reset': method(z.object({ devNum }).strict(), z.object({ device: deviceJsonSchema }), false),
  'device.workload': method(workloadParams, workloadResult, false),
  /** Starts a load on a device (one per device); device.load events report it live until it ends. */
  'device.load': method(loadParams, loadProgressSchema, false),
  /** Stops a device's load after the operation in progress; answers where it ended. */
  'device.stopLoad': method(z.object({ devNum }).strict(), loadProgressSchema, false),
  /** Starts reading a virtio-console's receiveq: console.output events carry what the device writes. */
  'console.open': method(z.object({ devNum }).strict(), z.object({ devNum: z.number() }), false),
  'console.write': method(z.object({ devNum, text: consoleText }).strict(), z.object({ devNum: z.number(), bytes: count }), false),
  'console.close': method(z.object({ devNum }).strict(), z.object({ devNum: z.number() }), false),
  'queue.inspect': method(
    z.object({ devNum, queue: z.number().int().min(0).max(0xffff) }).strict(),
    z.object({ devNum: z.number(), queue: z.number(), name: z.string(), ring: ringStateSchema }),
    true,
  ),
  /** The buffer a descriptor points at, as it is in memory now (at most QUEUE_BUFFER_MAX bytes). */
  'queue.buffer': method(
    z.object({ devNum, queue: z.number().int().min(0).max(0xffff), desc: z.number().int().min(0).max(0x7fff) }).strict(),
    z.object({ devNum: z.number(), queue: z.number(), index: z.number(), addr: z.string(), len: z.number(), flags: z.string(), bytes: hexBytesOut, truncated: z.boolean() }),
    true,
  ),
  'trace.info': method(none, traceInfoSchema, true),
  'trace.rows': method(
    /** colourRules: filters tried in order on each row returned, as Wireshark's colouring rules; the row says the first that matches. */
    z
      .object({
        from: count,
        count: z.number().int().min(1).max(5000),
        filter: filter.optional(),
        colourRules: z.array(filter).max(16).optional(),
        /** Rows ordered by a column instead of by position (ties by position); a view of at most 2,000,000 rows, sorted as it stands when asked. */
        sort: z.object({ column: z.enum(SORT_COLUMNS), descending: z.boolean() }).strict().optional(),
      })
      .strict(),
    /** total: rows in the (filtered) view now; rows from `from`, fewer at the end. */
    z.object({ total: count, from: count, rows: z.array(traceRowSchema) }),
    true,
  ),
  'trace.record': method(z.object({ seq: count }).strict(), recordDetailSchema, true),
  /**
   * Encoded trace records (src/trace/record.ts) from position `from`, for a program that writes
   * them on (the Wireshark extcap's live session): `records` is their bytes back to back, base64,
   * for positions [from, next) (records a rolling capture no longer holds left out); `meta` the
   * capture's metadata as capture.json holds it.
   */
  'trace.records': method(
    z.object({ from: count, max: z.number().int().min(1).max(20_000) }).strict(),
    z.object({ from: count, next: count, total: count, records: z.string(), meta: z.record(z.string(), z.unknown()) }),
    true,
  ),
  'trace.window': method(windowParams, windowResultSchema, true),
  'trace.stats': method(z.object({ filter: filter.optional() }).strict(), traceStatsSchema, true),
  'trace.expert': method(none, expertReportSchema, true),
  /** A page of the request transactions or the virtqueue operations (without `from`: the last page); total: how many there are now. */
  'trace.transactions': method(
    z.object({ kind: z.enum(['requests', 'virtqueue']), from: count.optional(), count: z.number().int().min(1).max(1000) }).strict(),
    transactionsResultSchema,
    true,
  ),
  'trace.bookmark': method(z.object({ text: z.string().min(1).max(1000) }).strict(), z.object({ seq: count }), false),
  /** dropped: records a rolling capture no longer held when the export began (not in the file). */
  'trace.export': method(exportParams, z.object({ out: z.string(), written: count, scanned: count, bytes: count, dropped: count }), false),
  /** Stops the running export; its trace.export call then fails with code "cancelled" and no file is left. */
  'trace.cancelExport': method(none, z.object({ out: z.string() }), false),
  'capture.open': method(z.object({ path: z.string().min(1).max(4096) }).strict(), traceInfoSchema, false),
  /** The newest captures in the engine's captures folder, for the Connect screen. */
  'capture.recent': method(none, z.object({ folder: z.string(), captures: z.array(recentCaptureSchema) }), true),
} as const;

/**
 * Each request as the user would name what they asked for, for messages about a request as a
 * whole (it failed, timed out, was refused): a message never names the API method.
 */
export const METHOD_ACTIONS: Readonly<Record<keyof typeof WORKBENCH_METHODS, string>> = {
  'boards.list': 'listing the boards',
  'profile.validate': 'checking the board profile',
  'session.connect': 'connecting the board',
  'session.disconnect': 'disconnecting',
  'session.state': 'reading the session state',
  'session.takeControl': 'taking control',
  'device.reset': 'resetting the device',
  'device.workload': 'running the workload',
  'device.load': 'starting the load',
  'device.stopLoad': 'stopping the load',
  'console.open': 'opening the console',
  'console.write': 'writing to the console',
  'console.close': 'closing the console',
  'queue.inspect': 'reading the queue',
  'queue.buffer': 'reading the buffer',
  'trace.info': 'reading the trace',
  'trace.rows': 'reading the trace rows',
  'trace.record': 'reading the record',
  'trace.records': 'reading the records',
  'trace.window': 'reading the timeline',
  'trace.stats': 'computing the statistics',
  'trace.expert': 'checking the capture',
  'trace.transactions': 'reading the transactions',
  'trace.bookmark': 'adding the bookmark',
  'trace.export': 'the export',
  'trace.cancelExport': 'cancelling the export',
  'capture.open': 'opening the capture',
  'capture.recent': 'listing the recent captures',
};

type Methods = typeof WORKBENCH_METHODS;
export type WorkbenchMethod = keyof Methods;
export const METHOD_NAMES = Object.keys(WORKBENCH_METHODS) as WorkbenchMethod[];
/** What a caller sends. */
export type WorkbenchParams<M extends WorkbenchMethod> = z.input<Methods[M]['params']>;
/** Params after validation (hex strings decoded to bytes). */
export type WorkbenchParsedParams<M extends WorkbenchMethod> = z.output<Methods[M]['params']>;
export type WorkbenchResult<M extends WorkbenchMethod> = z.output<Methods[M]['result']>;

/** Methods a read-only viewer may call (web mode: every client but the controlling one). */
export function isReadOnly(method: WorkbenchMethod): boolean {
  return WORKBENCH_METHODS[method].readOnly;
}

// ---- errors -------------------------------------------------------------------------------------

/** "exists": the file a request would write is there already (trace.export without overwrite). */
export const ERROR_CODES = ['bad-request', 'unknown-method', 'read-only', 'no-session', 'busy', 'not-found', 'exists', 'bad-filter', 'cancelled', 'failed'] as const;
export type WorkbenchErrorCode = (typeof ERROR_CODES)[number];

export const workbenchErrorSchema = z.object({
  code: z.enum(ERROR_CODES),
  /** A whole sentence: what was expected, what was seen, where, and what to try. */
  message: z.string(),
  /** The request field at fault, e.g. "params.devNum". */
  field: z.string().optional(),
  /** Filter errors: 1-based column in the filter text. */
  column: z.number().optional(),
  /** The request that failed, for programs and logs: the message never names API methods. */
  method: z.string().optional(),
  /** An internal failure's own text (a bug report's material), which the message does not repeat. */
  detail: z.string().optional(),
});
export type WorkbenchError = z.infer<typeof workbenchErrorSchema>;

export type WorkbenchResponse<M extends WorkbenchMethod> = { ok: true; result: WorkbenchResult<M> } | { ok: false; error: WorkbenchError };

export function workbenchError(code: WorkbenchErrorCode, message: string, extra: { field?: string; column?: number; method?: string; detail?: string } = {}): { ok: false; error: WorkbenchError } {
  return { ok: false, error: { code, message, ...extra } };
}

// ---- events -------------------------------------------------------------------------------------

export const WORKBENCH_EVENTS = {
  /** Attach progress through the bus handshake (AttachStage of src/bus/queue.ts). */
  'session.stage': z.object({ stage: z.string(), detail: z.string() }),
  /** A device's state changed. */
  'session.device': z.object({ device: deviceJsonSchema }),
  /** A device's load moved on (a few times a second while it runs, and once when it ends). */
  'device.load': loadProgressSchema,
  /** What a console device wrote (hex bytes, UTF-8 text as a rule); `ended` says why its reader stopped (null while it reads). */
  'console.output': z.object({ devNum: z.number(), data: hexBytesOut, ended: z.string().nullable() }),
  /** The session ended: disconnected (lost false), or lost under the user (board reset, link or engine died). */
  'session.closed': z.object({ reason: z.string(), capture: z.string().nullable(), lost: z.boolean() }),
  /** The trace grew by `count` records to `total`; the UI pulls rows. Coalesced by transports. */
  /**
   * total: rows of the unfiltered view; dropped: records a rolling capture no longer holds at its
   * start (trace.info's), absent when none — when it grows, row i is another record than before.
   */
  'trace.appended': z.object({ count, total: count, dropped: count.optional() }),
  /** A trace was opened or a new session started recording: views restart from empty. */
  'trace.reset': traceInfoSchema,
  'export.progress': z.object({ out: z.string(), done: count, total: count }),
  /** Web mode: whether this client now controls the session. */
  'control.changed': z.object({ controller: z.boolean() }),
} as const;

type Events = typeof WORKBENCH_EVENTS;
export type WorkbenchEventName = keyof Events;
export type WorkbenchEventData<E extends WorkbenchEventName> = z.output<Events[E]>;
export type WorkbenchEvent = { [E in WorkbenchEventName]: { event: E; data: WorkbenchEventData<E> } }[WorkbenchEventName];

/** What every binding (in-process service, IPC, WebSocket client) offers. */
export interface WorkbenchApi {
  call<M extends WorkbenchMethod>(method: M, params: WorkbenchParams<M>): Promise<WorkbenchResponse<M>>;
  onEvent(listener: (event: WorkbenchEvent) => void): () => void;
}

// ---- validation ---------------------------------------------------------------------------------

export type ParsedRequest = { [M in WorkbenchMethod]: { method: M; params: WorkbenchParsedParams<M> } }[WorkbenchMethod];

/** Validates a request from outside; an error names the field, what was expected and what was seen. */
export function parseRequest(method: unknown, params: unknown): Result<ParsedRequest, WorkbenchError> {
  if (typeof method !== 'string' || !Object.hasOwn(WORKBENCH_METHODS, method)) {
    // Only a program sends an unknown method (the page is built against this list): the likely cause is a version mismatch.
    return workbenchError('unknown-method', `the workbench does not know the request ${describeValue(method)}; the page and the engine may be from different versions: reload the page`, {
      field: 'method',
      ...(typeof method === 'string' ? { method } : {}),
    });
  }
  const m = method as WorkbenchMethod;
  const r = WORKBENCH_METHODS[m].params.safeParse(params ?? {});
  if (r.success) return { ok: true, value: { method: m, params: r.data } as ParsedRequest };
  const issue = r.error.issues[0]!;
  let path = issue.path;
  let text: string;
  if (issue.code === 'unrecognized_keys') {
    path = [...path, ...issue.keys.slice(0, 1)];
    text = `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}; check the spelling`;
  } else {
    text = `${expectedText(issue)}, saw ${describeValue(valueAt(params, issue.path))}`;
  }
  const field = fieldName(path, 'params');
  const more = r.error.issues.length > 1 ? ` (and ${r.error.issues.length - 1} more problem${r.error.issues.length > 2 ? 's' : ''})` : '';
  return workbenchError('bad-request', `${fieldName(path) || 'the request'}: ${text}${more}`, { field, method: m });
}

// ---- conversions --------------------------------------------------------------------------------

function features(d: DeviceState): z.infer<typeof featureSchema>[] {
  const out: z.infer<typeof featureSchema>[] = [];
  for (let bit = 0, rest = d.featuresOffered | d.featuresNegotiated; rest > 0n; bit++, rest >>= 1n) {
    if ((rest & 1n) === 0n) continue;
    const b = 1n << BigInt(bit);
    out.push({ bit, name: featureName(bit, d.deviceId), offered: (d.featuresOffered & b) !== 0n, negotiated: (d.featuresNegotiated & b) !== 0n });
  }
  return out;
}

/** A device's state as JSON: bigints as hex strings, config bytes as hex and decoded fields. */
export function deviceToJson(d: DeviceState): DeviceJson {
  const configFields: ConfigField[] = decodeConfig(d.deviceId, d.config, d.featuresNegotiated) ?? [];
  return {
    devNum: d.devNum,
    phase: d.phase,
    deviceId: d.deviceId,
    deviceType: d.deviceType,
    deviceName: deviceDisplayName(d.deviceId),
    vendorId: hex32(d.vendorId),
    uuid: d.uuid,
    status: d.status,
    statusNames: statusNames(d.status),
    featuresOffered: hexNum(d.featuresOffered),
    featuresNegotiated: hexNum(d.featuresNegotiated),
    features: features(d),
    configSize: d.configSize,
    config: toHex(d.config, ''),
    configFields,
    generation: d.generation,
    maxVirtqueues: d.maxVirtqueues,
    queues: d.queues.map((q) => ({
      index: q.index,
      name: q.name,
      size: q.size,
      maxSize: q.maxSize,
      descAddr: hexNum(q.descAddr),
      driverAddr: hexNum(q.driverAddr),
      deviceAddr: hexNum(q.deviceAddr),
      usedEvents: q.usedEvents,
    })),
    shm: d.shm.map((r) => ({ shmid: r.shmid, length: hexNum(r.length), address: hexNum(r.address) })),
    error: d.error ?? null,
    findings: [...d.findings],
  };
}

export type BoardPresence = z.infer<typeof boardInfoSchema>['presence'];

/** A profile as boards.list shows it, with what the engine found of its hardware. */
export function boardInfo(p: BoardProfile, defaultId: string, presence: BoardPresence): z.infer<typeof boardInfoSchema> {
  return {
    id: p.id,
    description: p.description,
    format: p.bus.format,
    revision: p.bus.revision ?? null,
    simulated: p.access.kind === 'sim',
    default: p.id === defaultId,
    devices: (p.sim?.devices ?? []).map((d) => ({ devNum: d.devNum, kind: d.kind })),
    presence,
  };
}
