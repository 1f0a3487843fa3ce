/**
 * `--capture` of the extcap (entry.cjs): one Session on the board — which records its trace
 * like every session (docs/code-map.md §6) — whose live capture source is followed and written to
 * Wireshark's FIFO as pcapng, the same blocks `export` writes (src/trace/pcapng.ts), flushed per
 * batch of records as the recorder hands them over. The recorder flushes every FLUSH_MS here
 * (its default is 100 ms), so a message reaches the FIFO well within 100 ms of crossing the bus.
 *
 * A live-session interface instead streams the records of a session a running workbench owns
 * (discovery.ts), over its WebSocket, without opening the board a second time.
 *
 * It stops on SIGTERM/SIGINT (how Wireshark stops an extcap), when Wireshark closes the control
 * pipe or the FIFO (a write fails: never shown to the user), after --duration, or when the board
 * goes away; in every case the session is closed, so the board is left detached.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';

import WebSocket, { type RawData } from 'ws';

import type { BoardProfile } from '../../../src/api/boardProfile';
import { RpcClient, type RpcChannel } from '../../../src/api/rpc';
import { forEachRecord, indexedBlock, indexRecords } from '../../../src/trace/block';
import { metaFromJson } from '../../../src/trace/meta';
import { PcapngWriter } from '../../../src/trace/pcapng';
import { BOARD_OPTIONS, linkOption, loadProfile, onInterrupt } from '../cli/common';
import { exerciseDevices } from '../exercise';
import type { LinkSpec } from '../links/spec';
import { openSession, SessionError, type Session } from '../session';
import { systemErrorText } from '../systemError';
import { osDescription } from '../trace/osInfo';
import { openControl, type ExtcapControl } from './control';
import type { LiveSessionRecord } from './discovery';

/** Recorder flush period for this consumer: records reach the FIFO at most this long after they are recorded. */
export const FLUSH_MS = 10;
/** With nothing to write for this long, a keep-alive block tells whether Wireshark still reads. */
const KEEP_ALIVE_MS = 1000;

const OPTIONS = {
  ...BOARD_OPTIONS,
  capture: { type: 'boolean' },
  'extcap-interface': { type: 'string' },
  'extcap-version': { type: 'string' },
  'extcap-capture-filter': { type: 'string' },
  'extcap-control-in': { type: 'string' },
  'extcap-control-out': { type: 'string' },
  fifo: { type: 'string' },
  exercise: { type: 'boolean' },
  duration: { type: 'string' },
} as const;

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });

/** The options a capture uses; those a newer Wireshark adds (its log level, say) are passed over, not refused. */
function parseOptions(argv: string[]) {
  const v = parseArgs({ args: argv, options: OPTIONS, strict: false }).values;
  const text = (k: keyof typeof OPTIONS): string | undefined => {
    const x = v[k];
    return typeof x === 'string' ? x : undefined;
  };
  return {
    board: text('board'),
    profile: text('profile'),
    link: text('link'),
    fifo: text('fifo'),
    controlIn: text('extcap-control-in'),
    controlOut: text('extcap-control-out'),
    duration: text('duration'),
    exercise: v['exercise'] === true,
  };
}
type Values = ReturnType<typeof parseOptions>;

/**
 * Runs one capture for Wireshark: of the board the options name, or of `live`, a running
 * workbench's session. `logControl`: the logger control entry.cjs declares. Resolves to the exit
 * status (0: stopped as asked, 1: the board or the setup failed, 2: bad options).
 */
export async function runExtcapCapture(argv: string[], opts: { live: LiveSessionRecord | null; logControl: number }): Promise<number> {
  const values = parseOptions(argv);
  const live = opts.live;
  const control = openControl(values.controlOut, opts.logControl);
  try {
    return await capture(values, control, live);
  } catch (e) {
    control.error(`the capture failed: ${systemErrorText(e)}`);
    return 1;
  } finally {
    await control.close();
  }
}

/** What a capture's source gets: the options, the writer (already begun by the source), the stop signal and the control pipe. */
interface CaptureRun {
  values: Values;
  writer: PcapngWriter;
  stop: AbortSignal;
  /** True once the user stopped it (SIGTERM, control pipe, FIFO): not a failure. */
  stoppedByUser: () => boolean;
  /** Date.now() after which to stop (Infinity: until stopped). */
  deadline: number;
  control: ExtcapControl;
}
/** Streams records into the writer until stopped; resolves to the failure to report, or null. */
type CaptureSourceRun = (run: CaptureRun) => Promise<string | null>;

async function capture(values: Values, control: ExtcapControl, live: LiveSessionRecord | null): Promise<number> {
  if (values.fifo === undefined) {
    control.error('the capture needs --fifo PATH (Wireshark passes it)');
    return 2;
  }
  const durationS = values.duration === undefined ? 0 : Number(values.duration);
  if (!Number.isInteger(durationS) || durationS < 0) {
    control.error(`"Stop after" expects whole seconds (0: until stopped), saw "${values.duration}"`);
    return 2;
  }
  let source: CaptureSourceRun;
  if (live !== null) source = (run) => streamLiveSession(live, run);
  else {
    try {
      const profile = loadProfile(values);
      const link = linkOption(values.link);
      source = (run) => captureBoard(profile, link, run);
    } catch (e) {
      control.error((e as Error).message);
      return 2;
    }
  }

  const interrupt = onInterrupt();
  const ended = new AbortController();
  const stop = AbortSignal.any([interrupt.signal, ended.signal]);
  const readerGone = (): void => ended.abort('Wireshark stopped reading');
  if (values.controlIn !== undefined) {
    // Wireshark closes its end of the control pipe to stop a capture (where it cannot signal).
    const controlIn = createReadStream(values.controlIn);
    controlIn.on('data', () => undefined);
    controlIn.on('end', readerGone);
    controlIn.on('error', readerGone);
  }
  const fifo = createWriteStream(values.fifo);
  try {
    await Promise.race([once(fifo, 'open'), once(stop, 'abort')]);
  } catch (e) {
    interrupt.dispose();
    control.error(`cannot open Wireshark's capture pipe ${values.fifo}: ${systemErrorText(e)}`);
    return 1;
  }
  if (stop.aborted) {
    interrupt.dispose();
    fifo.destroy();
    return 0;
  }
  // A reader that went away (EPIPE) ends the capture; the error is ours to handle, not the user's to read.
  fifo.on('error', readerGone);
  let lastWrite = Date.now();
  const writer = new PcapngWriter(
    (chunk) => {
      lastWrite = Date.now();
      if (!fifo.destroyed) fifo.write(chunk);
    },
    { os: osDescription() },
  );
  const keepAlive = setInterval(() => {
    if (Date.now() - lastWrite < KEEP_ALIVE_MS || !writer.begun) return;
    writer.keepAlive(BigInt(Date.now()) * 1_000_000n);
    writer.flush();
  }, KEEP_ALIVE_MS);
  let failed: string | null = null;
  try {
    failed = await source({ values, writer, stop, stoppedByUser: () => stop.aborted, deadline: durationS === 0 ? Infinity : Date.now() + durationS * 1000, control });
    return failed === null ? 0 : 1;
  } finally {
    clearInterval(keepAlive);
    if (failed !== null) control.error(failed);
    interrupt.dispose();
    if (!fifo.destroyed) {
      writer.end();
      fifo.end();
      await Promise.race([once(fifo, 'close').catch(() => undefined), sleep(1000, new AbortController().signal)]);
    }
  }
}

/** The board interface: one Session, brought up (and its workloads run), its live trace followed. */
async function captureBoard(profile: BoardProfile, link: { link?: LinkSpec }, run: CaptureRun): Promise<string | null> {
  const { control, stop, writer } = run;
  control.status(`AMP Workbench: attaching to ${profile.id}`);
  let session: Session;
  try {
    session = await openSession(profile, {
      ...link,
      signal: stop,
      capture: { flushMs: FLUSH_MS, notes: [`amp-workbench Wireshark capture --board ${profile.id}`] },
      onStage: (stage, detail) => control.log(`${stage}: ${detail}`),
      onProgress: (p) => control.log(p.kind === 'gave-up' ? `giving up on ${p.skipped.length} advertised device(s)` : `dev ${p.state.devNum} virtio-${p.state.deviceType}: ${p.state.phase}`),
    });
  } catch (e) {
    if (!(e instanceof SessionError)) throw e;
    return run.stoppedByUser() ? null : `capture of ${profile.id} failed: ${e.message}`;
  }
  const { trace } = session;
  writer.begin(trace.meta);
  writer.flush();
  const unfollow = trace.source.follow!((block) => {
    forEachRecord([block], (v) => writer.write(v));
    writer.flush();
  });
  try {
    const probed = await session.probe();
    if (!probed.ok) return run.stoppedByUser() ? null : `bring-up of ${profile.id} failed: ${probed.error}`;
    control.status(`AMP Workbench: ${profile.id}, ${probed.value.length} device(s) up${run.values.exercise ? ', running the workloads' : ''}`);
    while (!stop.aborted && session.endedBecause === null && Date.now() < run.deadline) {
      if (run.values.exercise) {
        const report = await exerciseDevices(session, { count: 10 });
        const errors = report.devices.flatMap((d) => d.errors.map((e) => `dev ${d.devNum}: ${e}`));
        if (errors.length > 0 && !stop.aborted) control.log(`workload round failed: ${errors.join('; ')}`);
      } else await sleep(Math.min(50, run.deadline - Date.now()), stop);
    }
    return session.endedBecause !== null && !run.stoppedByUser() ? `capture of ${profile.id} stopped: ${session.endedBecause}` : null;
  } finally {
    // Closing records the session's end (the DETACH marker), which still reaches the FIFO.
    await session.close();
    unfollow();
  }
}

/** Records asked for per trace.records call. */
const LIVE_PAGE = 5000;
/** Asks for new records this often besides when trace.appended says so (coalesced to 50 ms by the server). */
const LIVE_POLL_MS = 20;

/**
 * A live-session interface: the records of the session a running workbench owns, from its
 * WebSocket (token-guarded, loopback only, as a viewer that never takes control), read in pages
 * from the start, then whenever trace.appended says more arrived and every LIVE_POLL_MS. The
 * board is not touched.
 */
async function streamLiveSession(live: LiveSessionRecord, run: CaptureRun): Promise<string | null> {
  const { control, stop, writer } = run;
  const where = `the workbench (process ${live.pid}, port ${live.port})`;
  const ws = new WebSocket(`ws://127.0.0.1:${live.port}/ws?token=${encodeURIComponent(live.token)}&viewer=1`);
  const opened = await new Promise<string | null>((resolve) => {
    ws.once('open', () => resolve(null));
    ws.once('unexpected-response', (_req, res) => resolve(`${where} refused the connection (HTTP ${res.statusCode}); is it still the one that announced itself?`));
    ws.once('error', (e) => resolve(`cannot reach ${where}: ${systemErrorText(e)}`));
  });
  if (opened !== null) {
    ws.terminate();
    return opened;
  }
  const channel: RpcChannel = {
    send: (m) => ws.send(JSON.stringify(m)),
    onMessage: (listener) =>
      ws.on('message', (data: RawData) => {
        try {
          listener(JSON.parse(String(data)));
        } catch {
          end(`${where} sent a message that is not JSON`);
        }
      }),
    onClose: (listener) => ws.on('close', () => listener(`${where} closed the connection`)),
  };
  const client = new RpcClient(channel);
  let ended: string | null = null;
  const finished = new AbortController();
  const end = (why: string | null): void => {
    ended ??= why;
    finished.abort();
  };
  channel.onClose(() => end(`${where} stopped`));
  let from = 0;
  let pulling: Promise<void> | null = null;
  let again = false;
  /** Pages until the trace is read through; one pull at a time, another queued if told of more meanwhile. */
  const pull = (): void => {
    if (pulling) {
      again = true;
      return;
    }
    pulling = (async () => {
      do {
        again = false;
        for (;;) {
          const r = await client.request('trace.records', { from, max: LIVE_PAGE });
          if (!r.ok) return end(r.error.code === 'no-session' ? `${where} has no board connected and no trace open` : r.error.message);
          const page = r.result as { next: number; total: number; records: string; meta: unknown };
          if (!writer.begun) {
            const meta = metaFromJson(page.meta);
            if (!meta.ok) return end(`${where} sent capture metadata this extcap cannot read: ${meta.error}`);
            writer.begin(meta.value);
            control.status(`AMP Workbench: streaming the live session of ${meta.value.board} from ${where}`);
          }
          const block = indexRecords(Buffer.from(page.records, 'base64'));
          forEachRecord([indexedBlock(block)], (v) => writer.write(v));
          writer.flush();
          from = page.next;
          if (from >= page.total) break;
        }
      } while (again && !finished.signal.aborted);
    })().finally(() => (pulling = null));
  };
  client.onEvent((e) => {
    if (e.event === 'trace.appended') pull();
    else if (e.event === 'trace.reset' || e.event === 'session.closed') end(null);
  });
  pull();
  const poll = setInterval(pull, LIVE_POLL_MS);
  const stopAll = AbortSignal.any([stop, finished.signal]);
  while (!stopAll.aborted && Date.now() < run.deadline) await sleep(Math.min(1000, run.deadline - Date.now()), stopAll);
  clearInterval(poll);
  await pulling;
  ws.close();
  return run.stoppedByUser() ? null : ended;
}
