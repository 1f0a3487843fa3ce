/**
 * The qtest link against a fake QEMU (test/host/fakeQtest.ts) speaking the qtest protocol on a
 * real UNIX socket, with our simulated device side behind its BAR1 and guest RAM: PCI discovery,
 * BAR assignment and command register, the doorbell register, a real driver session with
 * polling, QEMU's quirks as findings, and failures (malformed replies, a closed socket, an
 * unanswered command, QEMU exiting) as clear errors with the trace kept.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { parseBoardProfile, type BoardProfile } from '../../src/api/boardProfile';
import raw from '../../src/boards/profiles/qemu-qtest-amp-pci.json';
import { BytesWindow } from '../../src/bus/window';
import { GET_DEVICES_COUNT } from '../../src/roles/driver/dialect';
import { decode } from '../../src/protocol/index';
import { parseHex, toHex } from '../../src/util/hex';
import { encodeDescriptor } from '../../src/virtio/layout';
import { toRecords } from '../../src/trace/block';
import { exerciseDevices } from '../../main/host/exercise';
import { openQtestLink, type QtestLink, type QtestLinkOptions } from '../../main/host/links/qtest';
import { attachSession, type Session } from '../../main/host/session';
import { openJournal } from '../../main/host/trace/journal';
import { loadNative } from '../../main/native/index';
import { listenFakeQtest, type FakeQtestOptions } from './fakeQtest';
import { QEMU_STACK_GARBAGE } from '../../src/sim/qemuGetDevices';
import { VirtioMsgAmpPciModel } from './fakeQtestModel';

const MAIN = join(__dirname, 'fakeQtestMain.ts');

/** The profile's JSON, with the parts the tests edit typed loosely. */
type ProfileJson = Record<string, unknown> & { qtest: Record<string, unknown>; pci: Record<string, unknown>; bus: { timeouts: Record<string, unknown> } };

function profileWith(edits: (p: ProfileJson) => void = () => undefined): BoardProfile {
  const copy = JSON.parse(JSON.stringify(raw)) as ProfileJson;
  edits(copy);
  const r = parseBoardProfile(copy);
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Waits (bounded by the test timeout) until `done` holds. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setTimeout(r, 5));
}

function tmp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qtest-test-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fake QEMU listening (`-qtest unix:PATH,server=on`) and the link connected to it. */
async function rig(fake: Partial<FakeQtestOptions> = {}, profile = profileWith(), linkOpts: Partial<QtestLinkOptions> = {}) {
  const path = join(tmp(), 'qtest.sock');
  const qemu = await listenFakeQtest(path, { profile, ...fake });
  cleanups.push(() => qemu.close());
  const link = await openQtestLink(profile, { socket: path, ...linkOpts });
  cleanups.push(() => link.close());
  return { machine: qemu.machine, link, profile, path };
}

/** The rig with guest RAM in a shared file (memory-backend-file,share=on) that the fake and the link both map. */
async function ramRig() {
  const native = loadNative();
  if (!native.ok) throw new Error(native.error);
  const profile = profileWith((p) => (p.qtest.ramFileBase = '0x4000000'));
  const file = join(tmp(), 'ram');
  writeFileSync(file, '');
  truncateSync(file, profile.dataMemory.size);
  const ram = native.value.map(file, 0, profile.dataMemory.size);
  cleanups.push(() => ram.unmap());
  const { link } = await rig({ ram }, profile, { memFile: file });
  return { link, profile, file, ram };
}

async function session(link: QtestLink, profile: BoardProfile, extra: { problems?: string[] } = {}): Promise<Session> {
  const s = await attachSession(profile, link, {
    capture: { dir: join(tmp(), 'trace') },
    observer: { onProblem: (p) => extra.problems?.push(p.kind === 'handler' ? p.reason : `${p.problem.code}: ${p.problem.reason}`) },
  });
  cleanups.push(() => s.close().catch(() => undefined));
  return s;
}

/** What the session's trace holds so far, read back from its journal. */
function records(s: Session) {
  s.trace.recorder.flush();
  const o = openJournal(s.trace.dir);
  if (!o.ok) throw new Error(o.error);
  return toRecords(o.value.blocks());
}

describe('qtest link: PCI set-up through config space', () => {
  it('finds 10ee:9039 on bus 0, sizes and assigns BAR0/BAR1 from the MMIO window, enables memory and bus mastering', async () => {
    const { machine, link } = await rig();
    expect(link.fn).toMatchObject({ bdf: '0000:00:03.0', vendor: 0x10ee, device: 0x9039, classCode: 0x088000 });
    expect(link.bars.map((b) => [b.index, b.base, b.size, b.prefetchable, b.is64])).toEqual([
      [0, 0xc0000000n, 0x4000n, false, false],
      [1, 0xc0004000n, 0x4000n, true, false],
    ]);
    expect([machine.amp.bar(0), machine.amp.bar(1)]).toEqual([0xc0000000, 0xc0004000]);
    // BAR2 (the MSI-X BAR) is not the profile's: left alone.
    expect(machine.amp.bar(2)).toBe(0);
    expect(machine.amp.commandWrites).toEqual([0x0006]);
    expect(link.description).toContain('0000:00:03.0 10ee:9039');
    expect(link.notices.some((n) => n.includes('MSI-X, which qtest does not deliver') && n.includes('bar1+0x1044'))).toBe(true);
    expect(link.notices.some((n) => n.includes('--link qtest:PATH,mem=FILE'))).toBe(true);
  });

  it('does the same through ECAM (arm virt) when the profile says so', async () => {
    const profile = profileWith((p) => {
      p.qtest.configAccess = 'ecam';
      p.qtest.ecamBase = '0xb0000000';
      p.qtest.mmio = { base: '0x10000000', size: '0x100000' };
    });
    const { machine, link } = await rig({}, profile);
    expect(link.bars.map((b) => b.base)).toEqual([0x10000000n, 0x10004000n]);
    expect(machine.amp.commandWrites).toEqual([0x0006]);
  });

  it('says what the bus has when the device is missing, and when the MMIO window is too small', async () => {
    const wrongId = profileWith((p) => (p.pci.device = '0x9038'));
    await expect(rig({}, wrongId)).rejects.toThrow(/no PCI device 10ee:9038; found: 0000:00:00.0 8086:29c0 .*0000:00:03.0 10ee:9039/);
    const small = profileWith((p) => (p.qtest.mmio = { base: '0xc0000000', size: '0x6000' }));
    await expect(rig({}, small)).rejects.toThrow(/BAR1 of 0x4000 bytes does not fit the MMIO window \[0xc0000000, 0xc0006000\)/);
  });

  it('refuses a profile without a qtest section or with ECAM but no base', () => {
    const bad = JSON.parse(JSON.stringify(raw)) as Record<string, unknown>;
    delete bad.qtest;
    expect(parseBoardProfile(bad)).toMatchObject({ ok: false, error: [{ field: 'qtest' }] });
    bad.qtest = { configAccess: 'ecam', mmio: { base: 0, size: 4096 } };
    expect(parseBoardProfile(bad)).toMatchObject({ ok: false, error: [{ field: 'qtest.ecamBase' }] });
  });
});

describe('qtest link: windows and doorbells', () => {
  it('moves ranges through b64read/b64write; rings NOTIFY[0] with one 32-bit store of 1, which on an empty queue makes QEMU spin', async () => {
    const profile = profileWith((p) => (p.qtest.commandTimeoutMs = 150));
    const { machine, link } = await rig({}, profile);
    const data = Uint8Array.from({ length: 0x12345 }, (_, i) => (i * 31 + 7) & 0xff);
    await link.dataWindow.write(0x100, data);
    expect(Buffer.from(machine.ram.readSync(0x100, data.length)).equals(Buffer.from(data))).toBe(true);
    expect(Buffer.from(await link.dataWindow.read(0x100, data.length)).equals(Buffer.from(data))).toBe(true);
    await link.dataWindow.store(0x40, 16, 0xbeef);
    expect(await link.dataWindow.load(0x40, 16)).toBe(0xbeef);
    expect(await link.dataWindow.load(0x40, 8)).toBe(0xef);
    // QEMU field notes: the inverted drain loop spins on an empty queue and QEMU answers nothing more.
    await expect(link.doorbellOut.ring()).rejects.toThrow(/QEMU did not answer "writel 0xc0000020 0x1" within 150 ms .*it may be spinning \(QEMU's virtio-msg-amp-pci spins on a doorbell rung with its queue empty\)/);
    expect(machine.notifies).toEqual([1]);
    expect(machine.badRegisterAccesses).toEqual([]);
    expect(machine.model.halted).toEqual({ kind: 'spin', reason: 'doorbell 1 on an empty driver queue (head 0): the inverted drain loop spins' });
  });

  it('a FAIL answer rejects that command only; the link carries on', async () => {
    const { link } = await rig({ irqLines: true });
    await expect(link.client.command('no_such_command 1')).rejects.toThrow(/QEMU refused "no_such_command 1": FAIL Unknown command/);
    expect(await link.client.clockStep(1000)).toBeGreaterThan(0n);
    expect(link.client.failed).toBeNull();
  });
});

describe('qtest link: a driver session against the simulated device', () => {
  it('probes and exercises virtio-rng on bus0, bus1 and bus2 with the device queue polled, IRQ lines interleaved', async () => {
    const { link, profile, machine } = await rig({ irqLines: true, devices: [0, 1, 2] });
    const s = await session(link, profile);
    const probed = await s.probe();
    expect(probed.ok).toBe(true);
    if (!probed.ok) return;
    expect(probed.value.map((d) => [d.devNum, d.deviceType, d.phase])).toEqual([
      [0, 'rng', 'ready'],
      [1, 'rng', 'ready'],
      [2, 'rng', 'ready'],
    ]);
    // Size-128 queues: the used ring after the 6 + 2·128-byte driver area, aligned 4 (QEMU offers EVENT_IDX).
    expect(probed.value.map((d) => d.queues.map((q) => [q.size, q.deviceAddr - q.driverAddr]))).toEqual([[[128, 264n]], [[128, 264n]], [[128, 264n]]]);
    const report = await exerciseDevices(s, { count: 4 });
    expect(report.devices.map((d) => [d.deviceType, d.ok, d.failed, d.errors])).toEqual([
      ['rng', 4, 0, []],
      ['rng', 4, 0, []],
      ['rng', 4, 0, []],
    ]);
    // Each response was seen by polling the producer index; QEMU's IRQ lines never got in the way.
    expect(link.pollStats().rings).toBeGreaterThan(4);
    expect(link.client.irqLines).toBeGreaterThan(0);
    // The model drains one message per doorbell and spins on an empty queue: every ring found
    // exactly one message, and nothing led the model to an abort or a spin.
    expect(machine.notifies.every((v) => v === 1)).toBe(true);
    expect(machine.model.drained).toBe(machine.notifies.length);
    expect(machine.model.halted).toBeNull();
    expect(link.findings).toEqual([expect.stringMatching(/^layout magic at bar1\+0x1000 read 0x0000 at connect and 0x4c4f/)]);
  });

  it('maps guest RAM from its shared file when given one (memory-backend-file,share=on)', async () => {
    const { link, profile, ram } = await ramRig();
    expect(link.notices.some((n) => n.includes('mem=FILE'))).toBe(false);
    const s = await session(link, profile);
    expect((await s.probe()).ok).toBe(true);
    const report = await exerciseDevices(s, { count: 2 });
    expect(report.devices.every((d) => d.ok === 2)).toBe(true);
    // The link's view and the device's view are the same file.
    await link.dataWindow.write(0x1f0000, Uint8Array.of(1, 2, 3));
    const back = new Uint8Array(3);
    ram.readInto(0x1f0000, back);
    expect([...back]).toEqual([1, 2, 3]);
  });

  it('a guest RAM file that shrinks under the session loses the link once with why; requests then fail with it', async () => {
    const { link, profile, file } = await ramRig();
    const s = await session(link, profile);
    expect((await s.probe()).ok).toBe(true);
    const told: string[] = [];
    s.onLost((reason) => told.push(reason));
    truncateSync(file, 0x1000);
    const why = `the shared file ${file} shrank to 4096 bytes under the session (expected at least ${profile.dataMemory.size}): the board side truncated it`;
    // The driver's next touch of guest RAM (a virtqueue, a buffer) finds it gone.
    await expect(link.dataWindow.read(0x1f0000, 8)).rejects.toThrow(why);
    expect(await link.lost).toBe(why);
    // Told once the session has drained the bus and failed every request.
    await until(() => told.length > 0);
    expect(told).toEqual([why]);
    expect(s.endedBecause).toBe(why);
    expect(await s.probe()).toEqual({ ok: false, error: `GET_DEVICES failed: ${why}` });
  });
});

describe('qtest link: QEMU quirks are findings, not failures', () => {
  it('late layout magic, token 0 on bus responses, GET_DEVICES msg_size 46, GET_VQUEUE cur_size 8, GET_SHM never answered', async () => {
    const { link, profile, machine } = await rig({ layoutDelayMs: 40, devices: [0, 1] });
    expect(link.findings).toHaveLength(1);
    expect(link.findings[0]).toMatch(/layout magic at bar1\+0x1000 read 0x0000 at connect and 0x4c4f \d+ ms later/);
    const problems: string[] = [];
    const s = await session(link, profile, { problems });
    const probed = await s.probe();
    expect(probed.ok).toBe(true);
    if (!probed.ok) return;
    expect(probed.value.every((d) => d.phase === 'ready')).toBe(true);
    expect(s.driver.busFindings().some((f) => f.startsWith('GET_DEVICES response:') && f.includes('(tolerated)'))).toBe(true);
    expect(probed.value[0]!.findings.some((f) => /GET_VQUEUE 0 reports cur_size 8 before any SET_VQUEUE/.test(f))).toBe(true);
    expect(problems.some((p) => p.startsWith('token-mismatch:') && p.includes('carries token 0x0000'))).toBe(true);
    // GET_SHM: one request waits out the timeout (dev 0); dev 1 is not asked.
    expect(problems.filter((p) => p.startsWith('no-response:'))).toEqual([expect.stringMatching(/^no-response: no response to GET_SHM \(dev_num 0/)]);
    expect(probed.value[0]!.findings).toContain('GET_SHM shmid 0 not answered within 1000 ms; QEMU before PoC-v2 does not answer GET_SHM: treated as no shared-memory regions');
    expect(probed.value[1]!.findings.some((f) => f.startsWith('GET_SHM not asked: dev_num 0 left it unanswered'))).toBe(true);
    expect(s.driver.busFindings().some((f) => f.startsWith('GET_SHM went unanswered (dev_num 0)'))).toBe(true);
    expect(probed.value.map((d) => d.shm)).toEqual([[], []]);
    const report = await exerciseDevices(s, { count: 2 });
    expect(report.devices.every((d) => d.ok === 2)).toBe(true);
    expect(machine.model.halted).toBeNull();
  });

  it('a layout that never appears is a clear error naming the place and the value', async () => {
    const profile = profileWith((p) => (p.bus.timeouts.layoutMs = 60));
    await expect(rig({ layoutDelayMs: 60_000 }, profile)).rejects.toThrow(/layout magic at bar1\+0x1000 still 0x0000 after \d+ ms, expected 0x4c4f/);
  });
});

describe('qtest link: failures are clear errors and the trace is kept', () => {
  it('a malformed reply ends the link: this and every later command fail saying what was seen; the trace is kept', async () => {
    let armed = false;
    const { link, profile } = await rig({ misbehave: () => (armed ? 'BANANA 42' : undefined) });
    const s = await session(link, profile);
    expect((await s.probe()).ok).toBe(true);
    const before = records(s);
    armed = true;
    const e1 = await link.dataWindow.read(0, 4).catch((e: Error) => e.message);
    expect(e1).toMatch(/malformed qtest reply "BANANA 42" to ".*": expected "OK \[VALUE\]", "FAIL …" or "IRQ raise\|lower N" \(last exchange: /);
    await expect(link.busWindow.load(0, 16)).rejects.toThrow(e1 as string);
    const again = await s.resetDevice(0);
    expect(again.phase).toBe('failed');
    expect(again.error).toContain('malformed qtest reply "BANANA 42"');
    const after = records(s);
    expect(after.length).toBeGreaterThan(before.length);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(before.filter((r) => r.kind === 'message').length).toBeGreaterThan(10);
  });

  it('a closed socket: every pending and later operation fails with "QEMU closed the qtest socket"', async () => {
    let armed = false;
    const { link, path } = await rig({ misbehave: () => (armed ? 'close' : undefined) });
    armed = true;
    const pending = [link.client.readMem(0xc0000000n, 32), link.dataWindow.read(0, 8), link.dataWindow.load(0, 32)];
    const results = await Promise.allSettled(pending);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason.message).toContain(`QEMU closed the qtest socket ${path}`);
    }
    await expect(link.doorbellOut.ring()).rejects.toThrow(/QEMU closed the qtest socket/);
    // The poller stopped and said why.
    await new Promise((r) => setTimeout(r, 20));
    expect(link.notices.some((n) => n.startsWith('polling stopped: QEMU closed the qtest socket'))).toBe(true);
  });

  it('an unanswered command fails after commandTimeoutMs instead of hanging', async () => {
    const profile = profileWith((p) => (p.qtest.commandTimeoutMs = 150));
    let armed = false;
    const { link } = await rig({ misbehave: () => (armed ? 'IRQ raise 3' : undefined) }, profile);
    armed = true;
    await expect(link.dataWindow.load(0, 32)).rejects.toThrow(/QEMU did not answer ".+" within 150 ms \(\d+ command\(s\) outstanding\)/);
    await expect(link.dataWindow.load(0, 32)).rejects.toThrow(/did not answer/);
  });

  it('a QEMU the link started (it connects to the link: -qtest unix:PATH) and that exits mid-session: the exit code and stderr are in the error', async () => {
    const profile = profileWith((p) => {
      p.qtest.qemu = { binary: process.execPath, args: ['--require', 'tsx/cjs', MAIN, JSON.stringify({ devices: [0] })] };
    });
    const link = await openQtestLink(profile, { connectTimeoutMs: 20_000 });
    cleanups.push(() => link.close());
    expect(link.qemu?.pid).toBeGreaterThan(0);
    const s = await session(link, profile);
    expect((await s.probe()).ok).toBe(true);
    const before = records(s).length;
    // The fake exits (code 3) when it reads this command.
    const dying = link.client.command('fake_exit').catch((e: Error) => e.message);
    const exitSays = /QEMU \(pid \d+\) exited with code 3; its stderr ends: fake QEMU: virtio-msg-amp-pci: simulated abort/;
    expect(await dying).toMatch(exitSays);
    await expect(link.dataWindow.read(0, 16)).rejects.toThrow(exitSays);
    const r = await s.driver.bringUp(0);
    expect(r.phase).toBe('failed');
    expect(r.error).toMatch(exitSays);
    expect(records(s).length).toBeGreaterThanOrEqual(before);
  }, 30_000);

  it('a QEMU that cannot start is reported with the reason', async () => {
    const profile = profileWith((p) => (p.qtest.qemu = { binary: join(tmp(), 'no-such-qemu'), args: [] }));
    await expect(openQtestLink(profile, { connectTimeoutMs: 5000 })).rejects.toThrow(/QEMU did not connect to .*: cannot start .*no-such-qemu: no such program \(give its full path, or put it on PATH\)/);
  });

  it('connecting to a socket nobody listens on says how to start QEMU', async () => {
    const path = join(tmp(), 'none.sock');
    await expect(openQtestLink(profileWith(), { socket: path })).rejects.toThrow(/cannot connect to the qtest socket .*none\.sock.*-qtest unix:.*,server=on,wait=off/);
  });
});

/**
 * The real CLI, as a user runs it ("Attach a real board", qtest), against the fake QEMU in its
 * own process, listening like `-qtest unix:PATH,server=on,wait=off`, with virtio-rng on bus0,
 * bus1 and bus2. probe, exercise and capture run one after the other against the same QEMU (the
 * later sessions re-attach to a device head already in RUN). The fake says on stderr when the
 * driver led it into an abort or a spin; it must have nothing to say.
 */
describe('the CLI against the fake QEMU process (probe, exercise, capture)', () => {
  const BIN = join(__dirname, '../../main/host/cli/amp-workbench.cjs');
  const cli = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });

  it('enumerates and brings up every device to DRIVER_OK, prints QEMU\'s deviations as findings, and never trips the model', async () => {
    const dir = tmp();
    const path = join(dir, 'qtest.sock');
    const fake = spawn(process.execPath, ['--require', 'tsx/cjs', MAIN, JSON.stringify({ devices: [0, 1, 2] }), '-qtest', `unix:${path},server=on,wait=off`, '-accel', 'qtest'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let fakeErr = '';
    fake.stderr.setEncoding('utf8').on('data', (t: string) => (fakeErr += t));
    cleanups.push(() => void fake.kill());
    while (!existsSync(path) && fake.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    const link = ['--board', 'qemu-qtest-amp-pci', '--link', `qtest:${path}`];

    const probe = cli(['probe', ...link]);
    expect(probe.status, probe.stderr).toBe(0);
    const lines = probe.stdout.split('\n');
    expect(lines.filter((l) => /^\d+\s+rng \(4\)\s+ACKNOWLEDGE\|DRIVER\|DRIVER_OK\|FEATURES_OK\s/.test(l))).toHaveLength(3);
    for (const finding of [
      '  bus finding: GET_DEVICES response: count 32 needs msg_size 18 but msg_size is 46: 14 + 32, the bitmap counted in bytes, not bits (tolerated)',
      '  bus finding: response to GET_DEVICES (bus message, token 0x0001) carries token 0x0000; matched by (dev_num, msg_id) instead (QEMU answers bus requests with token 0); reported once per message type',
      '  bus finding: GET_SHM went unanswered (dev_num 0): later devices on this bus are not asked and have no shared-memory regions',
      '  dev 2 finding: GET_VQUEUE 0 reports cur_size 8 before any SET_VQUEUE (spec: 0 for an unconfigured queue; QEMU reports its default size)',
    ]) {
      expect(lines).toContain(finding);
    }

    const exercise = cli(['exercise', ...link, '--count', '5', '--json']);
    expect(exercise.status, exercise.stderr).toBe(0);
    const report = JSON.parse(exercise.stdout) as { devices: { devNum: number; ok: number; failed: number }[] };
    expect(report.devices.map((d) => [d.devNum, d.ok, d.failed])).toEqual([
      [0, 5, 0],
      [1, 5, 0],
      [2, 5, 0],
    ]);

    const capture = cli(['capture', ...link, '--exercise', '--duration', '1s', '--out', join(dir, 'qemu1')]);
    expect(capture.status, capture.stderr).toBe(0);
    expect(capture.stdout).toMatch(/^\d+ records \(.*\) from qemu-qtest-amp-pci in .* → .*qemu1$/m);

    // Still alive and answering (no abort), and it never spun or asserted.
    expect(fake.exitCode).toBeNull();
    expect(cli(['probe', ...link, '--json']).status).toBe(0);
    expect(fakeErr).toBe('');
  }, 120_000);
});

const qemuBinary = spawnSync('sh', ['-c', 'command -v qemu-system-x86_64'], { encoding: 'utf8' }).stdout.trim();
const qemuHasAmpPci = qemuBinary !== '' && spawnSync(qemuBinary, ['-device', 'help'], { encoding: 'utf8' }).stdout.includes('virtio-msg-amp-pci');

describe.skipIf(!qemuHasAmpPci)('qtest link against a real QEMU with virtio-msg-amp-pci', () => {
  it('brings up virtio-rng and reads random bytes', async () => {
    const profile = profileWith((p) => {
      p.qtest.qemu = {
        binary: qemuBinary,
        args: ['-machine', 'q35', '-m', '128M', '-nodefaults', '-display', 'none', '-device', 'virtio-msg-amp-pci', '-device', 'virtio-rng-device,bus=/q35-pcihost/pcie.0/virtio-msg-amp-pci/fifo0/virtio-msg/bus0/virtio-msg-dev'],
      };
    });
    const link = await openQtestLink(profile);
    cleanups.push(() => link.close());
    const s = await session(link, profile);
    const probed = await s.probe();
    expect(probed.ok).toBe(true);
    const report = await exerciseDevices(s, { count: 2 });
    expect(report.devices[0]?.ok).toBe(2);
  }, 60_000);
});


/**
 * The fake's model driven directly through its BAR1 and RAM, as a driver would: the bytes of the
 * QEMU field notes, and why the driver asks what it asks.
 */
describe("fake QEMU's virtio-msg-amp-pci model, byte for byte from the field notes", () => {
  const RAM_BASE = 0x4000000n;
  function bare(devices: number[] = [0]) {
    const bar1 = new BytesWindow(new ArrayBuffer(0x4000));
    const ram = new BytesWindow(new ArrayBuffer(0x10000));
    const halts: string[] = [];
    const drops: string[] = [];
    const model = new VirtioMsgAmpPciModel({ bar1, ram, ramBase: RAM_BASE, ramSize: 0x10000, devices, onHalt: (k, r) => halts.push(`${k}: ${r}`), onDrop: (r) => drops.push(r) });
    model.writeLayout();
    let tail = 0;
    let head = 0;
    return {
      bar1,
      ram,
      model,
      halts,
      drops,
      /** Queues one message in the driver element array (no doorbell). */
      put(hexText: string) {
        const slot = new Uint8Array(64);
        slot.set(parseHex(hexText)!);
        bar1.writeSync(0x2010 + 64 * tail, slot);
        tail = (tail + 1) % 63;
        bar1.storeSync(0x104c, 16, tail);
      },
      /** The next slot the device published, or null. */
      take(): Uint8Array | null {
        if (bar1.loadSync(0x1044, 16) === head) return null;
        const m = bar1.readSync(0x1050 + 64 * head, 64);
        head = (head + 1) % 63;
        bar1.storeSync(0x104e, 16, head);
        return m;
      },
    };
  }
  const hexOf = (b: Uint8Array | null, n: number): string => (b ? toHex(b.subarray(0, n)) : 'nothing');

  it('writes the layout header of the notes, its magic only when published', () => {
    const m = bare();
    expect(toHex(m.bar1.readSync(0x1000, 64))).toBe(
      '00 00 40 00 01 00 00 00 00 00 3f 00 40 00 00 00 ' +
        '00 00 00 00 00 00 00 00 40 00 00 00 00 00 00 00 50 00 00 00 00 00 00 00 ' +
        '00 00 00 00 00 00 00 00 48 00 00 00 00 00 00 00 10 10 00 00 00 00 00 00',
    );
    m.model.publishLayout();
    m.model.stop();
    expect(m.bar1.loadSync(0x1000, 16)).toBe(0x4c4f);
    // The first init tick: device head magic 0x514f, status INIT (the driver head is not up yet).
    expect(toHex(m.bar1.readSync(0x1040, 8))).toBe('4f 51 00 00 00 00 00 00');
  });

  it('GET_DEVICES count 32: msg_size 46, token 0, the 4 bitmap bytes, then zeros (real QEMU: nothing past the array is copied)', () => {
    const m = bare([0, 3]);
    m.put('02 02 00 00 07 00 0c 00 00 00 20 00');
    m.model.doorbell();
    const r = m.take()!;
    expect(hexOf(r, 18)).toBe('03 02 00 00 00 00 2e 00 00 00 20 00 00 00 09 00 00 00');
    expect(r.subarray(18, 48).every((b) => b === 0)).toBe(true);
    const d = decode(r, 'r3', { maxSize: 48 });
    expect(d.msg!.fields['bitmap']).toEqual(Uint8Array.of(9, 0, 0, 0));
  });

  it('GET_DEVICES with a count above 32 copies the stack behind the array, as far as the 48-byte message reaches', () => {
    const m = bare([0]);
    // A stale 64-byte message in the slot first: real QEMU writes only sizeof(VirtIOMSG) = 48 bytes.
    m.bar1.writeSync(0x1000 + 0x50, new Uint8Array(64).fill(0xee));
    m.put('02 02 00 00 07 00 0c 00 00 00 40 00');
    m.model.doorbell();
    const r = m.take()!;
    expect(hexOf(r, 18)).toBe('03 02 00 00 00 00 4e 00 00 00 40 00 00 00 01 00 00 00');
    // num 64: 8 bytes copied, 4 of them the stack; phantom devices if read.
    expect([...r.subarray(18, 22)]).toEqual([...QEMU_STACK_GARBAGE.subarray(0, 4)]);
    expect(r.subarray(22, 48).every((b) => b === 0)).toBe(true);
    expect(r.subarray(48, 64).every((b) => b === 0xee)).toBe(true);
  });

  it('a dev_num with no device: GET_DEVICE_INFO answers device_id 0, GET_DEVICE_STATUS kills QEMU (SIGSEGV)', () => {
    const m = bare([0]);
    m.put('00 02 05 00 09 00 08 00');
    m.model.doorbell();
    const r = m.take()!;
    expect(hexOf(r, 12)).toBe('01 02 05 00 09 00 20 00 00 00 00 00');
    m.put('00 07 05 00 0a 00 08 00');
    m.model.doorbell();
    expect(m.model.halted).toEqual({ kind: 'segv', reason: 'segmentation fault: GET_DEVICE_STATUS for dev_num 5, which has no device' });
  });

  it('GET_DEVICES count 272 (what the driver used to ask): msg_size 286, which no 64-byte slot holds', () => {
    const m = bare();
    m.put('02 02 00 00 07 00 0c 00 00 00 10 01');
    m.model.doorbell();
    const r = m.take()!;
    expect(hexOf(r, 18)).toBe('03 02 00 00 00 00 1e 01 00 00 10 01 00 00 01 00 00 00');
    // The profile's bus maximum is 48 and the slot 64: the answer is oversize whatever is done with it.
    const d = decode(r, 'r3', { maxSize: 48 });
    expect(d.problems.map((p) => p.code)).toEqual(expect.arrayContaining(['oversize', 'size-mismatch']));
    expect(d.problems.find((p) => p.code === 'oversize')!.reason).toBe('msg_size 0x011e (286) exceeds the bus maximum 48');
    expect(GET_DEVICES_COUNT).toBe(32);
  });

  it('drains one message per doorbell and spins on a doorbell with nothing queued', () => {
    const m = bare();
    m.put('00 07 00 00 01 00 08 00');
    m.put('00 07 00 00 02 00 08 00');
    m.model.doorbell();
    expect(hexOf(m.take(), 12)).toBe('01 07 00 00 01 00 0c 00 00 00 00 00');
    expect(m.take()).toBeNull();
    m.model.doorbell();
    expect(hexOf(m.take(), 12)).toBe('01 07 00 00 02 00 0c 00 00 00 00 00');
    m.model.doorbell();
    expect(m.halts).toEqual(['spin: doorbell 3 on an empty driver queue (head 2): the inverted drain loop spins']);
    m.put('00 07 00 00 03 00 08 00');
    m.model.doorbell();
    expect(m.take()).toBeNull();
  });

  it('answers virtio-rng as observed: DEVICE_INFO, features, status echo, GET_VQUEUE 1024/8, GET_SHM dropped', () => {
    const m = bare();
    const ask = (req: string, n: number): string => {
      m.put(req);
      m.model.doorbell();
      return hexOf(m.take(), n);
    };
    expect(ask('00 02 00 00 11 00 08 00', 32)).toBe('01 02 00 00 11 00 20 00 04 00 00 00 51 45 4d 55 40 00 00 00 00 00 00 00 00 04 00 00 00 00 00 00');
    expect(ask('00 03 00 00 12 00 10 00 00 00 00 00 02 00 00 00', 24)).toBe('01 03 00 00 12 00 18 00 00 00 00 00 02 00 00 00 00 00 00 30 01 01 00 00');
    expect(ask('00 08 00 00 13 00 0c 00 0b 00 00 00', 12)).toBe('01 08 00 00 13 00 0c 00 0b 00 00 00');
    expect(ask('00 09 00 00 14 00 0c 00 00 00 00 00', 24)).toBe('01 09 00 00 14 00 30 00 00 00 00 00 00 04 00 00 08 00 00 00 00 00 00 00');
    expect(ask('00 0c 00 00 15 00 0c 00 00 00 00 00', 8)).toBe('nothing');
    expect(m.drops).toEqual(['GET_SHM for dev_num 0: not answered (QEMU field notes)']);
    expect(m.halts).toEqual([]);
  });

  it('fills an rng buffer on EVENT_AVAIL and sends EVENT_USED 00 42 0000 0000 0c00 00000000', () => {
    const m = bare();
    // Queue 0, size 8: desc at RAM 0x1000, avail 0x1080, used 0x10a0; one 64-byte writable buffer at 0x2000.
    m.ram.writeSync(0x1000, Uint8Array.from(encodeDescriptor({ addr: RAM_BASE + 0x2000n, len: 64, flags: 2, next: 0 })));
    m.ram.storeSync(0x1084, 16, 0);
    m.ram.storeSync(0x1082, 16, 1);
    m.put('00 0a 00 00 01 00 30 00 00 00 00 00 00 00 00 00 08 00 00 00 00 00 00 00 00 10 00 04 00 00 00 00 80 10 00 04 00 00 00 00 a0 10 00 04 00 00 00 00');
    m.model.doorbell();
    expect(hexOf(m.take(), 8)).toBe('01 0a 00 00 01 00 08 00');
    m.put('00 41 00 00 00 00 10 00 00 00 00 00 00 00 00 00');
    m.model.doorbell();
    expect(hexOf(m.take(), 12)).toBe('00 42 00 00 00 00 0c 00 00 00 00 00');
    expect(toHex(m.ram.readSync(0x10a0, 12))).toBe('00 00 01 00 00 00 00 00 40 00 00 00');
    expect(m.ram.readSync(0x2000, 64).some((b) => b !== 0)).toBe(true);
  });

  it('aborts on GET_VQUEUE past the queue count and on a response-typed message', () => {
    const past = bare();
    past.put('00 09 00 00 01 00 0c 00 01 00 00 00');
    past.model.doorbell();
    expect(past.halts).toEqual(['abort: assertion failed: vring.num (GET_VQUEUE index 1 of dev_num 0, which has 1 queue)']);
    const response = bare();
    response.put('01 07 00 00 01 00 0c 00 00 00 00 00');
    response.model.doorbell();
    expect(response.halts).toEqual(['abort: assertion failed: a response-typed message (type 0x01, msg_id 0x07) reached the device']);
  });
});
