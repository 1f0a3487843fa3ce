/**
 * The serial bridge end to end: the real C agent serving a file under a temp dir on one end of a
 * socat pty pair, the workbench's link on the other, with a fault-injecting relay in between.
 * Writes are checked in the file itself; the NOTIFY counter doorbell shows that a retransmitted
 * request never executes twice. Finally the bus engine runs over two bridges: a simulated board's
 * device side through one agent, the workbench driver through another, on one shared file.
 */
import { openSync, readFileSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { parseBoardProfile, type BoardProfile } from '../../src/api/boardProfile';
import { findBuiltinProfile } from '../../src/boards/builtin';
import dk2 from '../../src/boards/profiles/stm32mp157c-dk2.json';
import { BridgeError } from '../../src/serialBridge/client';
import { startSimBoard } from '../../src/sim/board';
import { exerciseDevices } from '../../main/host/exercise';
import { openSerialBridge, openSerialBridgeLink } from '../../main/host/links/serialBridge';
import { nodeRuntime } from '../../main/host/runtime';
import { attachSession } from '../../main/host/session';
import { buildAgent, missingTools, ptyPair, relay, seeded, startAgent, tempDir, type Proc, type Relay } from './bridgeRig';

const SRAM = 0x10040000;
/** The test board's memory: msgbus 0x1000 + vmsgdev 0x5000 + doorbell counters, as one file. */
const FILE_SIZE = 0x6100;
const TO_DEVICE = 0x6000; // counter the driver's NOTIFY increments
const TO_DRIVER = 0x6004; // counter the device's NOTIFY increments

const stoppers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stoppers.splice(0).reverse()) await s();
});

let dir: ReturnType<typeof tempDir>;
let agentBin = '';
beforeAll(() => {
  if (missingTools) return;
  dir = tempDir('bridge-test-');
  agentBin = buildAgent(dir.path);
});
afterAll(() => dir?.remove());

function memFile(name: string, size = FILE_SIZE): string {
  const path = join(dir.path, name);
  writeFileSync(path, new Uint8Array(size));
  return path;
}
const readMem = (path: string) => new Uint8Array(readFileSync(path));
const u32 = (mem: Uint8Array, at: number) => new DataView(mem.buffer, mem.byteOffset).getUint32(at, true);

async function pair(name: string) {
  const p = await ptyPair(dir.path, name);
  stoppers.push(() => p.stop());
  return p;
}
async function agent(tty: string, mem: string, notifyAt: number): Promise<Proc> {
  const a = await startAgent(agentBin, tty, ['--mem', mem, '--window', `${SRAM}:${FILE_SIZE}`, '--notify', `${SRAM + notifyAt}:32:+1`, '--poll-us', '200']);
  stoppers.push(() => a.stop());
  return a;
}

/** sim-stm32mp157 as a bridge board: regions at their STM32MP157 addresses, doorbells as counters. */
function bridgeProfile(watch: number): BoardProfile {
  const sim = findBuiltinProfile('sim-stm32mp157')!;
  const raw = {
    ...JSON.parse(JSON.stringify(sim, (_, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))),
    id: 'bridge-stm32mp157-test',
    access: { kind: 'bridge', transport: 'serial', framing: 'cobs-crc32c', agent: 'bridge-agent-posix' },
    regions: [
      { name: 'msgbus', source: { bridgeAddr: '0x10040000' }, size: '0x1000', peerAddress: '0x10040000' },
      { name: 'vmsgdev', source: { bridgeAddr: '0x10041000' }, size: '0x5000', peerAddress: '0x10041000' },
      { name: 'bells', source: { bridgeAddr: '0x10046000' }, size: '0x100', accessWidths: [32] },
    ],
    doorbellOut: { kind: 'bridge-notify' },
    doorbellIn: { kind: 'bridge-event', source: { region: 'bells', offset: watch, mask: '0xffffffff' } },
  };
  const r = parseBoardProfile(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

describe.skipIf(missingTools !== null)(`serial bridge over pty pairs${missingTools ? ` (skipped: ${missingTools})` : ''}`, () => {
  it('exchanges capabilities and reads, writes, loads and stores the served file', async () => {
    const mem = memFile('plain.bin');
    const p = await pair('plain');
    await agent(p.a, mem, TO_DEVICE);
    const b = await openSerialBridge(p.b, { baudRate: 115200 });
    stoppers.push(() => b.close());
    expect(b.caps).toMatchObject({ protocolVersion: 1, agentName: 'bridge-agent-posix', maxPayload: 16400, windows: [{ base: BigInt(SRAM), size: BigInt(FILE_SIZE), widths: 7 }] });
    const data = Uint8Array.from({ length: 5000 }, (_, i) => (i * 13) & 0xff);
    await b.client.write(BigInt(SRAM + 0x100), data.subarray(0, 4000));
    await b.client.write(BigInt(SRAM + 0x100 + 4000), data.subarray(4000));
    expect(readMem(mem).subarray(0x100, 0x100 + 5000)).toEqual(data);
    await b.client.store(BigInt(SRAM + 0x40), 32, 0xcafef00d);
    expect(u32(readMem(mem), 0x40)).toBe(0xcafef00d);
    expect(await b.client.load(BigInt(SRAM + 0x40), 16)).toBe(0xf00d);
    expect(await b.client.read(BigInt(SRAM + 0x100), 16)).toEqual(data.subarray(0, 16));
    await expect(b.client.read(BigInt(SRAM + FILE_SIZE - 4), 8)).rejects.toThrow(/OUT_OF_RANGE/);
  });

  it('through a relay that drops and corrupts frames, every operation happens exactly once', async () => {
    const mem = memFile('lossy.bin');
    const near = await pair('near');
    const far = await pair('far');
    await agent(near.a, mem, TO_DEVICE);
    const r: Relay = await relay(near.b, far.a, { drop: 0.08, flip: 0.08, seed: 20240611 });
    stoppers.push(() => r.close());
    const b = await openSerialBridge(far.b, { baudRate: 115200, timeoutMs: 40, retries: 25 });
    stoppers.push(() => b.close());

    const rand = seeded(7);
    const model = new Uint8Array(FILE_SIZE);
    const view = new DataView(model.buffer);
    let notified = 0;
    let failed = 0;
    const ops: Promise<void>[] = [];
    for (let i = 0; i < 150; i++) {
      const kind = rand();
      if (kind < 0.45) {
        const len = 1 + Math.floor(rand() * 300);
        const at = Math.floor(rand() * (0x6000 - len));
        const data = Uint8Array.from({ length: len }, () => Math.floor(rand() * 256));
        model.set(data, at);
        ops.push(b.client.write(BigInt(SRAM + at), data));
      } else if (kind < 0.7) {
        ops.push(b.client.notify(0).then(() => void notified++));
      } else {
        const at = Math.floor(rand() * 0x1800) * 4;
        const want = view.getUint32(at, true);
        ops.push(b.client.load(BigInt(SRAM + at), 32).then((v) => expect(v).toBe(want)));
      }
    }
    const settled = await Promise.allSettled(ops);
    for (const s of settled) {
      if (s.status === 'rejected') {
        failed++;
        expect(s.reason).toBeInstanceOf(BridgeError);
      }
    }
    const onDisk = readMem(mem);
    // A failed NOTIFY may or may not have executed; a retransmitted one never twice.
    expect(u32(onDisk, TO_DEVICE)).toBeGreaterThanOrEqual(notified);
    expect(u32(onDisk, TO_DEVICE)).toBeLessThanOrEqual(notified + failed);
    if (failed === 0) {
      view.setUint32(TO_DEVICE, notified, true);
      expect(onDisk).toEqual(model);
    }
    // The relay really interfered, and the client really recovered.
    expect(r.stats.dropped + r.stats.flipped).toBeGreaterThan(0);
    expect(b.client.stats.retransmits).toBeGreaterThan(0);
    expect(b.client.stats.badFrames).toBeGreaterThan(0);
  });

  it('a port that disappears mid-session fails pending and later operations with a clear error', async () => {
    const mem = memFile('gone.bin');
    const p = await pair('gone');
    await agent(p.a, mem, TO_DEVICE);
    const b = await openSerialBridge(p.b, { baudRate: 115200, timeoutMs: 50, retries: 3 });
    stoppers.push(() => b.close());
    expect(await b.client.load(BigInt(SRAM), 32)).toBe(0);
    await p.stop();
    const pending = b.client.load(BigInt(SRAM), 32);
    const e = await pending.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BridgeError);
    expect((e as Error).message).toMatch(new RegExp(`^LOAD32 at 0x10040000 not done: serial port ${p.b}: |^serial port ${p.b}: no valid reply`));
    const later = await b.client.read(BigInt(SRAM), 4).catch((x: unknown) => x);
    expect((later as Error).message).toMatch(new RegExp(`serial port ${p.b}`));
  });

  it('a silent line or a missing port is a clear error at open', async () => {
    const p = await pair('silent');
    await expect(openSerialBridge(p.b, { baudRate: 115200, timeoutMs: 30, retries: 1 })).rejects.toThrow(
      new RegExp(`^no bridge agent answering on ${p.b}: serial port ${p.b}: no valid reply to HELLO .* after 2 attempts`),
    );
    // The port library says "Error: No such file or directory, cannot open PATH" and, for a file
    // that is no tty, "Error: Inappropriate ioctl for device setting custom baud rate of 115200".
    const missing = join(dir.path, 'no-such-tty');
    const advice = '; check the path, permissions (dialout group) and that no other program holds it';
    await expect(openSerialBridge(missing, { baudRate: 115200 })).rejects.toThrow(new Error(`cannot open serial port ${missing}: no such file or folder (ENOENT)${advice}`));
    const plain = memFile('not-a-tty');
    await expect(openSerialBridge(plain, { baudRate: 115200 })).rejects.toThrow(
      new Error(`cannot open serial port ${plain}: it is not a serial port or terminal (ENOTTY) when setting custom baud rate of 115200${advice}`),
    );
  });

  it('builds the Link from a bridge profile: windows at the region addresses, doorbells both ways', async () => {
    const mem = memFile('link.bin');
    const p = await pair('link');
    await agent(p.a, mem, TO_DEVICE);
    const link = await openSerialBridgeLink(bridgeProfile(TO_DRIVER - 0x6000), p.b, { resyncMs: 20 });
    stoppers.push(() => link.close());
    await link.busWindow.store(0x10, 32, 0x1a2b3c4d);
    await link.dataWindow.write(0x20, Uint8Array.of(1, 2, 3));
    const m = readMem(mem);
    expect(u32(m, 0x10)).toBe(0x1a2b3c4d);
    expect(m.subarray(0x1020, 0x1023)).toEqual(Uint8Array.of(1, 2, 3));
    expect(link.dataPeerBase).toBe(0x10041000n);
    await link.doorbellOut.ring();
    expect(u32(readMem(mem), TO_DEVICE)).toBe(1);
    // The peer rings: it increments the watched counter in the shared file.
    const rang = new Promise<void>((r) => link.doorbellIn.subscribe(r));
    const fd = openSync(mem, 'r+');
    writeSync(fd, Uint8Array.of(1, 0, 0, 0), 0, 4, TO_DRIVER);
    closeSync(fd);
    await rang;
    expect(link.description).toMatch(/over serial bridge .* \(agent bridge-agent-posix 1\.0\.0\)$/);
  });

  it('serves the stm32mp157c-dk2 profile as the README runs the agent: IPCC doorbell out, flag watch and acknowledge in', async () => {
    // The file stands in for /dev/mem: SRAM at file offset 0, the IPCC block at 0x6000.
    const IPCC = 0x6000;
    const mem = memFile('dk2.bin', 0x6400);
    const p = await pair('dk2');
    const a = await startAgent(agentBin, p.a, ['--mem', mem, '--window', '0x10040000:0x6000@0', '--window', `0x4c001000:0x400@${IPCC}/32`, '--notify', '0x4c001008:32:0x00100000']);
    stoppers.push(() => a.stop());
    const profile = parseBoardProfile(dk2);
    if (!profile.ok) throw new Error(JSON.stringify(profile.error));
    const link = await openSerialBridgeLink(profile.value, p.b, { resyncMs: 20 });
    stoppers.push(() => link.close());
    await link.doorbellOut.ring();
    expect(u32(readMem(mem), IPCC + 0x8)).toBe(0x00100000); // C1SCR: A7 sets channel 4 occupied
    // The M4 rings: IPCC C2TOC1SR bit 4. The workbench hears it and acknowledges with bit 4 in C1SCR.
    const rang = new Promise<void>((r) => link.doorbellIn.subscribe(r));
    const fd = openSync(mem, 'r+');
    writeSync(fd, Uint8Array.of(0x10, 0, 0, 0), 0, 4, IPCC + 0x1c);
    closeSync(fd);
    await rang;
    await link.busWindow.fence();
    expect(u32(readMem(mem), IPCC + 0x8)).toBe(0x10);
    await expect(link.busWindow.load(0, 32)).resolves.toBe(0);
  });

  it('refuses a profile the agent cannot serve, naming the region and the fix', async () => {
    const mem = memFile('narrow.bin');
    const p = await pair('narrow');
    const a = await startAgent(agentBin, p.a, ['--mem', mem, '--window', `${SRAM}:0x1000`]);
    stoppers.push(() => a.stop());
    await expect(openSerialBridgeLink(bridgeProfile(4), p.b)).rejects.toThrow(
      'profile bridge-stm32mp157-test: regions: region "vmsgdev" [0x10041000, 0x10046000) is not served by agent bridge-agent-posix 1.0.0 on ' +
        `${p.b} (its windows: 0x10040000+0x1000); start the agent with --window 0x10041000:0x5000`,
    );
    await expect(openSerialBridgeLink(findBuiltinProfile('sim-stm32mp157')!, p.b)).rejects.toThrow('access.kind: expected "bridge" for a serial bridge link, saw "sim"');
  });

  it('runs the bus engine over the bridge: a simulated board through one agent, the driver through another', async () => {
    const mem = memFile('board.bin');
    const drv = await pair('drv');
    const dev = await pair('dev');
    await agent(drv.a, mem, TO_DEVICE);
    await agent(dev.a, mem, TO_DRIVER);
    const profile = bridgeProfile(TO_DRIVER - 0x6000);
    // Device side: the simulated STM32MP157 firmware, reaching the same file through its own agent.
    const devLink = await openSerialBridgeLink(bridgeProfile(TO_DEVICE - 0x6000), dev.b, { resyncMs: 20 });
    stoppers.push(() => devLink.close());
    const log: string[] = [];
    const board = startSimBoard({ ...devLink, profile, runtime: nodeRuntime, log: (t) => log.push(t) });
    const link = await openSerialBridgeLink(profile, drv.b, { resyncMs: 20 });
    const session = await attachSession(profile, link);
    stoppers.push(() => session.close());
    const started = await board;
    if (!started.ok) throw new Error(started.error);
    stoppers.push(async () => started.value.close());
    const probed = await session.probe();
    expect(probed.ok && probed.value.map((d) => ({ devNum: d.devNum, phase: d.phase }))).toEqual([{ devNum: 0, phase: 'ready' }]);
    const report = await exerciseDevices(session, { count: 3 });
    expect(report.devices.every((d) => d.failed === 0)).toBe(true);
    expect(log.filter((l) => l.startsWith('dropped'))).toEqual([]);
  });
});
