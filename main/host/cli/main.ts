/**
 * amp-workbench: the headless front end (CI, scripts, quick checks on a lab machine).
 * Every failure exits non-zero with a message that says what was expected and what was seen.
 */
import { parseArgs } from 'node:util';

import { BUILTIN_PROFILES, DEFAULT_BOARD, HARDWARE_PROFILES } from '../../../src/boards/builtin';
import { hex32, parseHex } from '../../../src/util/hex';
import { decode, detectRevision, msgToJson } from '../../../src/protocol/index';
import { featureNames, statusNames } from '../../../src/protocol/names';
import { decodeConfig } from '../../../src/devices/config';
import { REVISIONS, type Revision } from '../../../src/protocol/types';
import { LINK_SPEC_HELP } from '../links/open';
import { BOARD_OPTIONS, linkOption, loadProfile, out, printNotices, table, UsageError } from './common';
import { cmdServe } from './serve';
import { cmdSim } from './sim';
import { cmdCapture, cmdCheck, cmdExport, cmdStats, cmdWiresharkDissector } from './trace';
import { exerciseDevices, type ExerciseReport } from '../exercise';
import { openSession, type Session } from '../session';
import type { DeviceState } from '../../../src/driver/driver';
import type { RingState } from '../../../src/virtio/inspect';
import { deviceToJson } from '../../../src/api/workbench';

const HELP = `amp-workbench — bring up AMP boards that speak virtio-msg

Usage:
  amp-workbench boards [--json]
  amp-workbench probe [--board ID | --profile FILE] [--link SPEC] [--rings] [--json]
  amp-workbench exercise [--board ID | --profile FILE] [--link SPEC] [--dev N] [--count K] [--rings] [--json]
  amp-workbench decode [--rev r0|r2|r3|r4|auto] [--dir to-device|to-driver] [--json] HEX...
                       (without HEX, one message per line on stdin)
  amp-workbench capture [--board ID | --profile FILE] [--link SPEC] --out FOLDER
                        [--duration 5s] [--exercise] [--ring MB] [--json]
  amp-workbench export CAPTURE --format pcapng|perfetto|jsonl|csv --out FILE
                       [--filter EXPR] [--from T] [--to T]
  amp-workbench stats CAPTURE [--filter EXPR] [--json]
  amp-workbench check CAPTURE [--peer qemu|openamp-st|linux-rfc|none] [--json]
  amp-workbench wireshark-dissector --install [--dir DIR] | --print
  amp-workbench sim [--board ID | --profile FILE] --shm FILE [--doorbells socket|poll]
  amp-workbench serve [--board ID | --profile FILE] [--link SPEC] [--port N] [--captures DIR]
                      [--static DIR] [--no-connect]

--link SPEC picks how the board is reached: ${LINK_SPEC_HELP}
(default: what the profile's access.kind says). --rings adds each virtqueue's state as it is in
memory. CAPTURE is a capture folder, or a pcapng or JSONL file this workbench exported; T is a
time from the capture's start (1.5s, 200ms). The default board is ${DEFAULT_BOARD} (simulated).
Exit status: 0 ok, 1 the board, a message or a capture failed (decode: a message has problems),
2 bad usage; check: 1 when the capture has conformance errors.`;

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

async function cmdBoards(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' } } });
  const boards = [...BUILTIN_PROFILES, ...HARDWARE_PROFILES].map((p) => ({
    id: p.id,
    description: p.description,
    format: p.bus.format,
    revision: p.bus.revision,
    simulated: p.access.kind === 'sim',
    default: p.id === DEFAULT_BOARD,
    devices: (p.sim?.devices ?? []).map((d) => ({ devNum: d.devNum, kind: d.kind })),
  }));
  if (values.json) out(JSON.stringify(boards, null, 2));
  else {
    out(table([['ID', 'FORMAT', 'REV', 'DEVICES', 'DESCRIPTION'], ...boards.map((b) => [b.id + (b.default ? ' (default)' : ''), b.format, b.revision, b.devices.map((d) => `${d.devNum}:${d.kind}`).join(' '), b.description])]));
  }
  return 0;
}

async function cmdProbe(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...BOARD_OPTIONS, rings: { type: 'boolean' }, json: { type: 'boolean' } } });
  const profile = loadProfile(values);
  const session = await openSession(profile, { ...linkOption(values.link), onStage: values.json ? undefined : (s, d) => process.stderr.write(`  ${s}: ${d}\n`) });
  try {
    const r = await session.probe();
    if (!r.ok) {
      process.stderr.write(`probe of ${profile.id} failed: ${r.error}\n`);
      return 1;
    }
    const devices = r.value;
    const busFindings = [...session.findings, ...session.driver.busFindings()];
    const rings = values.rings ? await ringsOf(session, devices) : undefined;
    if (values.json) out(JSON.stringify({ board: profile.id, link: session.link.description, notices: session.notices, findings: busFindings, devices: devices.map((d) => deviceJson(d, rings)) }, null, 2));
    else {
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
      for (const f of busFindings) out(`  bus finding: ${f}`);
      for (const d of devices) {
        if (d.phase === 'ready') out(`  dev ${d.devNum} negotiated: ${featureNames(d.featuresNegotiated, d.deviceId).join(', ') || 'none'}`);
        const fields = (decodeConfig(d.deviceId, d.config, d.featuresNegotiated) ?? []).filter((f) => f.valid !== false);
        if (fields.length > 0) out(`  dev ${d.devNum} config (generation ${d.generation}): ${fields.map((f) => `${f.name}=${String(f.value)}`).join(' ')}`);
        for (const r of d.shm) out(`  dev ${d.devNum} shm: shmid ${r.shmid} length 0x${r.length.toString(16)} at 0x${r.address.toString(16)}`);
        if (d.error) out(`  dev ${d.devNum}: ${d.error}`);
        for (const f of d.findings) out(`  dev ${d.devNum} finding: ${f}`);
      }
      if (rings) printRings(devices, rings);
    }
    return devices.every((d) => d.phase === 'ready') ? 0 : 1;
  } finally {
    await session.close();
  }
}

async function cmdExercise(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...BOARD_OPTIONS, dev: { type: 'string' }, count: { type: 'string' }, rings: { type: 'boolean' }, json: { type: 'boolean' } },
  });
  const profile = loadProfile(values);
  const count = values.count === undefined ? 10 : Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > 1_000_000) throw new UsageError(`--count expects a whole number from 1 to 1000000, saw "${values.count}"`);
  const dev = values.dev === undefined ? undefined : Number(values.dev);
  if (dev !== undefined && (!Number.isInteger(dev) || dev < 0 || dev > 0xffff)) throw new UsageError(`--dev expects a dev_num from 0 to 65535, saw "${values.dev}"`);
  const session = await openSession(profile, linkOption(values.link));
  try {
    const probed = await session.probe();
    if (!probed.ok) {
      process.stderr.write(`bring-up of ${profile.id} failed: ${probed.error}\n`);
      return 1;
    }
    if (dev !== undefined && !probed.value.some((d) => d.devNum === dev)) {
      throw new UsageError(`--dev ${dev}: the board has dev_num ${probed.value.map((d) => d.devNum).join(', ')}`);
    }
    const report: ExerciseReport = await exerciseDevices(session, { devNum: dev, count });
    const states = session.driver.states().filter((d) => dev === undefined || d.devNum === dev);
    const rings = values.rings ? await ringsOf(session, states) : undefined;
    if (values.json) out(JSON.stringify(rings ? { ...report, rings: Object.fromEntries(rings) } : report, null, 2));
    else {
      out(
        table([
          ['DEV', 'TYPE', 'WORKLOAD', 'OK', 'FAILED', 'P50 µs', 'P99 µs', 'MAX µs'],
          ...report.devices.map((d) => [String(d.devNum), d.deviceType, d.workload, String(d.ok), String(d.failed), d.latencyUs.p50.toFixed(1), d.latencyUs.p99.toFixed(1), d.latencyUs.max.toFixed(1)]),
        ]),
      );
      for (const d of report.devices) for (const e of d.errors) out(`  dev ${d.devNum}: ${e}`);
      if (rings) printRings(states, rings);
    }
    return report.devices.every((d) => d.failed === 0) ? 0 : 1;
  } finally {
    await session.close();
  }
}

async function readStdinLines(): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .split(/\r?\n/)
    .map((l) => l.replace(/#.*/, '').trim())
    .filter((l) => l.length > 0);
}

async function cmdDecode(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { rev: { type: 'string', default: 'auto' }, dir: { type: 'string' }, json: { type: 'boolean' } },
  });
  const rev = values.rev!;
  if (rev !== 'auto' && !(REVISIONS as readonly string[]).includes(rev)) throw new UsageError(`--rev expects r0, r2, r3, r4 or auto, saw "${rev}"`);
  if (values.dir !== undefined && values.dir !== 'to-device' && values.dir !== 'to-driver') throw new UsageError(`--dir expects to-device or to-driver, saw "${values.dir}"`);
  // All arguments form one message (hex may be split by spaces); stdin gives one per line.
  const texts = positionals.length > 0 ? [positionals.join(' ')] : await readStdinLines();
  if (texts.length === 0) throw new UsageError('no message to decode: give hex bytes as arguments or one message per line on stdin');
  const frames = texts.map((t, i) => {
    const b = parseHex(t);
    if (!b) throw new UsageError(`message ${i + 1} is not hex bytes: "${t.length > 40 ? t.slice(0, 37) + '...' : t}"`);
    return b;
  });
  let revision: Revision;
  let detection: ReturnType<typeof detectRevision> | null = null;
  if (rev === 'auto') {
    detection = detectRevision(frames);
    if (!detection.revision) {
      process.stderr.write(`cannot tell the revision of these bytes (${detection.evidence.join('; ') || 'no evidence'}); give --rev r0|r2|r3|r4\n`);
      return 1;
    }
    revision = detection.revision;
  } else revision = rev as Revision;
  const direction = values.dir === 'to-device' ? 'driver-to-device' : values.dir === 'to-driver' ? 'device-to-driver' : undefined;
  const results = frames.map((bytes) => {
    const d = decode(bytes, revision, direction ? { direction } : {});
    return {
      ...(d.msg ? msgToJson(d.msg) : { revision, type: null, msgId: null, name: null, devNum: null, token: null, msgSize: null, fields: {} }),
      problems: d.problems.map((p) => ({ offset: p.offset, code: p.code, reason: p.reason })),
      ...(detection ? { detected: { confidence: detection.confidence, evidence: detection.evidence } } : {}),
    };
  });
  if (values.json) out(JSON.stringify(results.length === 1 ? results[0] : results, null, 2));
  else {
    if (detection && detection.confidence !== 'high') out(`(revision ${revision} guessed from the bytes with ${detection.confidence} confidence; give --rev to be sure)`);
    for (const r of results) {
      out(`${r.revision} ${r.name ?? '(no header)'} dev_num ${r.devNum ?? '-'} token ${r.token ?? '-'} msg_size ${r.msgSize ?? '-'}`);
      for (const [k, v] of Object.entries(r.fields)) out(`  ${k} = ${Array.isArray(v) ? v.map((w) => hex32(w)).join(' ') : String(v)}`);
      for (const p of r.problems) out(`  problem at byte ${p.offset}: ${p.reason}`);
    }
  }
  return results.some((r) => r.problems.length > 0) ? 1 : 0;
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  boards: cmdBoards,
  probe: cmdProbe,
  exercise: cmdExercise,
  decode: cmdDecode,
  capture: cmdCapture,
  export: cmdExport,
  stats: cmdStats,
  check: cmdCheck,
  'wireshark-dissector': cmdWiresharkDissector,
  sim: cmdSim,
  serve: cmdServe,
};

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    out(HELP);
    return cmd === undefined ? 2 : 0;
  }
  const run = COMMANDS[cmd];
  if (!run) throw new UsageError(`unknown command "${cmd}"; expected one of: ${Object.keys(COMMANDS).join(', ')}`);
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError || (e instanceof TypeError && 'code' in e && String((e as { code: unknown }).code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`amp-workbench: ${(e as Error).message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`amp-workbench: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    }
  },
);
