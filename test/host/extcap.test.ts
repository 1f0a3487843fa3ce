/**
 * The Wireshark extcap (main/host/extcap): what the install step writes, the answers Wireshark
 * asks for at every start, and live captures — through the real tshark (as an unprivileged user,
 * like test/host/tshark.test.ts) and through the FIFO and control pipe directly for the stop
 * and error paths.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { type RawData } from 'ws';

import { CONTROL_COMMAND, controlMessage, NO_CONTROL } from '../../main/host/extcap/control';
import { sessionsDir } from '../../main/host/extcap/discovery';
import { batchShim, entryText, EXTCAP_NAME, extcapTable, installExtcap, personalExtcapDirs } from '../../main/host/extcap/install';
import { forEachRecord, fromRecords, toRecords } from '../../src/trace/block';
import { describeRecord } from '../../src/trace/describe';
import { serveEngine, shutdownEngine } from '../../main/host/desktop/engineHost';
import { hostChannel, nodePort } from '../../main/host/desktop/port';
import { WorkbenchService } from '../../main/host/service/workbench';
import { startWebServer, type WebServer } from '../../main/host/web/server';
import { RpcClient, type WorkbenchBackend } from '../../src/api/rpc';
import { importPcapng, PcapngWriter } from '../../src/trace/pcapng';
import { sampleMeta, sampleRecords } from '../unit/trace/sample';
import { AS_NOBODY, HAVE_TSHARK, nobodyCanRead, runTool, toolDir } from './wiresharkTools';

const NOBODY = 65534;
const CLI = join(__dirname, '..', '..', 'main', 'host', 'cli', 'amp-workbench.cjs');
/**
 * Whether Wireshark, and the extcap it starts, run as `nobody`: not when this Node or checkout
 * lies where `nobody` cannot read it (a clone under /root); then as root, whose run Wireshark
 * allows with a warning on stderr. The files they write are handed to `nobody` for decoding.
 */
const EXTCAP_AS_NOBODY = AS_NOBODY && nobodyCanRead([process.execPath, CLI, join(__dirname, '..', '..', 'node_modules', 'tsx', 'package.json')]);
const EXTCAP_USER = { asRoot: !EXTCAP_AS_NOBODY };
/** A capture tshark wrote as root, made readable to the decoding run as `nobody`. */
function readableCapture(path: string): string {
  if (!EXTCAP_AS_NOBODY) chmodSync(path, 0o644);
  return path;
}

describe('install', () => {
  it('picks the personal extcap folder of the installed Wireshark: ~/.config before 4.2, ~/.local/lib from 4.2, both when unknown; %APPDATA% on Windows', () => {
    expect(personalExtcapDirs([4, 0], 'linux', {}, '/h')).toEqual(['/h/.config/wireshark/extcap']);
    expect(personalExtcapDirs([4, 2], 'linux', {}, '/h')).toEqual(['/h/.local/lib/wireshark/extcap']);
    expect(personalExtcapDirs([4, 4], 'darwin', {}, '/h')).toEqual(['/h/.local/lib/wireshark/extcap']);
    expect(personalExtcapDirs(null, 'linux', {}, '/h')).toEqual(['/h/.local/lib/wireshark/extcap', '/h/.config/wireshark/extcap']);
    expect(personalExtcapDirs([4, 4], 'win32', { APPDATA: 'C:\\Users\\u\\AppData\\Roaming' }, '/h')[0]).toMatch(/Roaming.Wireshark.extcap$/);
    expect(() => personalExtcapDirs([4, 4], 'win32', {}, '/h')).toThrow(/%APPDATA% is not set; pass a folder with --dir/);
  });

  it('writes on Windows a .bat shim that runs Node on the entry in a subfolder Wireshark does not scan', () => {
    expect(batchShim({ path: 'C:\\Program Files\\nodejs\\node.exe', electron: false })).toBe('@echo off\r\n"C:\\Program Files\\nodejs\\node.exe" "%~dp0amp-workbench\\amp-workbench-extcap.cjs" %*\r\n');
    expect(batchShim({ path: 'C:\\App\\AMP Workbench.exe', electron: true })).toBe('@echo off\r\nset ELECTRON_RUN_AS_NODE=1\r\n"C:\\App\\AMP Workbench.exe" "%~dp0amp-workbench\\amp-workbench-extcap.cjs" %*\r\n');
    const ws = toolDir();
    try {
      const r = installExtcap({ dir: join(ws.dir, 'extcap'), pluginsDir: join(ws.dir, 'plugins'), platform: 'win32', runner: { path: 'C:\\node.exe', electron: false } });
      expect(r.files).toEqual([join(ws.dir, 'extcap', 'amp-workbench', `${EXTCAP_NAME}.cjs`), join(ws.dir, 'extcap', `${EXTCAP_NAME}.bat`)]);
      expect(readFileSync(r.files[0]!, 'utf8')).not.toMatch(/^#!/);
    } finally {
      ws.dispose();
    }
  });

  it("writes one executable entry with this Node's path and the board table of src/boards/builtin.ts (Electron runs as Node)", () => {
    const table = extcapTable();
    expect(table.boards.map((b) => b.id)).toContain(table.defaultBoard);
    const text = entryText(table, { path: '/usr/bin/node', electron: false }, 'linux', '/x/entry.cjs');
    expect(text).toMatch(/^#!\/usr\/bin\/node\n'use strict';\n/);
    expect(text).toContain('require("/x/entry.cjs")');
    expect(text.endsWith(`entry.run(${JSON.stringify(table)});\n`)).toBe(true);
    expect(entryText(table, { path: '/opt/AMP/amp', electron: true }, 'linux')).toMatch(/^#!\/usr\/bin\/env -S ELECTRON_RUN_AS_NODE=1 \/opt\/AMP\/amp\n/);
  });
});

/** An installed extcap in a fresh HOME that the unprivileged user owns, with its own captures folder. */
function installed(): { ws: ReturnType<typeof toolDir>; entry: string; captures: string; env: Record<string, string> } {
  const ws = toolDir();
  const captures = join(ws.dir, 'captures');
  mkdirSync(captures);
  const r = installExtcap({ dir: join(ws.home, '.config', 'wireshark', 'extcap'), pluginsDir: join(ws.home, '.local', 'lib', 'wireshark', 'plugins'), sessionsDir: sessionsDir('linux', {}, ws.home) });
  if (EXTCAP_AS_NOBODY) spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, ws.dir]);
  return { ws, entry: r.files[0]!, captures, env: { AMP_WORKBENCH_CAPTURES: captures } };
}

function runEntry(entry: string, args: string[]): { code: number | null; stdout: string; stderr: string; ms: number } {
  const t0 = performance.now();
  const r = spawnSync(entry, args, { encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0 };
}

describe("the entry answers Wireshark's questions without the engine", () => {
  let x: ReturnType<typeof installed>;
  beforeAll(() => {
    x = installed();
  });
  afterAll(() => x.ws.dispose());

  it('--extcap-interfaces: the board interface and the logger control (so Wireshark opens the control pipes)', () => {
    const r = runEntry(x.entry, ['--extcap-interfaces', '--extcap-version=4.0']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout.split('\n')).toEqual([
      expect.stringMatching(/^extcap \{version=amp-workbench [^}]+\}\{help=file:\/\/.*README\.md\}$/),
      'interface {value=amp-workbench}{display=AMP Workbench: virtio-msg board}',
      'control {number=0}{type=button}{role=logger}{display=Log}{tooltip=Bring-up and capture messages}',
      '',
    ]);
  });

  it('--extcap-dlts: exported PDUs (link type 252); --extcap-config: board (default marked), profile, link, workloads, duration', () => {
    expect(runEntry(x.entry, ['--extcap-dlts', '--extcap-interface', 'amp-workbench']).stdout).toBe('dlt {number=252}{name=WIRESHARK_UPPER_PDU}{display=virtio-msg trace records (exported PDU)}\n');
    const config = runEntry(x.entry, ['--extcap-config', '--extcap-interface', 'amp-workbench']).stdout.trim().split('\n');
    const table = extcapTable();
    expect(config.filter((l) => l.startsWith('arg ')).map((l) => /\{call=([^}]+)\}.*\{type=([^}]+)\}/.exec(l)!.slice(1))).toEqual([
      ['--board', 'selector'],
      ['--profile', 'fileselect'],
      ['--link', 'string'],
      ['--exercise', 'boolflag'],
      ['--duration', 'integer'],
    ]);
    const values = config.filter((l) => l.startsWith('value '));
    expect(values.map((l) => /\{value=([^}]+)\}/.exec(l)![1])).toEqual(table.boards.map((b) => b.id));
    expect(values.filter((l) => l.endsWith('{default=true}'))).toEqual([expect.stringContaining(`{value=${table.defaultBoard}}`)]);
  });

  it('an entry whose workbench moved away says so, in words', () => {
    const moved = join(x.ws.dir, 'moved.cjs');
    writeFileSync(moved, entryText(extcapTable(), { path: process.execPath, electron: false }, 'linux', '/nowhere/entry.cjs'), { mode: 0o755 });
    const r = runEntry(moved, ['--extcap-interfaces']);
    expect([r.code, r.stdout, r.stderr]).toEqual([1, '', 'amp-workbench extcap: the workbench this was installed from is no longer at /nowhere/entry.cjs; run `amp-workbench wireshark-extcap --install` from where it is now\n']);
  });

  it('an unknown interface or no verb is exit 2 with a sentence', () => {
    const r = runEntry(x.entry, ['--extcap-dlts', '--extcap-interface', 'eth0']);
    expect([r.code, r.stdout, r.stderr]).toEqual([2, '', 'amp-workbench extcap: no interface "eth0"; this extcap offers amp-workbench\n']);
    expect(runEntry(x.entry, []).code).toBe(2);
  });
});

/** Opens `path` (a FIFO) for reading and collects what arrives; `close` drops the reader. */
function readFifo(path: string): { bytes: () => Buffer; close: () => void; ended: Promise<void> } {
  const chunks: Buffer[] = [];
  const s = createReadStream(path);
  s.on('data', (c) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve) => s.on('close', () => resolve()));
  return { bytes: () => Buffer.concat(chunks), close: () => s.destroy(), ended };
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on('exit', (code) => resolve(code));
  });
}

async function until(what: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The names of the records in the pcapng read so far (none before its header has arrived). */
const names = (bytes: Buffer): string[] => {
  const r = importPcapng(bytes);
  return r.ok ? toRecords(r.value.blocks).map((rec) => describeRecord(rec).name) : [];
};

/** Processes still running the installed entry (ours: the path is this test's own folder). */
const running = (entry: string): string[] =>
  spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.includes(entry));

describe('capture to the FIFO: stop paths and errors', () => {
  let x: ReturnType<typeof installed>;
  beforeAll(() => {
    x = installed();
  });
  afterAll(() => x.ws.dispose());

  function capture(extra: string[]): { child: ChildProcess; fifo: ReturnType<typeof readFifo>; stderr: () => string } {
    const fifoPath = join(x.ws.dir, `fifo-${Math.random().toString(36).slice(2)}`);
    spawnSync('mkfifo', [fifoPath]);
    const child = spawn(x.entry, ['--capture', '--extcap-interface', 'amp-workbench', '--fifo', fifoPath, ...extra], { env: { ...process.env, ...x.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c) => (stderr += String(c)));
    return { child, fifo: readFifo(fifoPath), stderr: () => stderr };
  }

  it('SIGTERM: the session is closed (DETACH reaches the FIFO), the trace is in the captures folder, exit 0, nothing left running', async () => {
    const { child, fifo, stderr } = capture(['--exercise']);
    await until(() => names(fifo.bytes()).includes('SET_DEVICE_STATUS'), 15_000);
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
    await fifo.ended;
    const seen = names(fifo.bytes());
    expect(seen[0]).toBe('QUEUE_STATE');
    expect(seen.at(-1)).toBe('DETACH');
    expect(stderr()).toBe('');
    const folders = readdirSync(x.captures);
    expect(folders.length).toBeGreaterThan(0);
    expect(existsSync(join(x.captures, folders[0]!, 'capture.json'))).toBe(true);
    expect(running(x.entry)).toEqual([]);
  }, 30_000);

  it('the reader goes away after bring-up, without workloads: exit 0 within seconds, no EPIPE on stderr', async () => {
    const { child, fifo, stderr } = capture([]);
    await until(() => names(fifo.bytes()).includes('SET_DEVICE_STATUS'), 15_000);
    fifo.close();
    const t0 = Date.now();
    expect(await exited(child)).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(stderr()).toBe('');
    expect(running(x.entry)).toEqual([]);
  }, 30_000);

  it('the reader goes away under a running workload: exit 0, no EPIPE on stderr', async () => {
    const { child, fifo, stderr } = capture(['--exercise']);
    await until(() => fifo.bytes().length > 200_000, 15_000);
    fifo.close();
    expect(await exited(child)).toBe(0);
    expect(stderr()).toBe('');
  }, 30_000);

  it('--duration ends the capture by itself (and options a newer Wireshark adds are passed over)', async () => {
    const { child, fifo } = capture(['--duration', '1', '--extcap-log-level', 'message']);
    expect(await exited(child)).toBe(0);
    await fifo.ended;
    expect(names(fifo.bytes()).at(-1)).toBe('DETACH');
  }, 30_000);

  it("errors reach Wireshark's message box through the control pipe, and stderr", async () => {
    for (const [args, text] of [
      [['--board', 'no-such-board'], 'unknown board "no-such-board"; expected one of: sim-qemu-amp-pci'],
      [['--link', 'shm-file:/nonexistent/board.shm'], 'capture of sim-qemu-amp-pci failed: '],
    ] as const) {
      const controlPath = join(x.ws.dir, `control-${args[0].slice(2)}`);
      spawnSync('mkfifo', [controlPath]);
      const control = readFifo(controlPath);
      const { child, fifo, stderr } = capture([...args, '--extcap-control-out', controlPath]);
      expect(await exited(child)).not.toBe(0);
      await control.ended;
      fifo.close();
      const bytes = control.bytes();
      const messages: { control: number; command: number; text: string }[] = [];
      for (let at = 0; at < bytes.length; ) {
        expect(bytes[at]).toBe(0x54);
        const len = bytes.readUIntBE(at + 1, 3);
        messages.push({ control: bytes[at + 4]!, command: bytes[at + 5]!, text: bytes.subarray(at + 6, at + 4 + len).toString('utf8') });
        at += 4 + len;
      }
      const errors = messages.filter((m) => m.command === CONTROL_COMMAND.error);
      expect(errors).toHaveLength(1);
      expect(errors[0]!.control).toBe(NO_CONTROL);
      expect(errors[0]!.text).toContain(text);
      expect(stderr()).toBe(`amp-workbench: ${errors[0]!.text}\n`);
      expect(stderr()).not.toMatch(/ at |Error:|ENOENT|EPIPE/);
    }
  }, 30_000);

  it('a control message is T, a 3-byte big-endian length of the payload plus 2, the control number, the command, the text', () => {
    expect([...controlMessage(255, 9, 'no')]).toEqual([0x54, 0, 0, 4, 255, 9, 0x6e, 0x6f]);
  });
});

describe.skipIf(!HAVE_TSHARK)('real tshark with the installed extcap', () => {
  let x: ReturnType<typeof installed>;
  beforeAll(() => {
    x = installed();
  });
  afterAll(() => x.ws.dispose());

  it('tshark -D lists the interface, and asks quickly', () => {
    const r = runTool('tshark', ['-D'], x.ws.home, { env: x.env, ...EXTCAP_USER });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d+\. amp-workbench \(AMP Workbench: virtio-msg board\)$/m);
  });

  it('tshark -i amp-workbench -a duration:3 captures the default simulated board, and the installed dissector decodes it', () => {
    const out = join(x.ws.dir, 'out.pcapng');
    const r = runTool('tshark', ['-i', 'amp-workbench', '-a', 'duration:3', '-w', out], x.ws.home, { env: x.env, timeoutMs: 60_000, ...EXTCAP_USER });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/Capturing on 'AMP Workbench: virtio-msg board: amp-workbench'/);
    expect(statSync(out).size).toBeGreaterThan(1000);
    const decoded = runTool('tshark', ['-r', readableCapture(out), '-Y', 'virtio_msg', '-T', 'fields', '-e', 'virtio_msg.name'], x.ws.home);
    expect([decoded.code, decoded.stderr]).toEqual([0, '']);
    const seen = new Set(decoded.stdout.trim().split('\n'));
    for (const name of ['ATTACH', 'GET_DEVICES', 'GET_DEVICE_INFO', 'SET_DEVICE_STATUS']) expect(seen).toContain(name);
    expect(running(x.entry)).toEqual([]);
  }, 90_000);

  it('the config reaches the capture: -o extcap.amp_workbench.board picks the board, .exercise runs the workloads', () => {
    const out = join(x.ws.dir, 'versal.pcapng');
    const r = runTool('tshark', ['-i', 'amp-workbench', '-o', 'extcap.amp_workbench.board:sim-versal', '-o', 'extcap.amp_workbench.exercise:true', '-a', 'duration:3', '-w', out], x.ws.home, { env: x.env, timeoutMs: 60_000, ...EXTCAP_USER });
    expect(r.code).toBe(0);
    const imported = importPcapng(readFileSync(readableCapture(out)));
    if (!imported.ok) throw new Error(imported.error);
    expect(imported.value.meta.board).toBe('sim-versal');
    // The workloads ran: the rng's buffers went round (EVENT_AVAIL / EVENT_USED), not just the bring-up.
    const seen = toRecords(imported.value.blocks).map((rec) => describeRecord(rec).name);
    expect(seen.filter((n) => n === 'EVENT_USED').length).toBeGreaterThan(10);
  }, 90_000);

  it('the keep-alive block (an empty interface statistics block) is skipped by tshark and by our reader', () => {
    const path = join(x.ws.dir, 'keepalive.pcapng');
    const chunks: Uint8Array[] = [];
    const w = new PcapngWriter((c) => chunks.push(c));
    const meta = sampleMeta();
    w.begin(meta);
    forEachRecord(fromRecords(sampleRecords()), (v) => {
      w.write(v);
      w.keepAlive(meta.startWallNs);
    });
    w.end();
    writeFileSync(path, Buffer.concat(chunks));
    chmodSync(path, 0o644);
    const r = runTool('tshark', ['-r', path], x.ws.home);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout.trim().split('\n')).toHaveLength(sampleRecords().length);
    expect(names(Buffer.concat(chunks))).toEqual(sampleRecords().map((rec) => describeRecord(rec).name));
  });
});

describe.skipIf(!HAVE_TSHARK)('live session of a running serve', () => {
  let x: ReturnType<typeof installed>;
  let serve: ChildProcess;
  let serveCaptures: string;
  beforeAll(async () => {
    x = installed();
    serveCaptures = join(x.ws.dir, 'serve-captures');
    mkdirSync(serveCaptures);
    if (EXTCAP_AS_NOBODY) spawnSync('chown', [`${NOBODY}:${NOBODY}`, serveCaptures]);
    // The workbench runs as the same user as Wireshark: its announcement is readable by that user alone.
    const argv = [process.execPath, CLI, 'serve', '--port', '0', '--captures', serveCaptures];
    const [cmd, args] = EXTCAP_AS_NOBODY ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...argv]] : [argv[0]!, argv.slice(1)];
    serve = spawn(cmd, args, { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: x.ws.home }, stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    serve.stdout!.on('data', (c) => (stdout += String(c)));
    await until(() => stdout.includes('token='), 30_000);
  }, 40_000);
  afterAll(async () => {
    if (serve.exitCode === null) {
      serve.kill('SIGTERM');
      await exited(serve);
    }
    x.ws.dispose();
  });

  const liveInterface = (): string => `amp-workbench-live-${serve.pid}`;

  it('tshark -D lists the running workbench; tshark captures its session without opening the board again', () => {
    const listed = runTool('tshark', ['-D'], x.ws.home, { env: x.env, ...EXTCAP_USER });
    expect(listed.stdout).toContain(`${liveInterface()} (AMP Workbench: live session of the running workbench (process ${serve.pid}))`);
    const out = join(x.ws.dir, 'live.pcapng');
    const r = runTool('tshark', ['-i', liveInterface(), '-a', 'duration:3', '-w', out], x.ws.home, { env: x.env, timeoutMs: 60_000, ...EXTCAP_USER });
    expect(r.code).toBe(0);
    const decoded = runTool('tshark', ['-r', readableCapture(out), '-Y', 'virtio_msg', '-T', 'fields', '-e', 'virtio_msg.name'], x.ws.home);
    expect([decoded.code, decoded.stderr]).toEqual([0, '']);
    // From the session's start: its bring-up, recorded by serve before the capture began.
    expect(decoded.stdout.trim().split('\n').slice(0, 40)).toEqual(expect.arrayContaining(['ATTACH', 'GET_DEVICES', 'SET_DEVICE_STATUS']));
    // One session, serve's: the extcap opened none (its captures folder is empty).
    expect(readdirSync(serveCaptures)).toHaveLength(1);
    expect(readdirSync(x.captures)).toEqual([]);
    expect(running(x.entry)).toEqual([]);
  }, 90_000);

  it('the announcement is the user\'s alone (0600), and its token is required: a wrong one is refused, said in words', async () => {
    const announcement = join(sessionsDir('linux', {}, x.ws.home), `${serve.pid}.json`);
    const text = readFileSync(announcement, 'utf8');
    expect(statSync(announcement).mode & 0o777).toBe(0o600);
    writeFileSync(announcement, JSON.stringify({ ...JSON.parse(text), token: 'not-the-token' }));
    try {
      const fifoPath = join(x.ws.dir, 'live-fifo');
      spawnSync('mkfifo', [fifoPath]);
      const fifo = readFifo(fifoPath);
      const child = spawn(x.entry, ['--capture', '--extcap-interface', liveInterface(), '--fifo', fifoPath], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (c) => (stderr += String(c)));
      expect(await exited(child)).toBe(1);
      fifo.close();
      expect(stderr).toBe(`amp-workbench: the workbench (process ${serve.pid}, port ${JSON.parse(text).port}) refused the connection (HTTP 401); is it still the one that announced itself?\n`);
    } finally {
      writeFileSync(announcement, text);
    }
  }, 30_000);

  it('when serve stops, its announcement goes and the interface is no longer listed', async () => {
    serve.kill('SIGTERM');
    await exited(serve);
    const r = runEntry(x.entry, ['--extcap-interfaces']);
    expect(r.stdout).not.toContain('amp-workbench-live-');
    expect(readdirSync(sessionsDir('linux', {}, x.ws.home))).toEqual([]);
  }, 30_000);
});

describe('where running workbenches announce themselves', () => {
  it("in the user's state folder: $XDG_STATE_HOME, else ~/.local/state; %LOCALAPPDATA% on Windows", () => {
    expect(sessionsDir('linux', {}, '/home/me')).toBe('/home/me/.local/state/amp-workbench/sessions');
    expect(sessionsDir('linux', { XDG_STATE_HOME: '/tmp/state' }, '/home/me')).toBe('/tmp/state/amp-workbench/sessions');
    expect(sessionsDir('win32', { LOCALAPPDATA: 'C:\\Users\\me\\AppData\\Local' }, 'C:\\Users\\me')).toMatch(/amp-workbench.sessions$/);
  });
});

describe('the web server for the extcap', () => {
  /** Opens a socket to `server` and collects its control.changed events. */
  async function client(server: WebServer, query: string): Promise<{ ws: WebSocket; controls: boolean[] }> {
    const ws = new WebSocket(`${server.wsUrl}${query}`);
    const controls: boolean[] = [];
    ws.on('message', (d: RawData) => {
      const m = JSON.parse(String(d)) as { event?: string; data?: { controller: boolean } };
      if (m.event === 'control.changed') controls.push(m.data!.controller);
    });
    await new Promise((r) => ws.once('open', r));
    return { ws, controls };
  }

  it('announces port and token while running (0600) and removes them on close; a ?viewer=1 client never takes control', async () => {
    const ws = toolDir();
    const backend: WorkbenchBackend = { handle: () => Promise.resolve({ ok: true, result: {} }), onEvent: () => () => undefined };
    const dir = join(ws.dir, 'sessions');
    const server = await startWebServer({ backend, announceIn: dir, log: () => undefined });
    try {
      const path = join(dir, `${process.pid}.json`);
      expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ pid: process.pid, port: server.port, token: server.token });
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      const extcap = await client(server, '&viewer=1');
      const page = await client(server, '');
      await until(() => extcap.controls.length > 0 && page.controls.length > 0, 5000);
      expect([extcap.controls, page.controls]).toEqual([[false], [true]]);
      page.ws.close();
      await new Promise((r) => setTimeout(r, 100));
      expect(extcap.controls).toEqual([false]);
      extcap.ws.close();
      await server.close();
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      ws.dispose();
    }
  });
});

describe('live session of the desktop engine', () => {
  it('the engine serves its session read-only to the extcap while it runs, announced like serve', async () => {
    const ws = toolDir();
    const announcements = join(ws.dir, 'sessions');
    const entry = installExtcap({ dir: join(ws.dir, 'extcap'), pluginsDir: join(ws.dir, 'plugins'), sessionsDir: announcements }).files[0]!;
    const service = new WorkbenchService({ capturesDir: join(ws.dir, 'captures') });
    const { port1, port2 } = new MessageChannel();
    const host = serveEngine(nodePort(port1), service, { announceIn: announcements, log: () => undefined });
    const main = new RpcClient(hostChannel(nodePort(port2), 'the engine is gone'));
    try {
      expect((await main.request('session.connect', {})).ok).toBe(true);
      await until(() => existsSync(join(announcements, `${process.pid}.json`)), 5000);
      const iface = `amp-workbench-live-${process.pid}`;
      expect(runEntry(entry, ['--extcap-interfaces']).stdout).toContain(`{value=${iface}}`);

      const fifoPath = join(ws.dir, 'fifo');
      spawnSync('mkfifo', [fifoPath]);
      const fifo = readFifo(fifoPath);
      const child = spawn(entry, ['--capture', '--extcap-interface', iface, '--fifo', fifoPath, '--duration', '1'], { stdio: 'ignore' });
      expect(await exited(child)).toBe(0);
      await fifo.ended;
      expect(names(fifo.bytes()).slice(0, 40)).toEqual(expect.arrayContaining(['ATTACH', 'GET_DEVICES', 'SET_DEVICE_STATUS']));
      expect(readdirSync(join(ws.dir, 'captures'))).toHaveLength(1);

      // No client of it drives the session: the page's port does.
      const record = JSON.parse(readFileSync(join(announcements, `${process.pid}.json`), 'utf8')) as { port: number; token: string };
      const other = new WebSocket(`ws://127.0.0.1:${record.port}/ws?token=${record.token}`);
      const reply = new Promise<{ error?: { code: string } }>((resolve) => other.on('message', (d: RawData) => {
        const m = JSON.parse(String(d)) as { id?: number; error?: { code: string } };
        if (m.id === 1) resolve(m);
      }));
      await new Promise((r) => other.once('open', r));
      other.send(JSON.stringify({ id: 1, method: 'session.disconnect', params: {} }));
      expect((await reply).error?.code).toBe('read-only');
      other.close();
    } finally {
      await shutdownEngine(main);
      await host.done;
    }
    expect(readdirSync(announcements)).toEqual([]);
    ws.dispose();
  }, 60_000);
});
