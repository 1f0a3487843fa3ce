/**
 * A recorded session: the board's session with a recorder whose chunks go to a journal on disk.
 * However the session ends (closed, failed to attach, board gone) the journal is closed with
 * everything recorded up to then, including the marker that says what went wrong.
 */
import type { BoardProfile } from '../../../src/api/boardProfile';
import { CAPTURE_FORMAT, type CaptureMeta } from '../../../src/trace/meta';
import { Recorder } from '../../../src/trace/recorder';
import type { Runtime } from '../../../src/util/runtime';
import { nodeRuntime } from '../runtime';
import type { LinkSpec } from '../links/open';
import { attachSession, openLink, type Session, type SessionOptions } from '../session';
import { systemErrorText } from '../systemError';
import { appName } from '../version';
import { JournalWriter } from './journal';
import { errorText } from '../../../src/util/errorText';

export interface CaptureOptions extends Omit<SessionOptions, 'recorder'> {
  /** Capture folder (new or empty). */
  dir: string;
  /** Ring mode: keep only about the newest this many bytes. */
  ringBytes?: number;
  link?: LinkSpec;
  notes?: string[];
}

export interface RecordedSession {
  session: Session;
  recorder: Recorder;
  journal: JournalWriter;
  /** Closes the session and the journal; returns the number of records written. */
  stop(): Promise<number>;
}

export class CaptureError extends Error {
  constructor(
    message: string,
    /** Records kept in the capture folder despite the failure. */
    readonly records: number,
  ) {
    super(message);
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

/** Opens the board's link, starts the journal and attaches a recorded session. */
export async function startCapture(profile: BoardProfile, opts: CaptureOptions): Promise<RecordedSession> {
  const runtime = opts.runtime ?? nodeRuntime;
  const link = await openLink(profile, opts);
  const meta = captureMeta(profile, link.description, runtime, opts.notes ?? []);
  let journal: JournalWriter;
  try {
    journal = new JournalWriter({ dir: opts.dir, meta, ...(opts.ringBytes ? { ringBytes: opts.ringBytes } : {}) });
  } catch (e) {
    await link.close();
    throw new CaptureError(`cannot start the capture in ${opts.dir}: ${systemErrorText(e)}`, 0);
  }
  const recorder = new Recorder({
    runtime,
    sink: journal,
    revision: profile.bus.revision ?? null,
    maxMessageSize: profile.bus.maxMessageSize,
    responseTimeoutMs: profile.bus.timeouts?.responseMs ?? 1000,
    startMonoNs: meta.startMonoNs,
    startWallNs: meta.startWallNs,
    conformance: { peer: profile.peer ?? null },
  });
  const finish = (): number => {
    recorder.close();
    journal.close(BigInt(runtime.wallMs()) * 1_000_000n);
    return journal.recordCount;
  };
  let session: Session;
  try {
    session = await attachSession(profile, link, { ...opts, recorder });
  } catch (e) {
    const records = finish();
    throw new CaptureError(errorText(e), records);
  }
  return {
    session,
    recorder,
    journal,
    async stop() {
      try {
        await session.close();
      } finally {
        finish();
      }
      return journal.recordCount;
    },
  };
}
