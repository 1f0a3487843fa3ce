/**
 * `amp-workbench monitor`: watch a driver and a device talk without taking part (docs/amp-bus.md
 * §4): the board's memory is read, never written, no doorbell is rung or taken. Records every
 * message of both directions into a capture (--out FOLDER, or a rolling one), for --duration or
 * until Ctrl-C or the board's memory goes away, then prints what it saw: messages per
 * direction, messages lost (DROPPED), and the devices rebuilt from the observed messages.
 */
import { parseArgs } from 'node:util';

import { deviceToJson } from '../../../src/api/workbench';
import { statusNames } from '../../../src/protocol/names';
import { openMonitorSession, type MonitorSession } from '../monitorSession';
import { SessionError } from '../session';
import { BOARD_OPTIONS, durationOption, linkOption, loadProfile, onInterrupt, out, printCount, printNotices, table, UsageError } from './common';

function err(text: string): void {
  process.stderr.write(text + '\n');
}

export async function cmdMonitor(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...BOARD_OPTIONS, out: { type: 'string' }, duration: { type: 'string' }, 'poll-ms': { type: 'string' }, json: { type: 'boolean' } },
  });
  const profile = loadProfile(values);
  const durationNs = values.duration === undefined ? null : durationOption('--duration', values.duration, 0);
  let pollMs: number | undefined;
  if (values['poll-ms'] !== undefined) {
    pollMs = Number(values['poll-ms']);
    if (!Number.isFinite(pollMs) || pollMs < 0 || pollMs > 1000) throw new UsageError(`--poll-ms expects 0 to 1000, saw "${values['poll-ms']}"`);
  }
  const json = values.json === true;
  const stop = onInterrupt();
  let session: MonitorSession;
  try {
    session = await openMonitorSession(profile, {
      ...linkOption(values.link),
      capture: values.out === undefined ? {} : { dir: values.out },
      signal: stop.signal,
      ...(pollMs === undefined ? {} : { pollMs }),
    });
  } catch (e) {
    stop.dispose();
    if (!(e instanceof SessionError)) throw e;
    err(`monitor of ${profile.id} failed: ${e.message}${e.kept ? `\n${e.kept}` : ''}`);
    printCount(1, 0, json);
    return stop.exitCode() ?? 1;
  }
  const { trace } = session;
  if (!json) printNotices(session.notices);
  // On stderr also with --json: a script waiting for the watch to start reads this line.
  err(`monitoring ${profile.id} read-only; trace: ${trace.dir}${durationNs === null ? ' (Ctrl-C to stop)' : ''}`);
  const deadline = durationNs === null ? null : process.hrtime.bigint() + BigInt(durationNs);
  while (session.endedBecause === null && (deadline === null || process.hrtime.bigint() < deadline)) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const lostBecause = stop.exitCode() === null ? session.endedBecause : null;
  await session.close();
  stop.dispose();
  const { messages, dropped } = session.totals;
  const devices = session.devices();
  const problems = [...session.monitor.queueProblems];
  if (lostBecause !== null) problems.push(`monitor stopped: ${lostBecause}`);
  if (trace.recorder.lostCount > 0) problems.push(`${trace.recorder.lostCount} records could not be written: ${trace.recorder.error ?? 'the disk failed'}`);
  const summary = {
    capture: trace.dir,
    board: profile.id,
    records: trace.records,
    tap: session.tapDescription,
    messages: { driverToDevice: messages[0], deviceToDriver: messages[1] },
    dropped: { driverToDevice: dropped[0], deviceToDriver: dropped[1] },
    conformance: trace.recorder.findingCounts,
    devices: devices.map((d) => ({ ...deviceToJson(d), seen: d.seen })),
    problems,
  };
  if (json) out(JSON.stringify({ ok: problems.length === 0, ...summary }, null, 2));
  else {
    out(`capture ${trace.dir}: ${trace.records} records`);
    out(`messages driver→device ${messages[0]}, device→driver ${messages[1]}; lost (DROPPED) ${dropped[0]} / ${dropped[1]}`);
    if (devices.length > 0) {
      out(
        table([
          ['DEV', 'TYPE', 'STATUS', 'QUEUES', 'SEEN'],
          ...devices.map((d) => [String(d.devNum), d.deviceType, statusNames(d.status).join('|') || '0', String(d.queues.length), d.seen.join(', ')]),
        ]),
      );
    }
    for (const p of problems) err(p);
  }
  printCount(problems.length, 0, json);
  return stop.exitCode() ?? (problems.length > 0 ? 1 : 0);
}
