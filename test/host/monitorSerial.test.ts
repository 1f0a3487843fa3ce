/**
 * A monitor over `serial:` (docs/amp-bus.md §4.6): the real C bridge agent serves a shm file on
 * one end of a socat pty pair, a simulated board (sim --shm) and our driver (exercise) talk
 * through that file as their own processes, and the monitor session watches through the
 * agent's ring taps (main/bridge-agent/PROTOCOL.md §3.3) — no doorbell register, NOTIFY or
 * watch slot taken. Its capture holds the driver's messages, per direction and in order.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import qemuRaw from '../../src/boards/profiles/sim-qemu-amp-pci.json';
import { findBuiltinProfile } from '../../src/boards/builtin';
import { parseBoardProfile } from '../../src/api/boardProfile';
import { toRecords } from '../../src/trace/block';
import { shmFileLayout } from '../../main/host/links/shmFile';
import { openMonitorSession } from '../../main/host/monitorSession';
import { loadCapture } from '../../main/host/trace/load';
import { loadNative } from '../../main/native/index';
import { buildAgent, missingTools, ptyPair, startAgent, tempDir } from './bridgeRig';

const BIN = resolve(__dirname, '../../main/host/cli/amp-workbench.cjs');
const BASE = 0x10000000;
const native = loadNative();
const skip = missingTools ?? (native.ok ? null : native.error);

let dir: ReturnType<typeof tempDir>;
let agentBin = '';
beforeAll(() => {
  if (skip) return;
  dir = tempDir('monitor-serial-');
  agentBin = buildAgent(dir.path);
});
afterAll(() => dir?.remove());

const messages = (path: string, d: string): string[] => {
  const o = loadCapture(path);
  if (!o.ok) throw new Error(o.error);
  return toRecords(o.value.blocks())
    .filter((r) => r.kind === 'message' && r.dir === d)
    .map((r) => Buffer.from(r.data).toString('hex'));
};

function run(args: string[], ready?: RegExp) {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const started = ready ? new Promise<void>((ok) => createInterface({ input: child.stdout! }).on('line', (l) => ready.test(l) && ok())) : Promise.resolve();
  return { child, exited, started, stderr: () => err };
}

describe.skipIf(skip !== null)(`monitor over a serial bridge${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it("records the driver's messages through the agent's ring taps", { timeout: 90_000 }, async () => {
    const board = findBuiltinProfile('sim-qemu-amp-pci')!;
    const file = join(dir.path, 'amp');
    const sim = run(['sim', '--board', board.id, '--shm', file], /./);
    await sim.started;
    const layout = shmFileLayout(board);
    const at = (name: string) => `0x${(BASE + layout.regions.find((r) => r.name === name)!.offset).toString(16)}`;
    const parsed = parseBoardProfile({
      ...qemuRaw,
      id: 'qemu-amp-over-bridge',
      access: { kind: 'bridge', transport: 'serial', path: '/dev/null', baud: 2000000 },
      regions: qemuRaw.regions.map((r) => ({ ...r, source: { bridgeAddr: at(r.name) } })),
      doorbellOut: { kind: 'bridge-notify' },
      doorbellIn: { kind: 'poll', pollIntervalMs: 5 },
    });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
    const pty = await ptyPair(dir.path, 'line');
    const agent = await startAgent(agentBin, pty.a, ['--mem', file, '--window', `${BASE}:${layout.fileSize}`]);
    const monitor = await openMonitorSession(parsed.value, { link: { kind: 'serial', path: pty.b, baudRate: 2_000_000 }, capture: { dir: join(dir.path, 'mon') } });
    try {
      expect(monitor.notices.at(-1)).toMatch(/^rings followed by the bridge agent on the board/);
      const drv = run(['exercise', '--board', board.id, '--link', `shm-file:${file}`, '--out', join(dir.path, 'drv'), '--count', '5']);
      expect(await drv.exited, drv.stderr()).toBe(0);
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      await monitor.close();
      await agent.stop();
      await pty.stop();
      sim.child.kill('SIGTERM');
      await sim.exited;
    }
    expect(monitor.endedBecause).toBeNull();
    for (const d of ['driver-to-device', 'device-to-driver']) {
      const want = messages(join(dir.path, 'drv'), d);
      expect(want.length).toBeGreaterThan(20);
      expect(messages(join(dir.path, 'mon'), d)).toEqual(want);
    }
    expect(monitor.totals.dropped).toEqual([0, 0]);
  });
});
