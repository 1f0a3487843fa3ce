'use strict';
/**
 * The workbench's Wireshark extcap program (Wireshark's extcap(4) manual page; docs/formats.md §1
 * for what the packets hold). Wireshark runs every extcap at every start to ask for its
 * interfaces, so the questions (--extcap-interfaces, --extcap-dlts, --extcap-config) are answered
 * here in plain CommonJS from the table the install step wrote into the installed entry
 * (install.ts: the boards of src/boards/builtin.ts), without TypeScript or the engine. Only
 * --capture loads the engine (capture.ts, through tsx).
 */
const { join } = require('node:path');

/** The interface that opens a board itself; its config picks which (the installed table's boards). */
const BOARD_INTERFACE = 'amp-workbench';
/** LINKTYPE_WIRESHARK_UPPER_PDU: the packets are exported PDUs naming the virtio_msg dissector (src/trace/pcapng.ts). */
const DLT = { number: 252, name: 'WIRESHARK_UPPER_PDU', display: 'virtio-msg trace records (exported PDU)' };
/** The logger control: Wireshark opens the control pipes only for an extcap that declares a control. */
const LOG_CONTROL = 0;

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

function interfaces(installed) {
  return [
    `extcap {version=${field(installed.version)}}{help=${field(installed.help)}}`,
    `interface {value=${BOARD_INTERFACE}}{display=AMP Workbench: virtio-msg board}`,
    `control {number=${LOG_CONTROL}}{type=button}{role=logger}{display=Log}{tooltip=Bring-up and capture messages}`,
  ];
}

function dlts(installed, iface) {
  if (iface !== BOARD_INTERFACE) return null;
  return [`dlt {number=${DLT.number}}{name=${DLT.name}}{display=${DLT.display}}`];
}

function config(installed, iface) {
  if (iface !== BOARD_INTERFACE) return null;
  return [
    `arg {number=0}{call=--board}{display=Board}{type=selector}{tooltip=A built-in board (a profile file, when given, replaces it)}`,
    ...installed.boards.map((b) => `value {arg=0}{value=${field(b.id)}}{display=${field(`${b.id}${b.simulated ? ' (simulated)' : ''}: ${b.description}`)}}{default=${b.id === installed.defaultBoard}}`),
    `arg {number=1}{call=--profile}{display=Board profile}{type=fileselect}{mustexist=true}{tooltip=A board profile file (JSON); replaces the board}`,
    `arg {number=2}{call=--link}{display=Link}{type=string}{tooltip=${field(`How the board is reached (empty: what the profile says): ${installed.linkHelp}`)}}`,
    `arg {number=3}{call=--exercise}{display=Run the workloads}{type=boolflag}{default=false}{tooltip=Run each device's workload in rounds while capturing}`,
    `arg {number=4}{call=--duration}{display=Stop after (seconds)}{type=integer}{range=0,86400}{default=0}{tooltip=0: capture until Wireshark stops it}`,
  ];
}

/**
 * Runs one extcap call. `installed`: the table the install step wrote (version, help URL,
 * boards, default board, link help). Resolves to the exit status.
 */
async function main(argv, installed) {
  const iface = option(argv, '--extcap-interface');
  let lines = null;
  if (argv.includes('--extcap-interfaces')) lines = interfaces(installed);
  else if (argv.includes('--extcap-dlts')) lines = dlts(installed, iface);
  else if (argv.includes('--extcap-config')) lines = config(installed, iface);
  else if (argv.includes('--capture')) {
    if (iface !== BOARD_INTERFACE) {
      process.stderr.write(`amp-workbench extcap: no interface "${iface ?? ''}"; this extcap offers ${BOARD_INTERFACE}\n`);
      return 2;
    }
    require('tsx/cjs');
    return require(join(__dirname, 'capture.ts')).runExtcapCapture(argv);
  } else {
    process.stderr.write('amp-workbench extcap: Wireshark runs this program (--extcap-interfaces, --extcap-dlts, --extcap-config, --capture); install it with `amp-workbench wireshark-extcap --install`\n');
    return 2;
  }
  if (lines === null) {
    process.stderr.write(`amp-workbench extcap: no interface "${iface ?? ''}"; this extcap offers ${BOARD_INTERFACE}\n`);
    return 2;
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

/** The installed entry's whole body: run, then exit (a capture's pending pipe opens must not keep the process alive). */
function run(installed) {
  main(process.argv.slice(2), installed).then(
    (code) => process.stdout.write('', () => process.exit(code)),
    (e) => {
      process.stderr.write(`amp-workbench extcap: ${e && e.message ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}

module.exports = { BOARD_INTERFACE, DLT, LOG_CONTROL, main, run };
