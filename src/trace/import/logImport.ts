/**
 * Importing a message log of a bus we cannot attach to (FF-A between Linux and a secure
 * partition, Xen's virtio-msg bus, a remote processor's firmware log) as a capture: the log is
 * read by a preset (presets.ts), the revision taken from the preset or the bytes
 * (src/protocol/detect.ts), and every message recorded by the same Recorder a live session uses
 * — so problems, request/response pairing, latency, no-response markers and conformance findings
 * are those a live capture of the same traffic would have. docs/formats.md §5.
 */
import { decodeHeader, detectRevision, REVISIONS, XEN_MAX_MSG_SIZE, type Revision, type RevisionGuess } from '../../protocol/index';
import type { Direction } from '../../protocol/types';
import type { Result } from '../../util/result';
import type { Runtime } from '../../util/runtime';
import { uncheckedNote, type AbsentField } from '../conformance';
import { CAPTURE_FORMAT, type CaptureMeta } from '../meta';
import { Recorder, type RecordChunkSink } from '../recorder';
import { directionOf, guessFormat, LOG_FORMATS, PRESETS, type LogFormat, type LoggedMessage } from './presets';

export interface ImportOptions {
  /** The log's format; undefined: guessed from its lines. */
  format?: LogFormat;
  /** The wire revision; undefined: the preset's, else detected from the bytes. */
  revision?: Revision;
}

/** A log read and understood, ready to record. */
export interface PreparedImport {
  format: LogFormat;
  revision: Revision;
  /** The detection when the revision came from the bytes. */
  guess: RevisionGuess | null;
  maxMessageSize: number | undefined;
  /** Fields the log does not print: the capture meta says so, and no rule judges them. */
  absent: AbsentField[];
  messages: readonly (LoggedMessage & { timeNs: bigint; dir: Direction })[];
  notes: string[];
}

/** The Recorder's flush interval (its default flushMs), on the log's clock. */
const FLUSH_NS = 100_000_000n;

/** Messages the revision is detected from (detectRevision decodes each as every revision). */
const DETECT_FRAMES = 4096;

/** Messages without a time in the log are this far apart, in log order. */
const STEP_NS = 1000n;

export function prepareImport(text: string, opts: ImportOptions = {}): Result<PreparedImport> {
  const lines = text.split(/\r?\n/);
  let format: LogFormat;
  let log;
  if (opts.format === undefined) {
    const guessed = guessFormat(lines);
    if (guessed === null) {
      return { ok: false, error: `no virtio-msg message found in ${lines.length} lines; expected one of the formats ${LOG_FORMATS.join(', ')} (amp-workbench import --help shows each)` };
    }
    ({ format, log } = guessed);
  } else {
    format = opts.format;
    log = PRESETS[format].parse(lines);
    if (log.messages.length === 0) {
      return { ok: false, error: `no message in the ${format} format found in ${lines.length} lines; expected lines like "${PRESETS[format].example}"` };
    }
  }
  const preset = PRESETS[format];
  const notes = [...log.notes];

  let revision = opts.revision ?? preset.revision ?? null;
  let guess: RevisionGuess | null = null;
  if (revision === null) {
    // A bring-up at the start of the log tells the revision; the rest only costs time.
    const frames = log.messages.filter((m) => !m.headerOnly).map((m) => m.bytes);
    guess = detectRevision(frames.slice(0, DETECT_FRAMES));
    if (guess.revision === null) {
      return { ok: false, error: `cannot tell the revision of the ${log.messages.length} messages (${guess.evidence.join('; ')}); give --rev ${REVISIONS.join('|')}` };
    }
    revision = guess.revision;
    // Xen's variant is a guess about an unnamed peer (a log whose format names it says who it is),
    // and holds only if the messages past the sample keep to it too.
    if (guess.variant === 'xen' && (format !== 'hex' || frames.some((f) => f.length > XEN_MAX_MSG_SIZE || (f[0]! & 2) !== 0))) guess = { ...guess, variant: null };
    const from = frames.length > DETECT_FRAMES ? ` of the first ${DETECT_FRAMES} messages` : '';
    notes.push(`revision ${revision} detected from the bytes${from} with ${guess.confidence} confidence${guess.variant === 'xen' ? ", fitting Xen's variant (at most 44 bytes)" : ''}`);
  }
  const maxMessageSize = preset.maxMessageSize ?? (guess?.variant === 'xen' ? XEN_MAX_MSG_SIZE : undefined);

  // The log's own clock where it has one; lines without a time follow the one before by STEP_NS.
  let prev: bigint | null = null;
  let untimed = 0;
  let backwards = 0;
  const messages = log.messages.map((m) => {
    let t = m.timeNs;
    if (t === null) {
      untimed++;
      t = prev === null ? 0n : prev + STEP_NS;
    } else if (prev !== null && t < prev) {
      backwards++;
      t = prev;
    }
    prev = t;
    const h = decodeHeader(m.bytes, revision);
    const dir = m.dir ?? (h === null ? 'driver-to-device' : directionOf(h.type, h.msgId, h.kind === 'event'));
    return { ...m, timeNs: t, dir };
  });
  if (untimed === messages.length) notes.push(`the log has no times: records are ${STEP_NS / 1000n} µs apart in log order, so latencies say nothing`);
  else if (untimed > 0) notes.push(`${untimed} messages without a time are placed ${STEP_NS / 1000n} µs after the message before`);
  if (backwards > 0) notes.push(`${backwards} messages stamped earlier than the message before are placed at its time`);
  const guessedDirs = log.messages.filter((m) => m.dir === null).length;
  if (guessedDirs > 0) notes.push(`${guessedDirs} messages without a direction in the log: requests taken as driver→device, responses and events (EVENT_AVAIL excepted) as device→driver`);
  const unchecked = uncheckedNote(log.absent, `the ${format} log`);
  if (unchecked !== null) notes.push(unchecked);
  return { ok: true, value: { format, revision, guess, maxMessageSize, absent: log.absent, messages, notes } };
}

/** The capture's metadata: the log's clock as the monotonic clock, its end at `endWallNs` (the log file's time). */
export function importMeta(p: PreparedImport, name: string, app: string, endWallNs: bigint): CaptureMeta {
  const first = p.messages[0]!.timeNs;
  const last = p.messages[p.messages.length - 1]!.timeNs;
  const peer = PRESETS[p.format].peer;
  return {
    format: CAPTURE_FORMAT,
    app,
    board: `import-${p.format}`,
    boardDescription: `${p.format} log ${name}: ${PRESETS[p.format].source}`,
    revision: p.revision,
    queueFormat: null,
    link: `imported from ${name}`,
    startWallNs: endWallNs - (last - first),
    startMonoNs: first,
    notes: [`imported from ${name} (${p.format} format), ${p.messages.length} messages`, ...p.notes],
    ...(peer ? { peer } : {}),
    ...(p.absent.length > 0 ? { absent: p.absent } : {}),
  };
}

/** Records every message through a Recorder into `sink` (a live capture's rules, the log's clock); returns the record count. */
export function recordImport(p: PreparedImport, meta: CaptureMeta, sink: RecordChunkSink): number {
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
  for (const m of p.messages) {
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
