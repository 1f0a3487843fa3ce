/**
 * A session's trace: the recorder and the capture journal it writes into, with the capture's
 * metadata. Every session records: into the capture folder the user named, or, when none is
 * named, into an automatic rolling capture (a ring-mode journal) in the captures folder, of
 * which only the newest few are kept. So every probe, exercise, capture and UI session leaves a
 * trace to open and export, also when it failed.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { BoardProfile } from '../../../src/api/boardProfile';
import { CAPTURE_FORMAT, type CaptureMeta } from '../../../src/trace/meta';
import { Recorder } from '../../../src/trace/recorder';
import { fail, ok, type Result } from '../../../src/util/result';
import type { Runtime } from '../../../src/util/runtime';
import { systemErrorText } from '../systemError';
import { appName } from '../version';
import type { CaptureSource } from '../../../src/trace/source';
import { journalBytes, JournalWriter } from './journal';

/** Where automatic captures go, for the CLI and the service alike, unless told otherwise (AMP_WORKBENCH_CAPTURES). */
export const DEFAULT_CAPTURES_DIR = process.env['AMP_WORKBENCH_CAPTURES'] || join(tmpdir(), 'amp-workbench-captures');
/** An automatic capture keeps about its newest this many bytes. */
export const ROLLING_CAPTURE_BYTES = 64 << 20;
/** Automatic captures kept in a captures folder; older ones that are not being written are deleted. */
export const AUTOMATIC_CAPTURES_KEPT = 20;
/**
 * The file that marks a folder the workbench created on its own (the only ones it ever deletes):
 * it holds the writer's pid while the capture is written, and nothing once it is closed.
 */
const AUTOMATIC_MARK = '.amp-workbench-automatic';

export interface TraceTarget {
  /** The capture folder the user named (new or empty). */
  dir?: string | undefined;
  /** Ring mode: keep only about the newest this many bytes (automatic captures: ROLLING_CAPTURE_BYTES). */
  ringBytes?: number | undefined;
  /** Where the automatic capture goes when no `dir` is named (default DEFAULT_CAPTURES_DIR). */
  capturesDir?: string | undefined;
  notes?: string[] | undefined;
  /** Longest time a record waits before it reaches the journal and the source's followers (default: the recorder's 100 ms). */
  flushMs?: number | undefined;
}

export class Trace {
  private closed = false;

  private constructor(
    /** The capture folder. */
    readonly dir: string,
    /** Whether the workbench chose the folder (a rolling capture it may delete once newer ones exist). */
    readonly automatic: boolean,
    readonly meta: CaptureMeta,
    readonly recorder: Recorder,
    private readonly journal: JournalWriter,
    private readonly runtime: Runtime,
  ) {}

  /** Starts the journal and its recorder for a session on `profile` over the link described by `link`. */
  static start(profile: BoardProfile, link: string, target: TraceTarget, runtime: Runtime): Result<Trace> {
    const meta = captureMeta(profile, link, runtime, target.notes ?? []);
    const automatic = target.dir === undefined;
    const capturesDir = target.capturesDir ?? DEFAULT_CAPTURES_DIR;
    const dir = target.dir ?? automaticDir(capturesDir, profile.id);
    const ringBytes = target.ringBytes ?? (automatic ? ROLLING_CAPTURE_BYTES : undefined);
    let journal: JournalWriter;
    try {
      journal = new JournalWriter({ dir, meta, ...(ringBytes !== undefined ? { ringBytes } : {}) });
      if (automatic) writeFileSync(join(dir, AUTOMATIC_MARK), String(process.pid));
    } catch (e) {
      return fail(`cannot start the capture in ${dir}: ${systemErrorText(e)}`);
    }
    if (automatic) pruneAutomatic(capturesDir);
    const recorder = new Recorder({
      runtime,
      sink: journal,
      revision: profile.bus.revision ?? null,
      maxMessageSize: profile.bus.maxMessageSize,
      responseTimeoutMs: profile.bus.timeouts?.responseMs ?? 1000,
      startMonoNs: meta.startMonoNs,
      startWallNs: meta.startWallNs,
      conformance: { peer: profile.peer ?? null },
      ...(target.flushMs !== undefined ? { flushMs: target.flushMs } : {}),
    });
    return ok(new Trace(dir, automatic, meta, recorder, journal, runtime));
  }

  /** The capture as it is written: the one route by which the trace reaches a store. */
  get source(): CaptureSource {
    return this.journal.source;
  }

  /** Records written to the journal so far (all of them once closed). */
  get records(): number {
    return this.journal.recordCount;
  }

  /** Bytes of the journal's segments on disk. */
  get bytes(): number {
    return journalBytes(this.dir);
  }

  /** Flushes the recorder and closes the journal, the first time only; returns the records written. */
  close(): number {
    if (this.closed) return this.records;
    this.closed = true;
    this.recorder.close();
    this.journal.close(BigInt(this.runtime.wallMs()) * 1_000_000n);
    // No longer written: a later session may delete it once it is not among the newest.
    if (this.automatic) writeFileSync(join(this.dir, AUTOMATIC_MARK), '');
    return this.records;
  }
}

function captureMeta(profile: BoardProfile, link: string, rt: Runtime, notes: string[]): CaptureMeta {
  return {
    format: CAPTURE_FORMAT,
    app: appName(),
    board: profile.id,
    boardDescription: profile.description ?? '',
    revision: profile.bus.revision ?? null,
    queueFormat: profile.bus.format,
    link,
    startWallNs: BigInt(rt.wallMs()) * 1_000_000n,
    startMonoNs: rt.monoNs(),
    notes,
    ...(profile.peer === undefined ? {} : { peer: profile.peer }),
  };
}

/** A new folder name in `capturesDir`: the start time and the board, sorting oldest first. */
function automaticDir(capturesDir: string, board: string): string {
  const base = join(capturesDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${board}`);
  let dir = base;
  // Several in the same millisecond: a numbered suffix that still sorts in order of creation.
  for (let n = 2; existsSync(dir); n++) dir = `${base}-${String(n).padStart(3, '0')}`;
  return dir;
}

/** Whether the automatic capture in `dir` is still being written by a live process. */
function beingWritten(dir: string): boolean {
  const pid = Number(readFileSync(join(dir, AUTOMATIC_MARK), 'utf8'));
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as { code?: unknown }).code === 'EPERM';
  }
}

/**
 * Deletes the automatic captures beyond the newest AUTOMATIC_CAPTURES_KEPT (their names start with
 * their start time), except those being written.
 */
function pruneAutomatic(capturesDir: string): void {
  const automatic = readdirSync(capturesDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(capturesDir, d.name, AUTOMATIC_MARK)))
    .map((d) => d.name)
    .sort()
    .reverse();
  for (const name of automatic.slice(AUTOMATIC_CAPTURES_KEPT)) {
    const dir = join(capturesDir, name);
    try {
      if (!beingWritten(dir)) rmSync(dir, { recursive: true, force: true });
    } catch {
      // Another workbench pruned it first, or it cannot be deleted: the new capture goes on regardless.
    }
  }
}
