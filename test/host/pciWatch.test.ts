/**
 * The monitor's read-only pci link against a generated sysfs tree (test/host/fakeSysfs.ts): the
 * Versal card's queue area found where the board's own driver published its address in BAR1,
 * mapped read-only from host memory, the rings found there; nothing written (not even the
 * command register), and a driver that has published nothing yet said in words.
 */
import { closeSync, openSync, readFileSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { parseBoardProfile, type BoardProfile } from '../../src/api/boardProfile';
import versalRaw from '../../src/boards/profiles/versal-vek280.json';
import { createVmampLayout } from '../../src/bus/formats/vmamp';
import { BytesWindow } from '../../src/bus/window';
import { observeRings } from '../../src/roles/monitor/rings';
import { openPciWatch } from '../../main/host/links/pci';
import { nodeRuntime } from '../../main/host/runtime';
import { loadNative } from '../../main/native/index';
import { makeFakeSysfs, writeFileWord, type FakeSysfs } from './fakeSysfs';

const BDF = '0000:00:04.0';
const QUEUE_AT = 0x20000;
const trees: FakeSysfs[] = [];
afterEach(() => {
  for (const t of trees.splice(0)) t.remove();
});

async function setup(publish: boolean): Promise<{ tree: FakeSysfs; profile: BoardProfile; config: Buffer }> {
  const tree = makeFakeSysfs([{ bdf: BDF, vendor: 0x10ee, device: 0x9038, bars: [{ index: 1, size: 0x51000 }], command: 0 }]);
  trees.push(tree);
  const mem = join(tree.root, 'hostmem');
  writeFileSync(mem, '');
  truncateSync(mem, 0x1000000);
  // The card's side wrote its vmamp layout into the queue area the driver allocated.
  const area = new BytesWindow(new ArrayBuffer(0x2000));
  const made = await createVmampLayout(area);
  if (!made.ok) throw new Error(made.error.reason);
  const fd = openSync(mem, 'r+');
  writeSync(fd, area.readSync(0, 0x2000), 0, 0x2000, QUEUE_AT);
  closeSync(fd);
  const bar1 = tree.fns.get(BDF)!.resource(1);
  if (publish) writeFileWord(bar1, 0x4004, 32, QUEUE_AT);
  const raw = JSON.parse(JSON.stringify(versalRaw)) as Record<string, unknown> & { regions: { source: unknown }[] };
  // hostq (the bus region) stays at the profile's 0x7e000000, beyond this file: the monitor maps where the driver published instead.
  raw.regions[2]!.source = { file: mem, offset: '0x100000' };
  raw['monitor'] = { busAddress: { region: 'bar1', lo: '0x4004', hi: '0x4008' }, memFile: mem };
  const parsed = parseBoardProfile(raw);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
  return { tree, profile: parsed.value, config: readFileSync(tree.fns.get(BDF)!.config) };
}

describe.skipIf(!loadNative().ok)('pci link, read-only for a monitor', () => {
  it('maps the queue area the driver published in BAR1 and finds the rings there, writing nothing', async () => {
    const { tree, profile, config } = await setup(true);
    const link = await openPciWatch(profile, { sysfsRoot: tree.sysfsRoot });
    try {
      expect(link.description).toBe(`versal-vek280 at PCI ${BDF} 10ee:9038 class 088000 (read-only; doorbells and interrupts left to the board's driver)`);
      expect(link.notices).toEqual([`queue area at 0x20000 in host memory, as the driver published it in bar1+0x4004/0x4008`]);
      const rings = await observeRings('vmamp-shmem-v1', link.busWindow, {}, { runtime: nodeRuntime, layoutTimeoutMs: 100, pollMs: 5 });
      expect(rings.ok ? rings.value.description : rings.error.reason).toMatch(/^vmamp-shmem-v1: N = 63, S = 64/);
      expect(() => link.busWindow.store(0, 32, 1)).toThrow('the bus area of versal-vek280 is watched read-only; a store at 0 was refused');
      expect(readFileSync(tree.fns.get(BDF)!.config)).toEqual(config);
    } finally {
      await link.close();
    }
  });

  it('says so when the driver has not published its queue address yet', async () => {
    const { tree, profile } = await setup(false);
    await expect(openPciWatch(profile, { sysfsRoot: tree.sysfsRoot })).rejects.toThrow(
      'board versal-vek280: the driver has not published its queue address yet (bar1+0x4004/0x4008 reads 0); start the monitor after the board\'s driver has loaded',
    );
  });
});
