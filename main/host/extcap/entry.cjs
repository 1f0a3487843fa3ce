'use strict';
/**
 * The workbench's Wireshark extcap program (Wireshark's extcap(4) manual page; docs/formats.md §1
 * for what the packets hold). Wireshark runs every extcap at every start to ask for its
 * interfaces, so the questions (--extcap-interfaces, --extcap-dlts, --extcap-config) are answered
 * here in plain CommonJS from the table the install step wrote into the installed entry
 * (install.ts: the boards of src/boards/builtin.ts), without TypeScript or the engine. Only
 * --capture loads the engine (capture.ts, through tsx).
 */
const { readdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

/** The interface that opens a board itself; its config picks which (the installed table's boards). */
const BOARD_INTERFACE = 'amp-workbench';
/** The logger control: Wireshark opens the control pipes only for an extcap that declares a control. */
const LOG_CONTROL = 0;

/** One interface per running workbench that owns a board (discovery.ts writes their announcements). */
const LIVE_PREFIX = 'amp-workbench-live-';

/** A sentence's value: braces end a field in the extcap grammar, so none may appear inside one. */
const field = (text) => String(text).replace(/[{}]/g, (c) => (c === '{' ? '(' : ')')).replace(/[\r\n]+/g, ' ');

/** The value of `--name VALUE` or `--name=VALUE` in argv, or undefined. */
function option(argv, name) {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === name) return argv[i + 1];
    if (argv[i].startsWith(name + '=')) return argv[i].slice(name.length + 1);
  }
  return undefined;
}

/** The announcements (discovery.ts) of workbenches still running; stale ones (a killed server's) are passed over. */
function liveSessions(dir) {
  let names;
  try {
    names = readdirSync(dir).filter((n) => /^\d+\.json$/.test(n));
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    try {
      const s = JSON.parse(readFileSync(join(dir, n), 'utf8'));
      if (!Number.isInteger(s.pid) || !Number.isInteger(s.port) || typeof s.token !== 'string') return [];
      process.kill(s.pid, 0);
      return [s];
    } catch {
      return [];
    }
  });
}

/** The live session an interface names, or null. */
function liveSession(installed, iface) {
  if (!iface || !iface.startsWith(LIVE_PREFIX)) return null;
  return liveSessions(installed.sessionsDir).find((s) => `${LIVE_PREFIX}${s.pid}` === iface) || null;
}

function interfaces(installed) {
  return [
    `extcap {version=${field(installed.version)}}{help=${field(installed.help)}}`,
    `interface {value=${BOARD_INTERFACE}}{display=AMP Workbench: virtio-msg board}`,
    ...liveSessions(installed.sessionsDir).map((s) => `interface {value=${LIVE_PREFIX}${s.pid}}{display=AMP Workbench: live session of the running workbench (process ${s.pid})}`),
    `control {number=${LOG_CONTROL}}{type=button}{role=logger}{display=Log}{tooltip=Bring-up and capture messages}`,
  ];
}

function dlts(installed, iface) {
  if (iface !== BOARD_INTERFACE && !liveSession(installed, iface)) return null;
  // The packets are exported PDUs naming the virtio_msg dissector (src/trace/pcapng.ts; the table holds its link type).
  return [`dlt {number=${installed.linkType}}{name=WIRESHARK_UPPER_PDU}{display=virtio-msg trace records (exported PDU)}`];
}

const DURATION_ARG = (n) => `arg {number=${n}}{call=--duration}{display=Stop after (seconds)}{type=integer}{range=0,86400}{default=0}{tooltip=0: capture until Wireshark stops it}`;

function config(installed, iface) {
  if (liveSession(installed, iface)) return [DURATION_ARG(0)];
  if (iface !== BOARD_INTERFACE) return null;
  return [
    `arg {number=0}{call=--board}{display=Board}{type=selector}{tooltip=A built-in board (a profile file, when given, replaces it)}`,
    ...installed.boards.map((b) => `value {arg=0}{value=${field(b.id)}}{display=${field(`${b.id}${b.simulated ? ' (simulated)' : ''}: ${b.description}`)}}{default=${b.id === installed.defaultBoard}}`),
    `arg {number=1}{call=--profile}{display=Board profile}{type=fileselect}{mustexist=true}{tooltip=A board profile file (JSON); replaces the board}`,
    `arg {number=2}{call=--link}{display=Link}{type=string}{tooltip=${field(`How the board is reached (empty: what the profile says): ${installed.linkHelp}`)}}`,
    `arg {number=3}{call=--exercise}{display=Run the workloads}{type=boolflag}{default=false}{tooltip=Run each device's workload in rounds while capturing}`,
    DURATION_ARG(4),
  ];
}

function noInterface(iface) {
  return iface && iface.startsWith(LIVE_PREFIX)
    ? `no running workbench for interface "${iface}": the workbench that owned the board has stopped; capture from ${BOARD_INTERFACE} instead`
    : `no interface "${iface ?? ''}"; this extcap offers ${BOARD_INTERFACE}`;
}

/**
 * Runs one extcap call. `installed`: the table the install step wrote (version, help URL,
 * boards, default board, link help, the folder running workbenches announce themselves in). Resolves to the exit status.
 */
async function main(argv, installed) {
  const iface = option(argv, '--extcap-interface');
  let lines = null;
  if (argv.includes('--extcap-interfaces')) lines = interfaces(installed);
  else if (argv.includes('--extcap-dlts')) lines = dlts(installed, iface);
  else if (argv.includes('--extcap-config')) lines = config(installed, iface);
  else if (argv.includes('--capture')) {
    const live = liveSession(installed, iface);
    if (iface !== BOARD_INTERFACE && !live) {
      process.stderr.write(`amp-workbench extcap: ${noInterface(iface)}\n`);
      return 2;
    }
    require('tsx/cjs');
    return require(join(__dirname, 'capture.ts')).runExtcapCapture(argv, { live, logControl: LOG_CONTROL });
  } else {
    process.stderr.write('amp-workbench extcap: Wireshark runs this program (--extcap-interfaces, --extcap-dlts, --extcap-config, --capture); install it with `amp-workbench wireshark-extcap --install`\n');
    return 2;
  }
  if (lines === null) {
    process.stderr.write(`amp-workbench extcap: ${noInterface(iface)}\n`);
    return 2;
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

/** The installed entry's whole body: run, then exit (a capture's pending pipe opens must not keep the process alive). */
function run(installed) {
  main(process.argv.slice(2), installed).then(
    (code) => process.stdout.write('', () => process.exit(code)),
    () => {
      // capture.ts reports its own failures; this is the engine failing to load (a broken checkout).
      process.stderr.write(`amp-workbench extcap: the workbench at ${join(__dirname, '..', '..', '..')} could not be loaded; check it with \`npm install\` there, then install the extcap again\n`);
      process.exit(1);
    },
  );
}

module.exports = { run };
