/**
 * amp-workbench: the headless front end (CI, scripts, quick checks on a lab machine).
 * Every failure exits non-zero with a message that says what was expected and what was seen.
 */
import { parseArgs } from 'node:util';

import { BUILTIN_PROFILES, DEFAULT_BOARD, HARDWARE_PROFILES } from '../../../src/boards/builtin';
import { hex32, parseHex } from '../../../src/util/hex';
import { decode, detectRevision, flagNames, lookupMessage, msgToJson } from '../../../src/protocol/index';
import { REVISIONS, type Revision } from '../../../src/protocol/types';
import { LINK_SPEC_HELP } from '../links/spec';
import { AUTOMATIC_CAPTURES_KEPT, DEFAULT_CAPTURES_DIR, ROLLING_CAPTURE_BYTES } from '../trace/trace';
import { cmdWiresharkExtcap } from '../extcap/command';
import { cmdCapture, cmdExercise, cmdProbe } from './board';
import { INTERRUPTED, out, printCount, table, UsageError, watchStdout } from './common';
import { cmdImport, IMPORT_HELP } from './import';
import { cmdMonitor } from './monitor';
import { cmdServe } from './serve';
import { cmdServeDevice } from './serveDevice';
import { cmdSim } from './sim';
import { cmdCheck, cmdExport, cmdStats, cmdWiresharkDissector } from './trace';
import { systemErrorText } from '../systemError';

const HELP = `amp-workbench — bring up AMP boards that speak virtio-msg

Usage:
  amp-workbench boards [--json]
  amp-workbench probe [--board ID | --profile FILE] [--link SPEC] [--out FOLDER] [--rings] [--json]
                      [--junit FILE] [--lava]
  amp-workbench exercise [--board ID | --profile FILE] [--link SPEC] [--out FOLDER] [--dev N] [--count K]
                         [--rings] [--json] [--junit FILE] [--lava]
  amp-workbench monitor [--board ID | --profile FILE] [--link SPEC] [--out FOLDER] [--duration T]
                        [--poll-ms N] [--json]
                       (watch a running driver and device read-only: never writes, rings no doorbell;
                        the native watcher thread follows mapped memory, the bridge agent a serial
                        link; --poll-ms N follows from JavaScript every N ms instead)
  amp-workbench decode [--rev r0|r2|r3|r4|auto] [--dir to-device|to-driver] [--json] HEX...
                       (without HEX, one message per line on stdin)
  amp-workbench capture [--board ID | --profile FILE] [--link SPEC] [--out FOLDER]
                        [--duration 5s] [--exercise] [--ring MB] [--json] [--junit FILE] [--lava]
  amp-workbench export CAPTURE --format pcapng|perfetto|jsonl|csv --out FILE
                       [--filter EXPR] [--from T] [--to T]
  amp-workbench stats CAPTURE [--filter EXPR] [--json]
  amp-workbench import LOG [--format hex|linux|qemu|xen|optee] [--rev r0|r2|r3|r4] --out CAPTURE [--json]
                       (a log of messages as a capture, LOG - for stdin; import --help lists the formats)
  amp-workbench check CAPTURE [--peer qemu|openamp-st|linux-rfc|none] [--json] [--junit FILE] [--lava]
  amp-workbench wireshark-dissector --install [--dir DIR] | --print
  amp-workbench wireshark-extcap --install [--dir DIR]
                       (live capture in Wireshark; installs the dissector too)
  amp-workbench sim [--board ID | --profile FILE] --shm FILE [--doorbells socket|poll]
                    [--fault NAME[=ARG][@N|@MESSAGE],… | --fault help] [--published FILE]
  amp-workbench serve-device --link linux-loopback[:CONTROL] | shm-file:FILE | ivshmem[:SOCKET]
                      [--board ID | --profile FILE] [--devices KIND[:DEV_NUM],…] [--out FOLDER]
                      (serve rng, i2c and console devices to a real driver, e.g. Linux's, until Ctrl-C)
  amp-workbench serve [--board ID | --profile FILE] [--link SPEC] [--port N] [--captures DIR]
                      [--static DIR] [--no-connect] [--role driver|device [--devices KIND[:DEV_NUM],…]]

--link SPEC picks how the board is reached: ${LINK_SPEC_HELP}
(default: what the profile's access.kind says). --rings adds each virtqueue's state as it is in
memory. probe, exercise and capture always record a trace: into --out FOLDER (new or empty), or
else into a rolling capture (the newest ${ROLLING_CAPTURE_BYTES >> 20} MB) in ${DEFAULT_CAPTURES_DIR},
which keeps the newest ${AUTOMATIC_CAPTURES_KEPT}; probe and exercise name the folder on stderr ("trace: DIR"),
capture in its summary. --junit FILE writes the results as JUnit XML (a test case per device
bring-up, per workload, per conformance rule violated); --lava reports the same cases through
lava-test-case (in a LAVA test shell). CAPTURE is a capture folder, or a pcapng or JSONL file this workbench
exported; T is a time from the capture's start (1.5s, 200ms). The default board is ${DEFAULT_BOARD}
(simulated).
Exit status: 0 ok, 1 the board, a message or a capture failed (decode: a message has problems),
2 bad usage; check: 1 when the capture has conformance errors. A reader that closes standard output
(| head) ends any command quietly with 0 (a running capture is closed first).`;

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
      ...(detection ? { detected: { confidence: detection.confidence, variant: detection.variant, evidence: detection.evidence } } : {}),
    };
  });
  if (values.json) out(JSON.stringify(results.length === 1 ? results[0] : results, null, 2));
  else {
    if (detection && detection.confidence !== 'high') out(`(revision ${revision} guessed from the bytes with ${detection.confidence} confidence; give --rev to be sure)`);
    if (detection?.variant === 'xen') out("(the messages also fit Xen's variant of r2: transport messages only, at most 44 bytes, no token)");
    for (const r of results) {
      out(`${r.revision} ${r.name ?? '(no header)'} dev_num ${r.devNum ?? '-'} token ${r.token ?? '-'} msg_size ${r.msgSize ?? '-'}`);
      const defs = r.msgId === null ? [] : (lookupMessage(revision, r.bus, r.msgId).layouts[r.kind]?.fields ?? []);
      for (const [k, v] of Object.entries(r.fields)) {
        // Flags words by name too: "result = 2 (busy)".
        const def = defs.find((f) => f.name === k);
        const names = def?.bits && typeof v === 'number' ? flagNames(def, v) : [];
        out(`  ${k} = ${Array.isArray(v) ? v.map((w) => hex32(w)).join(' ') : String(v)}${names.length > 0 ? ` (${names.join(', ')})` : ''}`);
      }
      for (const p of r.problems) out(`  problem at byte ${p.offset}: ${p.reason}`);
    }
  }
  printCount(results.reduce((n, r) => n + r.problems.length, 0), 0, values.json === true);
  return results.some((r) => r.problems.length > 0) ? 1 : 0;
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  boards: cmdBoards,
  probe: cmdProbe,
  exercise: cmdExercise,
  decode: cmdDecode,
  capture: cmdCapture,
  monitor: cmdMonitor,
  export: cmdExport,
  stats: cmdStats,
  check: cmdCheck,
  import: cmdImport,
  'wireshark-dissector': cmdWiresharkDissector,
  'wireshark-extcap': cmdWiresharkExtcap,
  sim: cmdSim,
  serve: cmdServe,
  'serve-device': cmdServeDevice,
};

/** Commands with more to say than their HELP lines. */
const OWN_HELP: Readonly<Record<string, string>> = { import: IMPORT_HELP };

/** A command's own usage lines of HELP (its line and the indented ones that continue it), and the notes under them. */
function commandHelp(cmd: string): string {
  const lines = HELP.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`  amp-workbench ${cmd} `) || l === `  amp-workbench ${cmd}`);
  if (at < 0) return HELP;
  let end = at + 1;
  while (end < lines.length && /^ {4,}\S/.test(lines[end]!)) end++;
  const notes = lines.slice(lines.findIndex((l) => l.startsWith('--link SPEC')));
  return ['Usage:', ...lines.slice(at, end), '', ...notes].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    out(HELP);
    return cmd === undefined ? 2 : 0;
  }
  const run = COMMANDS[cmd];
  if (!run) throw new UsageError(`unknown command "${cmd}"; expected one of: ${Object.keys(COMMANDS).join(', ')}`);
  // Every command answers --help with its usage instead of refusing the option.
  if (rest.includes('--help') || rest.includes('-h')) {
    out(OWN_HELP[cmd] ?? commandHelp(cmd));
    return 0;
  }
  return run(rest);
}

watchStdout();
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Stopped by the user: what was still opening (a qtest link waiting for QEMU to connect) must
    // not keep the process alive. The session and the capture are closed by now.
    if (code === INTERRUPTED.SIGINT || code === INTERRUPTED.SIGTERM) setTimeout(() => process.exit(code), 500).unref();
  },
  (e: unknown) => {
    if (e instanceof UsageError || (e instanceof TypeError && 'code' in e && String((e as { code: unknown }).code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`amp-workbench: ${(e as Error).message}\n`);
      process.exitCode = 2;
    } else {
      // Anything else is a failure of the command, said in words (never a Node error's own text).
      process.stderr.write(`amp-workbench: ${systemErrorText(e)}\n`);
      process.exitCode = 1;
    }
  },
);
