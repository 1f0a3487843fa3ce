/**
 * Importing a message log of a bus we cannot attach to (FF-A between Linux and a secure
 * partition, Xen's virtio-msg bus, a remote processor's firmware log) as a capture: the log is
 * read by a preset (presets.ts), the revision taken from the preset or the bytes
 * (src/protocol/detect.ts), and every message recorded by the same Recorder a live session uses
 * — so problems, request/response pairing, latency, no-response markers and conformance findings
 * are those a live capture of the same traffic would have. docs/formats.md §5.
 *
 * The log is read twice, line by line, and never held: a first pass (planImport) tells the
 * format, the revision and the clock's span; a second (importedMessages, recordImport) records.
 * Memory stays flat whatever the log's size.
 */
import { decodeHeader, detectRevision, REVISIONS, XEN_MAX_MSG_SIZE, type Revision, type RevisionGuess } from '../../protocol/index';
import type { Direction } from '../../protocol/types';
import type { Result } from '../../util/result';
import type { Runtime } from '../../util/runtime';
import { uncheckedNote, type AbsentField } from '../conformance';
import { CAPTURE_FORMAT, type CaptureMeta } from '../meta';
import { Recorder, type RecordChunkSink } from '../recorder';
import { directionOf, GUESS_ORDER, isXenLine, LOG_FORMATS, PRESETS, type LoggedMessage, type LogFormat, type LogReader } from './presets';

export interface ImportOptions {
  /** The log's format; undefined: guessed from its lines. */
  format?: LogFormat;
  /** The wire revision; undefined: the preset's, else detected from the bytes. */
  revision?: Revision;
}

/** What the first pass learnt: how to read the log and what the capture spans. */
export interface ImportPlan {
  format: LogFormat;
  revision: Revision;
  /** The detection when the revision came from the bytes. */
  guess: RevisionGuess | null;
  maxMessageSize: number | undefined;
  /** Fields the log does not print: the capture meta says so, and no rule judges them. */
  absent: AbsentField[];
  /** Messages in the log, and the log-clock times of the first and the last as recorded. */
  count: number;
  firstNs: bigint;
  lastNs: bigint;
  notes: string[];
}

/** A message as recorded: on the log's clock made monotonic, with a direction. */
export type ImportedMessage = LoggedMessage & { timeNs: bigint; dir: Direction };

/** The Recorder's flush interval (its default flushMs), on the log's clock. */
const FLUSH_NS = 100_000_000n;

/** Messages the revision is detected from (detectRevision decodes each as every revision). */
const DETECT_FRAMES = 4096;

/** Messages without a time in the log are this far apart, in log order. */
const STEP_NS = 1000n;

/** The log's own clock where it has one; lines without a time follow the one before by STEP_NS, times never go back. */
class LogClock {
  prev: bigint | null = null;
  untimed = 0;
  backwards = 0;

  place(timeNs: bigint | null): bigint {
    let t = timeNs;
    if (t === null) {
      this.untimed++;
      t = this.prev === null ? 0n : this.prev + STEP_NS;
    } else if (this.prev !== null && t < this.prev) {
      this.backwards++;
      t = this.prev;
    }
    this.prev = t;
    return t;
  }
}

/** One preset's reading of the log in the first pass: what choosing it would give. */
interface Candidate {
  format: LogFormat;
  reader: LogReader;
  count: number;
  /** The first DETECT_FRAMES messages with their bytes, for detection, out of `withBytes`. */
  frames: Uint8Array[];
  withBytes: number;
  /** A message outside Xen's variant (over 44 bytes, or a bus message). */
  notXen: boolean;
  clock: LogClock;
  firstNs: bigint;
  undirected: number;
}

function candidate(format: LogFormat): Candidate {
  const c: Omit<Candidate, 'reader'> = { format, count: 0, frames: [], withBytes: 0, notXen: false, clock: new LogClock(), firstNs: 0n, undirected: 0 };
  const reader = PRESETS[format].reader((m) => {
    const t = c.clock.place(m.timeNs);
    if (c.count++ === 0) c.firstNs = t;
    if (m.dir === null) c.undirected++;
    if (m.headerOnly) return;
    if (c.withBytes++ < DETECT_FRAMES) c.frames.push(m.bytes);
    if (m.bytes.length > XEN_MAX_MSG_SIZE || (m.bytes[0]! & 2) !== 0) c.notXen = true;
  });
  return Object.assign(c, { reader });
}

/** The first pass over the log's lines: its format (given, or the most specific preset that finds messages), revision and span. */
export function planImport(lines: Iterable<string>, opts: ImportOptions = {}): Result<ImportPlan> {
  const candidates = (opts.format === undefined ? GUESS_ORDER : [opts.format]).map(candidate);
  let n = 0;
  let xenConsole = false;
  // Xen's preset only for a log with Xen's console prefix.
  const eligible = (c: Candidate): boolean => c.count > 0 && (opts.format !== undefined || c.format !== 'xen' || xenConsole);
  for (const line of lines) {
    n++;
    if (!xenConsole && isXenLine(line)) xenConsole = true;
    for (const c of candidates) c.reader.line(line, n);
    // Once a preset qualifies, the less specific ones after it can never be chosen: stop reading with them.
    const first = candidates.findIndex(eligible);
    if (first >= 0 && first < candidates.length - 1) candidates.length = first + 1;
  }
  for (const c of candidates) c.reader.end();
  const chosen = candidates.find(eligible);
  if (chosen === undefined) {
    if (opts.format === undefined) return { ok: false, error: `no virtio-msg message found in ${n} lines; expected one of the formats ${LOG_FORMATS.join(', ')} (amp-workbench import --help shows each)` };
    return { ok: false, error: `no message in the ${opts.format} format found in ${n} lines; expected lines like "${PRESETS[opts.format].example}"` };
  }
  const { format, reader } = chosen;
  const preset = PRESETS[format];
  const notes = [...reader.notes];

  let revision = opts.revision ?? preset.revision ?? null;
  let guess: RevisionGuess | null = null;
  if (revision === null) {
    // A bring-up at the start of the log tells the revision; the rest only costs time.
    guess = detectRevision(chosen.frames);
    if (guess.revision === null) {
      return { ok: false, error: `cannot tell the revision of the ${chosen.count} messages (${guess.evidence.join('; ')}); give --rev ${REVISIONS.join('|')}` };
    }
    revision = guess.revision;
    // Xen's variant is a guess about an unnamed peer (a log whose format names it says who it is),
    // and holds only if the messages past the sample keep to it too.
    if (guess.variant === 'xen' && (format !== 'hex' || chosen.notXen)) guess = { ...guess, variant: null };
    const from = chosen.withBytes > DETECT_FRAMES ? ` of the first ${DETECT_FRAMES} messages` : '';
    notes.push(`revision ${revision} detected from the bytes${from} with ${guess.confidence} confidence${guess.variant === 'xen' ? ", fitting Xen's variant (at most 44 bytes)" : ''}`);
  }
  const maxMessageSize = preset.maxMessageSize ?? (guess?.variant === 'xen' ? XEN_MAX_MSG_SIZE : undefined);

  const { clock, count, undirected } = chosen;
  if (clock.untimed === count) notes.push(`the log has no times: records are ${STEP_NS / 1000n} µs apart in log order, so latencies say nothing`);
  else if (clock.untimed > 0) notes.push(`${clock.untimed} messages without a time are placed ${STEP_NS / 1000n} µs after the message before`);
  if (clock.backwards > 0) notes.push(`${clock.backwards} messages stamped earlier than the message before are placed at its time`);
  if (undirected > 0) notes.push(`${undirected} messages without a direction in the log: requests taken as driver→device, responses and events (EVENT_AVAIL excepted) as device→driver`);
  const absent = [...reader.absent];
  const unchecked = uncheckedNote(absent, `the ${format} log`);
  if (unchecked !== null) notes.push(unchecked);
  return { ok: true, value: { format, revision, guess, maxMessageSize, absent, count, firstNs: chosen.firstNs, lastNs: clock.prev!, notes } };
}

/** The second pass: the log's messages as the plan reads them, one at a time. */
export function* importedMessages(plan: ImportPlan, lines: Iterable<string>): Generator<ImportedMessage> {
  const clock = new LogClock();
  const ready: ImportedMessage[] = [];
  const reader = PRESETS[plan.format].reader((m) => {
    const timeNs = clock.place(m.timeNs);
    const h = m.dir === null ? decodeHeader(m.bytes, plan.revision) : null;
    const dir = m.dir ?? (h === null ? 'driver-to-device' : directionOf(h.type, h.msgId, h.kind === 'event'));
    ready.push({ ...m, timeNs, dir });
  });
  let n = 0;
  for (const line of lines) {
    reader.line(line, ++n);
    if (ready.length > 0) yield* ready.splice(0);
  }
  reader.end();
  yield* ready.splice(0);
}

/** The capture's metadata: the log's clock as the monotonic clock, its end at `endWallNs` (the log file's time). */
export function importMeta(p: ImportPlan, name: string, app: string, endWallNs: bigint): CaptureMeta {
  const peer = PRESETS[p.format].peer;
  return {
    format: CAPTURE_FORMAT,
    app,
    board: `import-${p.format}`,
    boardDescription: `${p.format} log ${name}: ${PRESETS[p.format].source}`,
    revision: p.revision,
    queueFormat: null,
    link: `imported from ${name}`,
    startWallNs: endWallNs - (p.lastNs - p.firstNs),
    startMonoNs: p.firstNs,
    notes: [`imported from ${name} (${p.format} format), ${p.count} messages`, ...p.notes],
    ...(peer ? { peer } : {}),
    ...(p.absent.length > 0 ? { absent: p.absent } : {}),
  };
}

/** Records every message of the log's lines through a Recorder into `sink` (a live capture's rules, the log's clock); returns the record count. */
export function recordImport(p: ImportPlan, lines: Iterable<string>, meta: CaptureMeta, sink: RecordChunkSink): number {
  let now = meta.startMonoNs;
  const runtime: Runtime = {
    monoNs: () => now,
    wallMs: () => Number(meta.startWallNs / 1_000_000n),
    // Flushed by hand below: nothing runs on a timer during an import.
    setTimer: () => () => undefined,
    sleep: () => Promise.resolve(),
  };
  const recorder = new Recorder({
    runtime,
    sink,
    revision: p.revision,
    ...(p.maxMessageSize === undefined ? {} : { maxMessageSize: p.maxMessageSize }),
    startMonoNs: meta.startMonoNs,
    startWallNs: meta.startWallNs,
    conformance: { peer: meta.peer ?? null },
    ...(meta.absent ? { absent: meta.absent } : {}),
  });
  // A live recorder flushes every FLUSH_NS and expires requests then: so does an import, on the log's clock.
  let flushed = now;
  for (const m of importedMessages(p, lines)) {
    now = m.timeNs;
    if (now - flushed >= FLUSH_NS) {
      recorder.flush();
      flushed = now;
    }
    recorder.message(m.dir, m.bytes, m.timeNs);
  }
  recorder.close();
  return recorder.count;
}
