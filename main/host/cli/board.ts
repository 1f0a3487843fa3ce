/**
 * The commands that attach to a board: probe, exercise, capture. Each prints bring-up progress,
 * ends with one message when the board goes away under it, stops within a second on Ctrl-C
 * (the session detached and the capture closed), and ends with a line counting the problems
 * and findings it reported. Each records a trace, also when it fails: into the --out folder, or
 * into an automatic rolling capture in the captures folder; probe and exercise say where with a
 * "trace: DIR" line on stderr.
 */
import { parseArgs } from 'node:util';

import { deviceToJson } from '../../../src/api/workbench';
import type { BoardProfile } from '../../../src/api/boardProfile';
import { decodeConfig } from '../../../src/devices/config';
import { featureNames } from '../../../src/devices/registry';
import type { AttachStage } from '../../../src/bus/queue';
import type { BringUpProgress, DeviceState } from '../../../src/roles/driver/driver';
import { statusNames } from '../../../src/protocol/names';
import { formatNs } from '../../../src/trace/stats';
import type { RingState } from '../../../src/virtio/inspect';
import { exerciseDevices, type DeviceExercise, type ExerciseReport } from '../exercise';
import { openSession, SessionError, type Session } from '../session';
import { BOARD_OPTIONS, durationOption, linkOption, loadProfile, onInterrupt, out, printNotices, printCount, table, UsageError } from './common';
import { caseOf, publishResults, RESULT_OPTIONS, resultSinks, type ResultCase, type ResultSinks, type ResultSuite } from './results';

function err(text: string): void {
  process.stderr.write(text + '\n');
}

function featureHex(v: bigint): string {
  return '0x' + v.toString(16).padStart(16, '0');
}

/** Every queue's ring state, read from the board's memory now. */
async function ringsOf(session: Session, devices: readonly DeviceState[]): Promise<Map<string, RingState>> {
  const rings = new Map<string, RingState>();
  for (const d of devices) {
    for (const q of d.queues) {
      const r = session.driver.inspectQueue(d.devNum, q.index);
      if (r) rings.set(`${d.devNum}/${q.index}`, await r);
    }
  }
  return rings;
}

function printRings(devices: readonly DeviceState[], rings: Map<string, RingState>): void {
  for (const d of devices) {
    for (const q of d.queues) {
      const r = rings.get(`${d.devNum}/${q.index}`);
      if (!r) continue;
      out(
        `  dev ${d.devNum} queue ${q.index} (${q.name}, size ${r.size}): avail.idx ${r.avail?.idx ?? '?'}  used.idx ${r.used?.idx ?? '?'}  last seen ${r.lastSeenUsed ?? '?'}  in flight ${r.inFlight ?? '?'}  desc ${r.descAddr}`,
      );
      for (const p of r.problems) out(`    problem: ${p.reason}`);
    }
  }
}

/** The API's device JSON (one converter for CLI and UI), with each queue's ring state when read. */
function deviceJson(d: DeviceState, rings?: Map<string, RingState>) {
  const j = deviceToJson(d);
  return rings ? { ...j, queues: j.queues.map((q) => ({ ...q, ring: rings.get(`${d.devNum}/${q.index}`) ?? null })) } : j;
}

/** The bus set-up's stages as they pass (stderr). */
function printStage(stage: AttachStage, detail: string): void {
  err(`  ${stage}: ${detail}`);
}

/** Where a device's bring-up ended, as its progress line says it. */
function phaseLine(d: DeviceState): string {
  return `dev ${d.devNum} virtio-${d.deviceType}: ${d.phase === 'ready' ? 'DRIVER_OK' : d.phase === 'no-driver' ? 'no driver' : d.phase}`;
}

/** One line per device as bring-up reaches its end for it (stderr, so stdout stays the report). */
function printProgress(p: BringUpProgress): void {
  if (p.kind === 'gave-up') {
    err(`giving up on the remaining ${p.skipped.length} advertised device(s)`);
    return;
  }
  if (p.unanswered) err(`dev ${p.state.devNum}: no answer to GET_DEVICE_INFO`);
  else err(phaseLine(p.state));
}

/** What the board did wrong on the bus (enumeration, queue indices, malformed messages), each kind once. */
function busProblemLines(session: Session): string[] {
  return [...session.driver.busProblems(), ...session.busProblems()].map((p) => `bus problem: ${p}`);
}

/** Deviations on the bus the session tolerated. */
function busFindingLines(session: Session): string[] {
  return [...session.findings, ...session.driver.busFindings()].map((f) => `bus finding: ${f}`);
}

function deviceFindingLines(d: DeviceState): string[] {
  return d.findings.map((f) => `dev ${d.devNum} finding: ${f}`);
}

/**
 * What the session found about the board, as the lines a command prints: problems (bus-wide,
 * and each device that did not come up) and findings (deviations tolerated). A device that
 * failed only because the session ended is left out: the end is said once, by the command.
 */
function told(session: Session | null, devices: readonly DeviceState[]): { problems: string[]; findings: string[] } {
  if (!session) return { problems: [], findings: [] };
  const ended = session.endedBecause;
  return {
    problems: [
      ...busProblemLines(session),
      ...devices.flatMap((d) => (d.error && !(ended !== null && d.error.endsWith(ended)) ? [`dev ${d.devNum}: ${d.error}`] : [])),
    ],
    findings: [...busFindingLines(session), ...devices.flatMap(deviceFindingLines)],
  };
}

/**
 * The results a farm reads for the bring-up: a case per device (failed with the device's error,
 * or the phase it stopped in) and one for the bus (failed with the bus problems).
 */
function bringUpCases(session: Session | null, devices: readonly DeviceState[]): ResultCase[] {
  const deviceCases = devices.map((d) =>
    caseOf(`dev ${d.devNum} virtio-${d.deviceType} bring-up`, d.error !== undefined ? [`dev ${d.devNum}: ${d.error}`] : d.phase === 'ready' ? [] : [phaseLine(d)], {
      properties: { device_id: d.deviceId, phase: d.phase, features_negotiated: featureHex(d.featuresNegotiated), queues: d.queues.length },
      output: deviceFindingLines(d),
    }),
  );
  return [...deviceCases, caseOf('bus', session ? busProblemLines(session) : [], { output: session ? busFindingLines(session) : [] })];
}

function printTold(t: { problems: string[]; findings: string[] }): void {
  for (const f of t.findings) out(`  ${f}`);
  for (const p of t.problems) out(`  ${p}`);
}

/**
 * Opens a session for a command, recording into `--out` or an automatic capture. A link or bus
 * set-up that fails (or the user's stop) is a SessionError, with the failed attach's trace.
 */
function attach(profile: BoardProfile, values: BoardValues, signal: AbortSignal, opts: { command: string; ringBytes?: number | undefined }): Promise<Session> {
  return openSession(profile, {
    ...linkOption(values.link),
    signal,
    capture: { dir: values.out, ringBytes: opts.ringBytes, notes: [`amp-workbench ${opts.command} --board ${profile.id}`] },
    ...(values.json ? {} : { onStage: printStage, onProgress: printProgress }),
  });
}

type BoardValues = { link?: string | undefined; out?: string | undefined; json?: boolean | undefined };
type Told = ReturnType<typeof told>;
/** How many problems and findings a command reported (its count line and its exit status), and its results beyond the bring-up. */
type Outcome = { problems: number; findings: number; cases?: ResultCase[] };

/**
 * Attaches and brings the board up, then runs `report` on the devices. A set-up or bring-up
 * that fails is one message (`failed` prints it, with what was found by then and where its
 * trace is, and returns its line); however the command ends, the session is closed, the trace's
 * folder and the count line printed, the results published and Ctrl-C answered with its exit
 * status.
 */
async function onBoard(
  profile: BoardProfile,
  values: BoardValues,
  command: string,
  sinks: ResultSinks,
  failed: (error: string, session: Session | null, found: Told, trace: string | null) => string,
  report: (session: Session, devices: DeviceState[]) => Promise<Outcome>,
): Promise<number> {
  const stop = onInterrupt();
  const started = process.hrtime.bigint();
  let session: Session | null = null;
  let results: { suite: ResultSuite; exitCode: number };
  try {
    let probed: Awaited<ReturnType<Session['probe']>>;
    let trace: string | null;
    try {
      session = await attach(profile, values, stop.signal, { command });
      trace = session.trace.dir;
      probed = await session.probe();
    } catch (e) {
      if (!(e instanceof SessionError)) throw e;
      probed = { ok: false, error: e.message };
      trace = e.trace?.dir ?? null;
    }
    let outcome: Outcome;
    if (probed.ok) outcome = await report(session!, probed.value);
    else {
      const found = told(session, session?.driver.states() ?? []);
      const line = failed(probed.error, session, found, trace);
      outcome = { problems: 1 + found.problems.length, findings: found.findings.length, cases: [caseOf('bring-up', [line])] };
    }
    if (trace !== null) err(`trace: ${trace}`);
    printCount(outcome.problems, outcome.findings, values.json === true);
    const cases = [...bringUpCases(session, session?.driver.states() ?? []), ...(outcome.cases ?? [])];
    const properties = { link: session?.link.description ?? values.link ?? profile.access.kind, ...(trace !== null ? { trace } : {}) };
    results = { suite: { command, board: profile.id, timeS: Number(process.hrtime.bigint() - started) / 1e9, properties, cases }, exitCode: stop.exitCode() ?? (outcome.problems === 0 ? 0 : 1) };
  } finally {
    await session?.close();
    stop.dispose();
  }
  // Published once the board is detached: reporting (lava-test-case runs) never holds the bus.
  return publishResults(sinks, results.suite, results.exitCode);
}

export async function cmdProbe(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...BOARD_OPTIONS, ...RESULT_OPTIONS, out: { type: 'string' }, rings: { type: 'boolean' }, json: { type: 'boolean' } } });
  const profile = loadProfile(values);
  const sinks = resultSinks(values);
  /** The JSON's bus-level lists; devices carry their own errors and findings. */
  const bus = (session: Session | null) => ({
    problems: session ? [...session.driver.busProblems(), ...session.busProblems()] : [],
    findings: session ? [...session.findings, ...session.driver.busFindings()] : [],
  });
  return onBoard(
    profile,
    values,
    'probe',
    sinks,
    (error, session, found, trace) => {
      const devices = session?.driver.states() ?? [];
      const line = `probe of ${profile.id} failed: ${error}`;
      if (values.json) out(JSON.stringify({ ok: false, board: profile.id, error, ...bus(session), devices: devices.map((d) => deviceJson(d)), trace }, null, 2));
      else {
        err(line);
        printTold(found);
      }
      return line;
    },
    async (session, devices) => {
      const found = told(session, devices);
      const rings = values.rings ? await ringsOf(session, devices) : undefined;
      if (values.json) {
        out(
          JSON.stringify(
            { ok: found.problems.length === 0, board: profile.id, link: session.link.description, notices: session.notices, ...bus(session), devices: devices.map((d) => deviceJson(d, rings)), trace: session.trace.dir },
            null,
            2,
          ),
        );
        return { problems: found.problems.length, findings: found.findings.length };
      }
      printNotices(session.notices);
      out(`${profile.id}: ${devices.length} device(s) over ${profile.bus.format}, virtio-msg ${profile.bus.revision}`);
      out(
        table([
          ['DEV', 'TYPE', 'STATUS', 'OFFERED', 'NEGOTIATED', 'QUEUES'],
          ...devices.map((d) => [
            String(d.devNum),
            `${d.deviceType} (${d.deviceId})`,
            statusNames(d.status).join('|') || '0',
            featureHex(d.featuresOffered),
            featureHex(d.featuresNegotiated),
            d.queues.map((q) => `${q.index}:${q.name}[${q.size}]`).join(' '),
          ]),
        ]),
      );
      for (const d of devices) {
        if (d.phase === 'ready') out(`  dev ${d.devNum} negotiated: ${featureNames(d.featuresNegotiated, d.deviceId).join(', ') || 'none'}`);
        const fields = (decodeConfig(d.deviceId, d.config, d.featuresNegotiated) ?? []).filter((f) => f.valid !== false);
        if (fields.length > 0) out(`  dev ${d.devNum} config (generation ${d.generation}): ${fields.map((f) => `${f.name}=${String(f.value)}`).join(' ')}`);
        for (const r of d.shm) out(`  dev ${d.devNum} shm: shmid ${r.shmid} length 0x${r.length.toString(16)} at 0x${r.address.toString(16)}`);
      }
      printTold(found);
      if (rings) printRings(devices, rings);
      return { problems: found.problems.length, findings: found.findings.length };
    },
  );
}

/**
 * A device's workload as a farm's result: failed with the report's lines for its rounds (or the
 * line saying the rounds stopped, when some were not run); its latency as properties, the median
 * as LAVA's measurement.
 */
function workloadCase(d: DeviceExercise, stoppedLine: string | null): ResultCase {
  const problems = d.errors.length > 0 ? d.errors.map((e) => `dev ${d.devNum}: ${e}`) : d.notRun > 0 && stoppedLine !== null ? [stoppedLine] : [];
  const latency = d.ok > 0 ? { latency_p50_us: d.latencyUs.p50, latency_p99_us: d.latencyUs.p99, latency_max_us: d.latencyUs.max, latency_mean_us: d.latencyUs.mean } : {};
  return caseOf(`dev ${d.devNum} ${d.workload === '-' ? `${d.deviceType} workload` : d.workload}`, problems, {
    properties: { rounds: d.count, ok: d.ok, failed: d.failed, not_run: d.notRun, ...latency },
    ...(d.ok > 0 ? { measurement: { value: d.latencyUs.p50, units: 'us' } } : {}),
  });
}

export async function cmdExercise(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...BOARD_OPTIONS, ...RESULT_OPTIONS, out: { type: 'string' }, dev: { type: 'string' }, count: { type: 'string' }, rings: { type: 'boolean' }, json: { type: 'boolean' } },
  });
  const profile = loadProfile(values);
  const sinks = resultSinks(values);
  const count = values.count === undefined ? 10 : Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > 1_000_000) throw new UsageError(`--count expects a whole number from 1 to 1000000, saw "${values.count}"`);
  const dev = values.dev === undefined ? undefined : Number(values.dev);
  if (dev !== undefined && (!Number.isInteger(dev) || dev < 0 || dev > 0xffff)) throw new UsageError(`--dev expects a dev_num from 0 to 65535, saw "${values.dev}"`);
  return onBoard(
    profile,
    values,
    'exercise',
    sinks,
    (error, _session, found, trace) => {
      const line = `bring-up of ${profile.id} failed: ${error}`;
      // --json keeps stdout one JSON document, on failure too (no rounds ran).
      if (values.json) out(JSON.stringify({ ok: false, board: profile.id, error, devices: [], problems: found.problems, findings: found.findings, trace }, null, 2));
      else {
        err(line);
        printTold(found);
      }
      return line;
    },
    async (session, devices) => {
      if (dev !== undefined && !devices.some((d) => d.devNum === dev)) {
        throw new UsageError(`--dev ${dev}: the board has dev_num ${devices.map((d) => d.devNum).join(', ')}`);
      }
      const report: ExerciseReport = await exerciseDevices(session, { devNum: dev, count });
      const states = session.driver.states().filter((d) => dev === undefined || d.devNum === dev);
      // Devices that did not come up are in the report (their rounds not run); the bus's problems and the findings are added.
      const { findings } = told(session, states);
      const problems = [...report.devices.flatMap((d) => d.errors.map((e) => `dev ${d.devNum}: ${e}`)), ...busProblemLines(session)];
      const notRun = report.devices.reduce((n, d) => n + d.notRun, 0);
      const stoppedLine = report.stopped !== null && notRun > 0 ? `rounds stopped: ${report.stopped}; ${notRun} round(s) not run` : null;
      if (stoppedLine !== null) problems.push(stoppedLine);
      const rings = values.rings && session.endedBecause === null ? await ringsOf(session, states) : undefined;
      if (values.json) out(JSON.stringify({ ok: problems.length === 0, ...report, problems, findings, ...(rings ? { rings: Object.fromEntries(rings) } : {}), trace: session.trace.dir }, null, 2));
      else {
        out(
          table([
            ['DEV', 'TYPE', 'WORKLOAD', 'OK', 'FAILED', 'NOT RUN', 'P50 µs', 'P99 µs', 'MAX µs'],
            ...report.devices.map((d) => [
              String(d.devNum),
              d.deviceType,
              d.workload,
              String(d.ok),
              String(d.failed),
              String(d.notRun),
              ...(d.ok > 0 ? [d.latencyUs.p50.toFixed(1), d.latencyUs.p99.toFixed(1), d.latencyUs.max.toFixed(1)] : ['-', '-', '-']),
            ]),
          ]),
        );
        printTold({ problems, findings });
        if (rings) printRings(states, rings);
      }
      return { problems: problems.length, findings: findings.length, cases: report.devices.map((d) => workloadCase(d, stoppedLine)) };
    },
  );
}

export async function cmdCapture(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...BOARD_OPTIONS,
      ...RESULT_OPTIONS,
      duration: { type: 'string' },
      exercise: { type: 'boolean' },
      out: { type: 'string' },
      ring: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const profile = loadProfile(values);
  const durationNs = durationOption('--duration', values.duration, 5e9);
  let ringBytes: number | undefined;
  if (values.ring !== undefined) {
    const mb = Number(values.ring);
    if (!Number.isFinite(mb) || mb < 1) throw new UsageError(`--ring expects a size in MB of at least 1, saw "${values.ring}"`);
    ringBytes = Math.round(mb * (1 << 20));
  }
  const sinks = resultSinks(values);
  const json = values.json === true;
  const started = process.hrtime.bigint();
  const stop = onInterrupt();
  let session: Session;
  try {
    session = await attach(profile, values, stop.signal, { command: `capture${values.exercise ? ' --exercise' : ''}`, ringBytes });
  } catch (e) {
    stop.dispose();
    if (!(e instanceof SessionError)) throw e;
    const line = `capture of ${profile.id} failed: ${e.message}${e.kept ? `\n${e.kept}` : ''}`;
    err(line);
    printCount(1, 0, json);
    const properties = { link: values.link ?? profile.access.kind };
    return publishResults(sinks, { command: 'capture', board: profile.id, timeS: Number(process.hrtime.bigint() - started) / 1e9, properties, cases: [caseOf('capture', [line])] }, stop.exitCode() ?? 1);
  }
  const { trace } = session;
  const problems: string[] = [];
  let findings: string[] = [];
  /** What the capture itself reported, beside the bring-up's problems (their own cases). */
  let captureProblems: string[] = [];
  let summary: { capture: string; board: string; records: number; bytes: number; durationNs: number; lost: number; conformance: typeof trace.recorder.findingCounts } | null = null;
  try {
    if (!json) printNotices(session.notices);
    const probed = await session.probe();
    if (!probed.ok) problems.push(`bring-up of ${profile.id} failed: ${probed.error}`);
    // The duration is what is recorded after bring-up, so a slow bring-up still gets its workload time.
    const deadline = process.hrtime.bigint() + BigInt(durationNs);
    let rounds = 0;
    while (problems.length === 0 && session.endedBecause === null && process.hrtime.bigint() < deadline) {
      if (values.exercise) {
        const report = await exerciseDevices(session, { count: 10 });
        rounds++;
        const errors = report.devices.flatMap((d) => d.errors.map((e) => `dev ${d.devNum}: ${e}`));
        if (errors.length > 0) problems.push(`exercise round ${rounds} failed:\n  ${errors.join('\n  ')}`);
      } else {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    // The end of the session, said once: the board went away (an interrupt is the user's own doing).
    if (session.endedBecause !== null && stop.exitCode() === null && probed.ok) problems.push(`capture stopped: ${session.endedBecause}`);
    const t = told(session, session.driver.states());
    captureProblems = [...problems];
    problems.push(...t.problems);
    findings = t.findings;
  } finally {
    await session.close();
    stop.dispose();
    const elapsedNs = Number(process.hrtime.bigint() - started);
    const conformance = trace.recorder.findingCounts;
    summary = { capture: trace.dir, board: profile.id, records: trace.records, bytes: trace.bytes, durationNs: elapsedNs, lost: trace.recorder.lostCount, conformance };
    if (summary.lost > 0) {
      const line = `${summary.lost} records could not be written: ${trace.recorder.error ?? 'the disk failed'}`;
      problems.push(line);
      captureProblems.push(line);
    }
    if (json) out(JSON.stringify({ ok: problems.length === 0, ...summary, problems, findings }, null, 2));
    else {
      for (const f of findings) out(`  ${f}`);
      for (const p of problems) err(p);
      out(`${summary.records} records (${(summary.bytes / 1e6).toFixed(2)} MB) from ${profile.id} in ${formatNs(elapsedNs)} → ${trace.dir}`);
      if (conformance) out(`conformance: ${conformance.errors} errors, ${conformance.warnings} warnings, ${conformance.infos} infos (amp-workbench check ${trace.dir} lists them)`);
    }
    printCount(problems.length, findings.length, json);
  }
  const { conformance } = summary;
  const captureCase = caseOf('capture', captureProblems, {
    properties: { records: summary.records, bytes: summary.bytes, lost: summary.lost, ...(conformance ? { conformance_errors: conformance.errors, conformance_warnings: conformance.warnings, conformance_infos: conformance.infos } : {}) },
    measurement: { value: summary.records, units: 'records' },
  });
  const properties = { link: session.link.description, trace: summary.capture };
  const suite = { command: 'capture', board: profile.id, timeS: summary.durationNs / 1e9, properties, cases: [...bringUpCases(session, session.driver.states()), captureCase] };
  return publishResults(sinks, suite, stop.exitCode() ?? (problems.length === 0 ? 0 : 1));
}
