/**
 * The pci link against a generated sysfs/UIO tree (test/host/fakeSysfs.ts): discovery, command
 * register writes, BAR mapping, doorbell register stores, UIO interrupts and their re-arm, the
 * polling fallback, bad input, and a real driver session against a simulated device side that
 * runs in another process on the same resource files.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { parseBoardProfile, type BoardProfile } from '../../src/api/boardProfile';
import qemuAmpPci from '../../src/boards/profiles/qemu-virtio-msg-amp-pci.json';
import versalVek280 from '../../src/boards/profiles/versal-vek280.json';
import { exerciseDevices } from '../../main/host/exercise';
import { openPciLink, publishValue, type PciLink } from '../../main/host/links/pci';
import { accessHint, findPciFunction, PCI_COMMAND_INTX_DISABLE, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY } from '../../main/host/links/sysfs';
import { attachSession, type Session } from '../../main/host/session';
import { loadNative } from '../../main/native/index';
import { makeFakeSysfs, openUioFeeder, readFileWord, writeFileWord, type FakePciSpec, type FakeSysfs } from './fakeSysfs';
import type { FakeDeviceArgs } from './fakePciDevice';

const BDF = '0000:00:03.0';
const SERR = 1 << 8;

/** A shipped profile with the values at dotted paths (e.g. "regions.2.source") replaced. */
function profileFrom(raw: unknown, edits: Record<string, unknown> = {}): BoardProfile {
  const copy = JSON.parse(JSON.stringify(raw)) as Record<string, unknown>;
  for (const [path, value] of Object.entries(edits)) {
    const keys = path.split('.');
    let obj = copy;
    for (const k of keys.slice(0, -1)) obj = obj[k] as Record<string, unknown>;
    obj[keys[keys.length - 1]!] = value;
  }
  const r = parseBoardProfile(copy);
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

/** QEMU's virtio-msg-amp-pci: BAR0 16 KiB registers, BAR1 16 KiB prefetchable FIFO window (§5.1). */
function ampPci(over: Partial<FakePciSpec> = {}): FakePciSpec {
  return {
    bdf: BDF,
    vendor: 0x10ee,
    device: 0x9039,
    bars: [
      { index: 0, size: 0x4000 },
      { index: 1, size: 0x4000, prefetchable: true },
      { index: 2, size: 0x1000 },
    ],
    command: PCI_COMMAND_INTX_DISABLE | SERR,
    ...over,
  };
}

/** The QEMU profile with its /dev/mem range replaced by a file in the fake tree. */
function qemuProfile(tree: FakeSysfs, doorbellIn: unknown = { kind: 'uio', rearm: 'pci-cmd-intx' }): BoardProfile {
  const data = join(tree.root, 'mem');
  writeFileSync(data, '');
  truncateSync(data, 0x200000);
  return profileFrom(qemuAmpPci, {
    'regions.2.source': { file: data },
    doorbellIn,
    'bus.timeouts': { layoutMs: 10_000, peerMs: 10_000, responseMs: 5_000 },
    sim: { devices: [{ devNum: 0, kind: 'rng', seed: 3 }, { devNum: 1, kind: 'console' }] },
  });
}

const native = loadNative();
/** Waits (bounded by the test timeout) until `done` holds. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setTimeout(r, 5));
}
const trees: FakeSysfs[] = [];
const links: PciLink[] = [];
const children: ChildProcess[] = [];
const cleanups: (() => void)[] = [];
function tree(specs: FakePciSpec[]): FakeSysfs {
  const t = makeFakeSysfs(specs);
  trees.push(t);
  return t;
}
async function open(profile: BoardProfile, t: FakeSysfs, bdf?: string): Promise<PciLink> {
  const link = await openPciLink(profile, { sysfsRoot: t.sysfsRoot, devRoot: t.devRoot, ...(bdf ? { bdf } : {}) });
  links.push(link);
  return link;
}
afterEach(async () => {
  for (const l of links.splice(0)) await l.close();
  for (const c of cleanups.splice(0)) c();
  for (const c of children.splice(0)) c.kill();
  for (const t of trees.splice(0)) t.remove();
});

describe('sysfs discovery', () => {
  it('finds a function by vendor/device or BDF, and lists what is there when it cannot', () => {
    const t = tree([ampPci(), { bdf: '0000:00:01.0', vendor: 0x8086, device: 0x100e, classCode: 0x020000, bars: [] }]);
    expect(findPciFunction(t.sysfsRoot, { vendor: 0x10ee, device: 0x9039 })).toMatchObject({ ok: true, value: { bdf: BDF, classCode: 0x088000 } });
    expect(findPciFunction(t.sysfsRoot, { bdf: BDF, vendor: 0x10ee })).toMatchObject({ ok: true });
    expect(findPciFunction(t.sysfsRoot, { vendor: 0x10ee, device: 0x9038 })).toEqual({
      ok: false,
      error: 'no PCI device 10ee:9038; found: 0000:00:01.0 8086:100e class 020000, 0000:00:03.0 10ee:9039 class 088000',
    });
    expect(findPciFunction(t.sysfsRoot, { bdf: '0000:00:01.0', vendor: 0x10ee, device: 0x9039 })).toEqual({
      ok: false,
      error: 'PCI function 0000:00:01.0 is 0000:00:01.0 8086:100e class 020000, but the profile expects 10ee:9039',
    });
    expect(findPciFunction(t.sysfsRoot, { bdf: '1:2.3' })).toMatchObject({ ok: false, error: /expected a PCI address like 0000:01:00.0, saw "1:2.3"/ });
    expect(findPciFunction(join(t.root, 'nowhere'), { vendor: 1 })).toMatchObject({ ok: false, error: /lists no PCI functions/ });
  });

  it('refuses to guess between two matching functions', () => {
    const t = tree([ampPci(), ampPci({ bdf: '0000:00:04.0' })]);
    expect(findPciFunction(t.sysfsRoot, { vendor: 0x10ee, device: 0x9039 })).toEqual({
      ok: false,
      error: '2 PCI devices 10ee:9039 (0000:00:03.0, 0000:00:04.0): choose one with pci:BDF',
    });
  });

  it('reports the UIO node and driver of a bound function', () => {
    const t = tree([ampPci({ uio: 'uio3' })]);
    expect(findPciFunction(t.sysfsRoot, { vendor: 0x10ee })).toMatchObject({ ok: true, value: { uio: 'uio3', driver: 'uio_pci_generic' } });
  });

  it('turns EACCES into what to do about it, in words whether Node or the native addon failed', () => {
    const hint = "; run as root, or give this user access to the device's sysfs files and bind uio_pci_generic";
    const node = Object.assign(new Error("EACCES: permission denied, open '/sys/bus/pci/devices/x/resource0'"), { code: 'EACCES', path: '/sys/bus/pci/devices/x/resource0' });
    expect(accessHint(node)).toBe(`permission denied (/sys/bus/pci/devices/x/resource0) (EACCES)${hint}`);
    // The native addon's map(): "open PATH: strerror (errno N)".
    expect(accessHint(new Error('open /sys/bus/pci/devices/x/resource0: Permission denied (errno 13)'))).toBe(`permission denied (/sys/bus/pci/devices/x/resource0) (EACCES)${hint}`);
    expect(accessHint(new Error('open /sys/bus/pci/devices/x/resource2: No such device (errno 19)'))).toBe('no such device (removed, or its driver unbound) (/sys/bus/pci/devices/x/resource2) (ENODEV)');
    expect(accessHint(new Error('the board said no'))).toBe('the board said no');
  });

  it('resolves publish values from region addresses', () => {
    const p = profileFrom(versalVek280, { 'regions.1.peerAddress': '0x123456789a' });
    expect(publishValue(p, '$hostq.iova.lo', 'v')).toBe(0x3456789a);
    expect(publishValue(p, '$hostq.iova.hi', 'v')).toBe(0x12);
    expect(publishValue(p, '$dataMemory.iova.lo', 'v')).toBe(0x7e100000);
    expect(() => publishValue(p, '$bar1.iova.lo', 'publish[0].value')).toThrow(/publish\[0\]\.value: expected a number or "\$REGION.iova.lo\|hi"/);
  });
});

describe.skipIf(!native.ok)('pci link over a fake sysfs tree', () => {
  it('enables memory and bus mastering by read-modify-write, and re-arms INTx', async () => {
    const t = tree([ampPci({ uio: 'uio0' })]);
    const feeder = openUioFeeder(t.fns.get(BDF)!.uioNode!);
    cleanups.push(feeder.close);
    const link = await open(qemuProfile(t), t);
    // SERR kept, Memory and Bus Master set, INTx Disable cleared (armed).
    expect(readFileWord(t.fns.get(BDF)!.config, 4, 16)).toBe(SERR | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    expect(link.doorbellIn.mode).toBe('interrupt');
    expect(link.notices).toEqual([]);
    expect(link.description).toBe(`qemu-virtio-msg-amp-pci at PCI ${BDF} 10ee:9039 class 088000 (driver uio_pci_generic), UIO interrupts`);
    // Leave the other config bytes alone.
    expect(readFileWord(t.fns.get(BDF)!.config, 0, 32)).toBe(0x903910ee);
  });

  it('takes interrupts from the UIO node and clears INTx Disable before each drain', async () => {
    const t = tree([ampPci({ uio: 'uio0' })]);
    const fn = t.fns.get(BDF)!;
    const feeder = openUioFeeder(fn.uioNode!);
    cleanups.push(feeder.close);
    const link = await open(qemuProfile(t), t);
    for (const count of [1, 2, 3]) {
      // What uio_pci_generic's handler does: mask INTx, then wake the reader.
      writeFileWord(fn.config, 4, 16, readFileWord(fn.config, 4, 16) | PCI_COMMAND_INTX_DISABLE);
      const commandSeen = await new Promise<number>((resolve) => {
        const off = link.doorbellIn.subscribe(() => {
          off();
          resolve(readFileWord(fn.config, 4, 16));
        });
        feeder.raise(count);
      });
      expect(commandSeen & PCI_COMMAND_INTX_DISABLE).toBe(0);
    }
  });

  it('rings NOTIFY[0] with a 32-bit store of 1 (BAR0+0x20 of the resource file)', async () => {
    const t = tree([ampPci({ uio: 'uio0' })]);
    const feeder = openUioFeeder(t.fns.get(BDF)!.uioNode!);
    cleanups.push(feeder.close);
    const link = await open(qemuProfile(t), t);
    expect(readFileWord(t.fns.get(BDF)!.resource(0), 0x20, 32)).toBe(0);
    await link.doorbellOut.ring();
    expect(readFileWord(t.fns.get(BDF)!.resource(0), 0x20, 32)).toBe(1);
    expect(readFileWord(t.fns.get(BDF)!.resource(0), 0x24, 32)).toBe(0);
  });

  it('maps the bus window at BAR1+0x1000 through resource1_wc', async () => {
    const t = tree([ampPci({ uio: 'uio0' })]);
    const feeder = openUioFeeder(t.fns.get(BDF)!.uioNode!);
    cleanups.push(feeder.close);
    const link = await open(qemuProfile(t), t);
    await link.busWindow.store(0, 16, 0x4c4f);
    await link.dataWindow.write(8, Uint8Array.of(1, 2, 3));
    expect(readFileWord(t.fns.get(BDF)!.resource(1, true), 0x1000, 16)).toBe(0x4c4f);
    expect(readFileWord(join(t.root, 'mem'), 8, 32)).toBe(0x030201);
    expect(link.busWindow.size).toBe(0x3000);
  });

  it('polls, and says so, when the device has no INTx pin (virtio-msg-amp-pci is MSI-X only)', async () => {
    const t = tree([ampPci({ uio: 'uio0', interruptPin: 0 })]);
    const link = await open(qemuProfile(t, { kind: 'uio', rearm: 'pci-cmd-intx', fallback: { kind: 'poll', pollIntervalMs: 2 } }), t);
    expect(link.doorbellIn.mode).toBe('poll');
    expect(link.notices).toEqual([
      `${BDF} has no INTx pin, so uio_pci_generic can deliver no interrupts (docs/amp-bus.md §7); using the profile's fallback "poll"`,
    ]);
    expect(link.description).toMatch(/, polling$/);
  });

  it('polls, and says how to bind uio_pci_generic, when no UIO driver is bound', async () => {
    const t = tree([ampPci()]);
    const link = await open(qemuProfile(t), t);
    expect(link.doorbellIn.mode).toBe('poll');
    expect(link.notices).toEqual([
      `${BDF} is not bound to a UIO driver (no ${join(t.fns.get(BDF)!.dir, 'uio')}); to take interrupts: modprobe uio_pci_generic && echo "10ee 9039" > /sys/bus/pci/drivers/uio_pci_generic/new_id; polling every 1 ms`,
    ]);
  });

  it('falls back from MSI-X (VFIO) to polling with the shipped QEMU profile', async () => {
    const t = tree([ampPci()]);
    const link = await open(qemuProfile(t, (qemuAmpPci as Record<string, unknown>)['doorbellIn']), t);
    expect(link.doorbellIn.mode).toBe('poll');
    expect(link.notices).toEqual(['doorbellIn "vfio-msix" needs VFIO, which the pci link does not drive; using the profile\'s fallback "poll"']);
  });

  it('publishes the queue address to the Versal BRAM and rings with read-back', async () => {
    const t = tree([{ bdf: '0000:01:00.0', vendor: 0x10ee, device: 0x9038, bars: [{ index: 0, size: 0x1000 }, { index: 1, size: 0x80000 }] }]);
    const mem = join(t.root, 'mem');
    writeFileSync(mem, '');
    truncateSync(mem, 0x800000);
    const profile = profileFrom(versalVek280, { 'regions.1.source': { file: mem, offset: '0x0' }, 'regions.2.source': { file: mem, offset: '0x100000' } });
    const link = await open(profile, t);
    const bar1 = t.fns.get('0000:01:00.0')!.resource(1);
    expect([0x4000, 0x4004, 0x4008].map((o) => readFileWord(bar1, o, 32))).toEqual([1, 0x7e000000, 0]);
    await link.doorbellOut.ring();
    expect(readFileWord(bar1, 0x50000, 32)).toBe(1);
    expect(link.notices).toEqual([expect.stringMatching(/^0000:01:00.0 is not bound to a UIO driver .*; using the profile's fallback "poll"$/)]);
  });

  it('says which device is missing and what the bus has', async () => {
    const t = tree([{ bdf: '0000:00:01.0', vendor: 0x8086, device: 0x100e, bars: [] }]);
    await expect(open(qemuProfile(t), t)).rejects.toThrow('board qemu-virtio-msg-amp-pci: no PCI device 10ee:9039; found: 0000:00:01.0 8086:100e class 088000');
    await expect(open(qemuProfile(t), t, '0000:00:09.0')).rejects.toThrow(/no PCI function 0000:00:09.0; found: 0000:00:01.0/);
  });

  it('refuses a BAR smaller than the profile needs', async () => {
    const t = tree([ampPci({ bars: [{ index: 0, size: 0x4000 }, { index: 1, size: 0x2000, prefetchable: true }] })]);
    await expect(open(qemuProfile(t), t)).rejects.toThrow('region "bar1": BAR 1 of 0000:00:03.0 is 0x2000 bytes, the profile needs 0x4000: wrong device or firmware, or a wrong profile');
  });

  it('refuses a missing BAR and an unreachable region source', async () => {
    const t = tree([ampPci({ bars: [{ index: 1, size: 0x4000, prefetchable: true }] })]);
    await expect(open(qemuProfile(t), t)).rejects.toThrow(/region "bar0": 0000:00:03.0 has no BAR 0 \(no .*resource0\)/);
    const p = qemuProfile(t);
    const bridged = { ...p, regions: [{ ...p.regions[0]!, source: { bridgeAddr: 0n } }, ...p.regions.slice(1)] };
    await expect(open(bridged, t)).rejects.toThrow('region "bar0": source "bridgeAddr" cannot be reached over the pci link; expected sysfsResource or file');
  });

  it('fails the bus set-up clearly when BAR1 holds a wrong layout magic', async () => {
    const t = tree([ampPci()]);
    writeFileWord(t.fns.get(BDF)!.resource(1), 0x1000, 16, 0xdead);
    const profile = qemuProfile(t);
    const quick = { ...profile, bus: { ...profile.bus, timeouts: { layoutMs: 50, peerMs: 50, responseMs: 50 } } };
    const link = await openPciLink(quick, { sysfsRoot: t.sysfsRoot, devRoot: t.devRoot });
    await expect(attachSession(quick, link)).rejects.toThrow(/bus set-up on qemu-virtio-msg-amp-pci at PCI .* failed \(.*0xdead.*expected 0x4c4f/);
  });
});

describe.skipIf(!native.ok)('a driver session through the pci link', () => {
  let session: Session | null = null;
  afterEach(async () => {
    await session?.close();
    session = null;
  });

  /** The simulated device side in its own process on the BAR and memory files of the tree's function. */
  function startDevice(t: FakeSysfs, profile: BoardProfile): string[] {
    const fn = t.fns.get(BDF)!;
    const args: FakeDeviceArgs = {
      profile: JSON.parse(JSON.stringify(profile, (_k, v: unknown) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v))) as unknown,
      bar0: fn.resource(0),
      bar1: fn.resource(1),
      data: join(t.root, 'mem'),
      config: fn.config,
      uioFifo: fn.uioNode!,
    };
    const child = fork(join(__dirname, 'fakePciDevice.ts'), [JSON.stringify(args)], { execArgv: ['--require', 'tsx/cjs'], stdio: 'inherit' });
    children.push(child);
    const childErrors: string[] = [];
    child.on('message', (m: unknown) => {
      if (typeof m === 'object' && m !== null && 'error' in m) childErrors.push(String((m as { error: unknown }).error));
    });
    return childErrors;
  }

  it('probes and exercises a simulated device in another process on the same BAR files, with UIO interrupts', async () => {
    const t = tree([ampPci({ uio: 'uio0' })]);
    const profile = qemuProfile(t);
    const childErrors = startDevice(t, profile);
    const link = await openPciLink(profile, { sysfsRoot: t.sysfsRoot, devRoot: t.devRoot });
    session = await attachSession(profile, link);
    const probed = await session.probe();
    expect(childErrors).toEqual([]);
    expect(probed.ok).toBe(true);
    if (!probed.ok) return;
    expect(probed.value.map((d) => [d.devNum, d.deviceId, d.phase])).toEqual([
      [0, 4, 'ready'],
      [1, 3, 'ready'],
    ]);
    const report = await exerciseDevices(session, { count: 20 });
    for (const d of report.devices) expect([d.devNum, d.failed, d.errors]).toEqual([d.devNum, 0, []]);
    expect(link.notices).toEqual([]);
  });

  it('a BAR whose memory goes away mid-session (device removed, here its resource file truncated) loses the link once with why; requests then fail with it', async () => {
    const t = tree([ampPci({ uio: 'uio0' })]);
    const profile = qemuProfile(t);
    startDevice(t, profile);
    const link = await openPciLink(profile, { sysfsRoot: t.sysfsRoot, devRoot: t.devRoot });
    session = await attachSession(profile, link);
    expect((await session.probe()).ok).toBe(true);
    const told: string[] = [];
    session.onLost((why) => told.push(why));
    truncateSync(t.fns.get(BDF)!.resource(1), 0);
    // The next request's first access to the bus in BAR1 finds the memory gone.
    const failed = await session.probe();
    const why = await link.lost;
    expect(why).toBe(`the shared file ${t.fns.get(BDF)!.resource(1, true)} shrank to 0 bytes under the session (expected at least ${0x4000}): the board side truncated it`);
    expect(failed).toEqual({ ok: false, error: `GET_DEVICES failed: ${why}` });
    await until(() => told.length > 0);
    expect(told).toEqual([why]);
    expect(session.endedBecause).toBe(why);
    expect(await session.probe()).toEqual(failed);
  });
});
