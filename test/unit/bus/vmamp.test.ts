import { describe, expect, it } from 'vitest';
import { attachQueue, createLayout } from '../../../src/bus/formats/index';
import {
  encodeVmampLayout,
  validateVmampLayout,
  VMAMP_FIELD as F,
  VMAMP_STATUS,
  type VmampLayout,
} from '../../../src/bus/formats/vmamp';
import type { AttachStage, QueueProblem } from '../../../src/bus/queue';
import { attachPair, bytesWindow, fastOpts, hex, payload, VirtualRuntime } from './helpers';

/**
 * The base layout of the Linux G3 unit test (docs/amp-bus.md §12 item 1): 16 KiB area, N = 100,
 * S = 64, heads at 0x40/0x48, elements at 0x50 and 0x50 + 6400, no notifications.
 */
function linuxBase(): VmampLayout {
  return {
    features: 0,
    numNotif: 0,
    numVqNotifPerDevice: 0,
    numElements: 100,
    elementSize: 64,
    notifSize: 0,
    devNotif: 0,
    devQueueHead: 0x40,
    devQueueElements: 0x50,
    drvNotif: 0,
    drvQueueHead: 0x48,
    drvQueueElements: 0x50 + 100 * 64,
  };
}

type Edit = (v: DataView) => void;
const u16 = (at: number, value: number): Edit => (v) => v.setUint16(at, value, true);
const u8 = (at: number, value: number): Edit => (v) => v.setUint8(at, value);
const u64 = (at: number, value: number): Edit => (v) => v.setBigUint64(at, BigInt(value), true);

interface Golden {
  name: string;
  area: number;
  edits: Edit[];
  /** null = valid; else the problem code and the offset of the field it names. */
  expect: { code: QueueProblem['code']; offset: number } | null;
}

const K16 = 16 * 1024;
const base = linuxBase();

/** The 17 cases of the Linux unit test, with the outcome the Linux driver gives (ok / -EAGAIN / -EINVAL). */
const GOLDEN: Golden[] = [
  { name: 'valid layout', area: K16, edits: [], expect: null },
  { name: 'layout area too small (63 bytes)', area: 63, edits: [], expect: { code: 'layout', offset: 0 } },
  { name: 'magic not set → retry later (-EAGAIN)', area: K16, edits: [u16(F.magic, 0)], expect: { code: 'layout-not-ready', offset: F.magic } },
  { name: 'bad version 0x99', area: K16, edits: [u16(F.version, 0x99)], expect: { code: 'layout', offset: F.version } },
  { name: 'reserved 0x1234', area: K16, edits: [u16(F.reserved, 0x1234)], expect: { code: 'layout', offset: F.reserved } },
  { name: 'unknown features 0xff', area: K16, edits: [u16(F.features, 0xff)], expect: { code: 'layout', offset: F.features } },
  { name: 'num_notif 65 > 64', area: K16, edits: [u8(F.numNotif, 65)], expect: { code: 'layout', offset: F.numNotif } },
  { name: 'num_vq_notif_per_device 3', area: K16, edits: [u8(F.numNotif, 1), u8(F.numVqNotifPerDevice, 3)], expect: { code: 'layout', offset: F.numVqNotifPerDevice } },
  { name: 'N = 0', area: K16, edits: [u16(F.numQueueElements, 0)], expect: { code: 'layout', offset: F.numQueueElements } },
  { name: 'N = 1', area: K16, edits: [u16(F.numQueueElements, 1)], expect: { code: 'layout', offset: F.numQueueElements } },
  { name: 'S = 0', area: K16, edits: [u16(F.sizeQueueElements, 0)], expect: { code: 'layout', offset: F.sizeQueueElements } },
  { name: 'overlapping queue heads', area: K16, edits: [u64(F.drvQueueHead, base.devQueueHead)], expect: { code: 'layout', offset: F.drvQueueHead } },
  {
    name: 'overlapping element arrays',
    area: K16,
    edits: [u64(F.drvQueueElements, base.devQueueElements + (100 * 64) / 2)],
    expect: { code: 'layout', offset: F.drvQueueElements },
  },
  { name: 'device head inside the layout header', area: K16, edits: [u64(F.devQueueHead, 4)], expect: { code: 'layout', offset: F.devQueueHead } },
  { name: 'elements beyond the area (512 B, N = 1000)', area: 512, edits: [u16(F.numQueueElements, 1000)], expect: { code: 'layout', offset: F.devQueueElements } },
  {
    // As in Linux: drv_notif_offset stays 0, which fails first (both -EINVAL).
    name: 'notification area overlapping elements',
    area: K16,
    edits: [u8(F.numNotif, 1), u8(F.numVqNotifPerDevice, 1), u64(F.devNotif, base.devQueueElements)],
    expect: { code: 'layout', offset: F.drvNotif },
  },
  { name: 'device head overlapping device elements', area: K16, edits: [u64(F.devQueueHead, base.devQueueElements)], expect: { code: 'layout', offset: F.devQueueHead } },
];

function goldenBytes(edits: Edit[]): Uint8Array {
  const bytes = encodeVmampLayout(linuxBase());
  const v = new DataView(bytes.buffer);
  for (const e of edits) e(v);
  return bytes;
}

describe('validateVmampLayout: the 17 golden cases of the Linux G3 unit test', () => {
  it('has all 17', () => expect(GOLDEN).toHaveLength(17));

  it.each(GOLDEN.map((g) => [g.name, g]))('%s', (_name, g) => {
    const r = validateVmampLayout(goldenBytes(g.edits), g.area);
    if (g.expect === null) {
      expect(r.ok).toBe(true);
      if (r.ok) expect(r.value).toEqual(linuxBase());
    } else {
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect({ code: r.error.code, offset: r.error.offset }).toEqual(g.expect);
        expect(r.error.reason).toMatch(/\S{3,}/);
      }
    }
  });

  it('a notification area that really overlaps the elements is blamed on dev_notif_offset', () => {
    const bytes = goldenBytes([u8(F.numNotif, 1), u8(F.numVqNotifPerDevice, 1), u64(F.devNotif, base.devQueueElements), u64(F.drvNotif, 0x3800)]);
    const r = validateVmampLayout(bytes, K16);
    expect(r.ok ? null : { code: r.error.code, offset: r.error.offset }).toEqual({ code: 'layout', offset: F.devNotif });
    if (!r.ok) expect(r.error.reason).toMatch(/device notification area .* overlaps device queue elements/);
  });

  it('accepts notification areas that fit, with MASKED_NOTIF sizing them ×3', () => {
    const bytes = goldenBytes([u16(F.features, 1), u8(F.numNotif, 2), u8(F.numVqNotifPerDevice, 4), u64(F.devNotif, 0x3800), u64(F.drvNotif, 0x3900)]);
    const r = validateVmampLayout(bytes, K16);
    expect(r.ok && r.value.notifSize).toBe(2 * 8 * 3);
  });

  it('rejects 64-bit offsets far beyond the area without overflow', () => {
    const bytes = goldenBytes([(v) => v.setBigUint64(F.drvQueueElements, 0xffff_ffff_ffff_fff0n, true)]);
    const r = validateVmampLayout(bytes, K16);
    expect(r.ok ? null : r.error.offset).toBe(F.drvQueueElements);
  });
});

/** The 8 KiB area QEMU writes (docs/amp-bus.md §4.2 table, docs/peers.md §1.2). */
const QEMU_HEADER =
  '4f4c' + '4000' + '0100' + '0000' + '00' + '00' + '3f00' + '4000' + '0000' + // magic length version features notif vq N S reserved
  '0000000000000000' + '4000000000000000' + '5000000000000000' + // dev notif, head, elements
  '0000000000000000' + '4800000000000000' + '1010000000000000'; // drv notif, head, elements

describe('vmamp layout written by the device (like QEMU)', () => {
  it('is byte-exact for the 8 KiB area: header, then zeros', async () => {
    const w = bytesWindow(0x2000);
    w.writeSync(0, new Uint8Array(0x2000).fill(0xa5)); // stale RAM: the device's own parts get zeroed
    w.writeSync(0x48, new Uint8Array(8)); // (driver head and elements are the driver's to zero)
    w.writeSync(0x1010, new Uint8Array(0x2000 - 0x1010));
    const r = await createLayout('vmamp-shmem-v1', 'device', w);
    expect(r.ok).toBe(true);
    const area = w.readSync(0, 0x2000);
    expect(hex(area.subarray(0, 0x40))).toBe(QEMU_HEADER);
    expect(area.subarray(0x40).every((b) => b === 0)).toBe(true);
  });

  it('after both handshakes: heads 0x514f / RUN / indices 0', async () => {
    const { window, stages } = await attachPair('vmamp-shmem-v1');
    const area = window.readSync(0, 0x2000);
    expect(hex(area.subarray(0, 0x40))).toBe(QEMU_HEADER);
    expect(hex(area.subarray(0x40, 0x50))).toBe('4f51020000000000' + '4f51020000000000');
    expect(area.subarray(0x50).every((b) => b === 0)).toBe(true);
    const order: AttachStage[] = ['layout-wait', 'layout-valid', 'own-head-init', 'peer-wait', 'ready', 'run'];
    expect(stages.driver).toEqual(order);
    expect(stages.device).toEqual(['layout-written', 'own-head-init', 'peer-wait', 'ready', 'run']);
  });

  it('the driver only creates nothing: createLayout refuses the driver role', async () => {
    const r = await createLayout('vmamp-shmem-v1', 'driver', bytesWindow(0x2000));
    expect(r.ok).toBe(false);
  });

  it('an area too small for two elements per side is a layout problem', async () => {
    const r = await attachQueue('vmamp-shmem-v1', 'device', bytesWindow(300), {}, fastOpts(new VirtualRuntime()));
    expect(r.ok ? null : r.error.code).toBe('layout');
  });
});

describe('vmamp handshake', () => {
  it('driver: layout never written → timeout after layoutTimeoutMs (virtual 300 s)', async () => {
    const rt = new VirtualRuntime();
    const w = bytesWindow(0x2000);
    const r = await attachQueue('vmamp-shmem-v1', 'driver', w, {}, { runtime: rt, layoutTimeoutMs: 300_000, pollMs: 1000 });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toMatchObject({ code: 'timeout', offset: 0 });
      expect(r.error.reason).toMatch(/0x0000 after 300000 ms, expected 0x4c4f/);
    }
    expect(rt.elapsedMs).toBeGreaterThanOrEqual(300_000);
    expect(rt.elapsedMs).toBeLessThan(302_000);
  });

  it('driver: an invalid layout is reported with the field offset and no head is touched', async () => {
    const w = bytesWindow(0x2000);
    await createLayout('vmamp-shmem-v1', 'device', w);
    w.storeSync(F.version, 16, 2);
    const r = await attachQueue('vmamp-shmem-v1', 'driver', w, {}, fastOpts(new VirtualRuntime()));
    expect(r.ok ? null : r.error).toMatchObject({ code: 'layout', offset: F.version });
    expect(w.loadSync(0x48, 16)).toBe(0);
  });

  it('driver: the device never initialises its head → timeout, own head SHUTDOWN', async () => {
    const w = bytesWindow(0x2000);
    await createLayout('vmamp-shmem-v1', 'device', w);
    const r = await attachQueue('vmamp-shmem-v1', 'driver', w, {}, fastOpts(new VirtualRuntime(), { peerTimeoutMs: 60_000 }));
    expect(r.ok ? null : r.error).toMatchObject({ code: 'timeout', offset: 0x40 });
    expect(w.loadSync(0x48 + 2, 16)).toBe(VMAMP_STATUS.SHUTDOWN);
  });

  it('device: the driver never comes → timeout', async () => {
    const r = await attachQueue('vmamp-shmem-v1', 'device', bytesWindow(0x2000), {}, fastOpts(new VirtualRuntime(), { peerTimeoutMs: 100_000 }));
    expect(r.ok ? null : r.error.code).toBe('timeout');
  });

  it('device re-arming (serve-device): the head its previous driver left SHUTDOWN is waited past (the next driver sets it INIT)', async () => {
    const w = bytesWindow(0x2000);
    w.storeSync(0x48, 32, 0x514f | (VMAMP_STATUS.SHUTDOWN << 16));
    const r = await attachQueue('vmamp-shmem-v1', 'device', w, {}, fastOpts(new VirtualRuntime(), { peerTimeoutMs: 1000, rearming: true }));
    expect(r.ok ? null : r.error.code).toBe('timeout');
    expect(w.loadSync(0x40, 16)).toBe(0x514f);
  });

  it('device as QEMU (a simulated board): a driver head past RUN sends its own head SHUTDOWN (docs/amp-bus.md §4.2 [Q-VMAMP])', async () => {
    const w = bytesWindow(0x2000);
    w.storeSync(0x48, 32, 0x514f | (VMAMP_STATUS.SHUTDOWN << 16));
    const r = await attachQueue('vmamp-shmem-v1', 'device', w, {}, fastOpts(new VirtualRuntime(), { peerTimeoutMs: 1000 }));
    expect(r.ok ? null : r.error.code).toBe('peer-state');
    expect(w.loadSync(0x42, 16)).toBe(VMAMP_STATUS.SHUTDOWN);
  });

  it('a peer head in SHUTDOWN during the handshake fails it and sets own SHUTDOWN', async () => {
    const w = bytesWindow(0x2000);
    await createLayout('vmamp-shmem-v1', 'device', w);
    w.storeSync(0x40, 32, 0x514f | (VMAMP_STATUS.SHUTDOWN << 16));
    const r = await attachQueue('vmamp-shmem-v1', 'driver', w, {}, fastOpts(new VirtualRuntime()));
    expect(r.ok ? null : r.error).toMatchObject({ code: 'peer-state', offset: 0x42 });
    expect(w.loadSync(0x4a, 16)).toBe(VMAMP_STATUS.SHUTDOWN);
  });

  describe('a device that gave up its handshake and stays INIT (docs/peers.md §1.2)', () => {
    async function stuckDevice(): Promise<ReturnType<typeof bytesWindow>> {
      const w = bytesWindow(0x2000);
      await createLayout('vmamp-shmem-v1', 'device', w);
      w.storeSync(0x40, 32, 0x514f | (VMAMP_STATUS.INIT << 16));
      return w;
    }

    it('fails with a timeout by default', async () => {
      const w = await stuckDevice();
      const r = await attachQueue('vmamp-shmem-v1', 'driver', w, {}, fastOpts(new VirtualRuntime()));
      expect(r.ok ? null : r.error).toMatchObject({ code: 'timeout', offset: 0x40 });
      if (!r.ok) expect(r.error.reason).toMatch(/still INIT/);
    });

    it('with tolerateStuckPeer proceeds with a finding, and messages flow', async () => {
      const w = await stuckDevice();
      const details: string[] = [];
      const r = await attachQueue('vmamp-shmem-v1', 'driver', w, {}, fastOpts(new VirtualRuntime(), { tolerateStuckPeer: true, onStage: (s, d) => s === 'run' && details.push(d) }));
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.findings.map((f) => f.code)).toEqual(['timeout']);
      expect(details[0]).toMatch(/still INIT .*QEMU.*tolerateStuckPeer/);
      expect(w.loadSync(0x4a, 16)).toBe(VMAMP_STATUS.RUN);
      // driver → device: the message lands in the driver elements, tail 1
      expect(await r.value.send(payload(1, 16))).toBe('ok');
      expect(hex(w.readSync(0x1010, 16))).toBe(hex(payload(1, 16)));
      expect(w.loadSync(0x4c, 16)).toBe(1);
      // device → driver, the stuck device still produces: element 0, tail 1
      w.writeSync(0x50, payload(2, 64));
      w.storeSync(0x44, 16, 1);
      const got = await r.value.recv();
      expect(got.problem).toBeUndefined();
      expect(hex(got.messages[0]!)).toBe(hex(payload(2, 64)));
      expect(w.loadSync(0x4e, 16)).toBe(1);
    });
  });
});

describe('vmamp during a session', () => {
  it('a peer index ≥ N is a peer-index problem, reported once, never used', async () => {
    const { driver, window } = await attachPair('vmamp-shmem-v1');
    window.storeSync(0x44, 16, 63); // device tail = N
    const r1 = await driver.recv();
    expect(r1.messages).toHaveLength(0);
    expect(r1.problem).toMatchObject({ code: 'peer-index', offset: 0x44 });
    expect(r1.problem?.reason).toMatch(/producer index 63 .* outside 0\.\.62/);
    expect(await driver.recv()).toEqual({ messages: [] });
    window.storeSync(0x46, 16, 0xffff); // device head (consumer of our ring) garbage
    for (let i = 0; i < 62; i++) await driver.send(payload(i, 8)); // the cache allows N-1 without reload
    expect(await driver.send(payload(99, 8))).toBe('full');
    const r2 = await driver.recv();
    expect(r2.problem).toMatchObject({ code: 'peer-index', offset: 0x46 });
    window.storeSync(0x44, 16, 0); // back in range: flows again
    expect((await driver.recv()).problem).toBeUndefined();
  });

  it.each([
    ['SHUTDOWN', VMAMP_STATUS.SHUTDOWN, /SHUTDOWN/],
    ['PEER_DEAD', VMAMP_STATUS.PEER_DEAD, /PEER_DEAD/],
    ['INIT (silent restart)', VMAMP_STATUS.INIT, /dropped from RUN to INIT/],
  ])('peer status %s stops the queue with a peer-state problem', async (_n, status, reason) => {
    const { driver, device, window } = await attachPair('vmamp-shmem-v1');
    await device.send(payload(1, 8)); // pending messages are still drained first
    window.storeSync(0x42, 16, status);
    const first = await driver.recv();
    expect(first.messages).toHaveLength(1);
    const r = await driver.recv();
    expect(r.problem).toMatchObject({ code: 'peer-state', offset: 0x42 });
    expect(r.problem?.reason).toMatch(reason);
    expect(driver.fault?.code).toBe('peer-state');
    expect(await driver.send(payload(2, 8))).toBe('full');
    expect(await driver.recv()).toEqual({ messages: [] });
  });

  it('the device side withdraws its layout (magic 0): a driver arriving now waits for the next one', async () => {
    const { driver, device, window } = await attachPair('vmamp-shmem-v1');
    expect(window.loadSync(F.magic, 16)).toBe(0x4c4f);
    await driver.withdraw?.(); // the driver has no layout to take back
    expect(window.loadSync(F.magic, 16)).toBe(0x4c4f);
    await device.withdraw?.();
    expect(window.loadSync(F.magic, 16)).toBe(0);
  });

  it('orderly shutdown sets own SHUTDOWN; the peer sees it', async () => {
    const { driver, device, window } = await attachPair('vmamp-shmem-v1');
    await device.shutdown?.();
    expect(window.loadSync(0x42, 16)).toBe(VMAMP_STATUS.SHUTDOWN);
    expect((await driver.recv()).problem?.code).toBe('peer-state');
    expect((await device.state()).ownStatus).toBe('SHUTDOWN');
  });

  it('restart after a board reset: both sides re-attach and talk again', async () => {
    const pair = await attachPair('vmamp-shmem-v1');
    for (let i = 0; i < 5; i++) await pair.driver.send(payload(i, 8));
    await pair.device.recv();
    await pair.device.shutdown?.();
    expect((await pair.driver.recv()).problem?.code).toBe('peer-state');
    pair.window.writeSync(0, new Uint8Array(pair.window.size)); // the board's memory is fresh again
    const again = await attachPair('vmamp-shmem-v1', pair.window);
    await again.driver.send(payload(42, 8));
    const got = await again.device.recv();
    expect(got.messages).toHaveLength(1);
    expect(hex(got.messages[0]!.subarray(0, 8))).toBe(hex(payload(42, 8)));
  });

  it('a driver re-attaching to a device still in RUN starts at its indices (§13 q4) and reads nothing stale', async () => {
    const { driver, device, window } = await attachPair('vmamp-shmem-v1');
    for (let i = 0; i < 5; i++) {
      await driver.send(payload(i, 8));
      await device.send(payload(100 + i, 8));
    }
    await device.recv();
    // The driver restarts (its messages from the device were never read: 5 stale).
    const r = await attachQueue('vmamp-shmem-v1', 'driver', window, {}, fastOpts(new VirtualRuntime()));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.findings[0]).toMatchObject({ code: 'peer-state', offset: 0x40 });
    expect(r.findings[0]?.reason).toMatch(/already RUN with tail 5 \/ head 5/);
    expect(await r.value.recv()).toEqual({ messages: [] });
    await device.send(payload(7, 8));
    const got = await r.value.recv();
    expect(got.messages.map((m) => hex(m.subarray(0, 8)))).toEqual([hex(payload(7, 8))]);
    await r.value.send(payload(8, 8));
    const dev = await device.recv();
    expect(dev.messages.map((m) => hex(m.subarray(0, 8)))).toEqual([hex(payload(8, 8))]);
  });

  it('state() reads indices and status names from memory', async () => {
    const { driver, device } = await attachPair('vmamp-shmem-v1');
    await driver.sendBatch([payload(1, 8), payload(2, 8)]);
    await device.recv(1);
    const s = await driver.state();
    expect(s).toMatchObject({ format: 'vmamp-shmem-v1', capacity: 62, slotSize: 64, driverToDevice: { producer: 2, consumer: 1 }, deviceToDriver: { producer: 0, consumer: 0 }, ownStatus: 'RUN', peerStatus: 'RUN' });
  });
});
