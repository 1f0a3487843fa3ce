/**
 * `--capture` of the extcap (entry.cjs): one Session on the board — which records its trace
 * like every session (docs/code-map.md §6) — whose live capture source is followed and written to
 * Wireshark's FIFO as pcapng, the same blocks `export` writes (src/trace/pcapng.ts), flushed per
 * batch of records as the recorder hands them over. The recorder flushes every FLUSH_MS here
 * (its default is 100 ms), so a message reaches the FIFO well within 100 ms of crossing the bus.
 *
 * It stops on SIGTERM/SIGINT (how Wireshark stops an extcap), when Wireshark closes the control
 * pipe or the FIFO (a write fails: never shown to the user), after --duration, or when the board
 * goes away; in every case the session is closed, so the board is left detached.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';

import { forEachRecord } from '../../../src/trace/block';
import { PcapngWriter } from '../../../src/trace/pcapng';
import { BOARD_OPTIONS, linkOption, loadProfile, onInterrupt } from '../cli/common';
import { exerciseDevices } from '../exercise';
import { openSession, SessionError, type Session } from '../session';
import { systemErrorText } from '../systemError';
import { osDescription } from '../trace/osInfo';
import { openControl, type ExtcapControl } from './control';

/** Recorder flush period for this consumer: records reach the FIFO at most this long after they are recorded. */
export const FLUSH_MS = 10;
/** With nothing to write for this long, a keep-alive block tells whether Wireshark still reads. */
const KEEP_ALIVE_MS = 1000;
/** The extcap's logger control (entry.cjs LOG_CONTROL). */
const LOG_CONTROL = 0;

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

const parseOptions = (argv: string[]) => parseArgs({ args: argv, options: OPTIONS }).values;
type Values = ReturnType<typeof parseOptions>;

/** Runs one capture for Wireshark; resolves to the exit status (0: stopped as asked, 1: the board or the setup failed). */
export async function runExtcapCapture(argv: string[]): Promise<number> {
  let values: Values;
  try {
    values = parseOptions(argv);
  } catch (e) {
    process.stderr.write(`amp-workbench: ${(e as Error).message}\n`);
    return 2;
  }
  const control = openControl(values['extcap-control-out'], LOG_CONTROL);
  try {
    return await capture(values, control);
  } finally {
    await control.close();
  }
}

async function capture(values: Values, control: ExtcapControl): Promise<number> {
  if (values.fifo === undefined) {
    control.error('the capture needs --fifo PATH (Wireshark passes it)');
    return 2;
  }
  const durationS = values.duration === undefined ? 0 : Number(values.duration);
  if (!Number.isInteger(durationS) || durationS < 0) {
    control.error(`"Stop after" expects whole seconds (0: until stopped), saw "${values.duration}"`);
    return 2;
  }
  let profile;
  let link;
  try {
    profile = loadProfile(values);
    link = linkOption(values.link);
  } catch (e) {
    control.error((e as Error).message);
    return 2;
  }

  const interrupt = onInterrupt();
  const ended = new AbortController();
  const stop = AbortSignal.any([interrupt.signal, ended.signal]);
  const readerGone = (): void => ended.abort('Wireshark stopped reading');
  if (values['extcap-control-in'] !== undefined) {
    // Wireshark closes its end of the control pipe to stop a capture (where it cannot signal).
    const controlIn = createReadStream(values['extcap-control-in']);
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

  let session: Session | null = null;
  let failed: string | null = null;
  let unfollow = (): void => undefined;
  try {
    control.status(`AMP Workbench: attaching to ${profile.id}`);
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
      if (!interrupt.signal.aborted) failed = `capture of ${profile.id} failed: ${e.message}`;
      return failed === null ? 0 : 1;
    }
    const { trace } = session;
    writer.begin(trace.meta);
    writer.flush();
    unfollow = trace.source.follow!((block) => {
      forEachRecord([block], (v) => writer.write(v));
      writer.flush();
    });
    const keepAlive = setInterval(() => {
      if (Date.now() - lastWrite < KEEP_ALIVE_MS) return;
      writer.keepAlive(BigInt(Date.now()) * 1_000_000n);
      writer.flush();
    }, KEEP_ALIVE_MS);
    try {
      const probed = await session.probe();
      if (!probed.ok) {
        if (!stop.aborted) failed = `bring-up of ${profile.id} failed: ${probed.error}`;
        return failed === null ? 0 : 1;
      }
      control.status(`AMP Workbench: ${profile.id}, ${probed.value.length} device(s) up${values.exercise ? ', running the workloads' : ''}`);
      const deadline = durationS === 0 ? Infinity : Date.now() + durationS * 1000;
      while (!stop.aborted && session.endedBecause === null && Date.now() < deadline) {
        if (values.exercise) {
          const report = await exerciseDevices(session, { count: 10 });
          const errors = report.devices.flatMap((d) => d.errors.map((e) => `dev ${d.devNum}: ${e}`));
          if (errors.length > 0 && !stop.aborted) control.log(`workload round failed: ${errors.join('; ')}`);
        } else await sleep(Math.min(50, deadline - Date.now()), stop);
      }
      if (session.endedBecause !== null && !stop.aborted) failed = `capture of ${profile.id} stopped: ${session.endedBecause}`;
      return failed === null ? 0 : 1;
    } finally {
      clearInterval(keepAlive);
    }
  } finally {
    // Closing records the session's end (the DETACH marker), which still reaches the FIFO.
    await session?.close();
    unfollow();
    if (failed !== null) control.error(failed);
    interrupt.dispose();
    if (!fifo.destroyed) {
      writer.end();
      fifo.end();
      await Promise.race([once(fifo, 'close').catch(() => undefined), sleep(1000, new AbortController().signal)]);
    }
  }
}
