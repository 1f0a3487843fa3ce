import { describe, expect, it } from 'vitest';
import { attachQueue, createLayout } from '../../../src/bus/formats/index';
import { OA_FIELD, validateOpenAmpDef } from '../../../src/bus/formats/openamp';
import { attachPair, bytesWindow, fastOpts, hex, payload, r0, VirtualRuntime } from './helpers';

/** The queue definition of the STM32MP157 demo (docs/amp-bus.md §4.3 table): 4 × 40 B per direction. */
const DEF =
  '4d3c2b1a' + '01000000' + '00000000' + '00000000' + // magic, version, driver_peer_ord, dev_peer_ord
  '2800' + '0400' + '2800' + '0400' + // drv elt size/num, dev elt size/num
  'e000000000000000' + 'e800000000000000' + // drv head, drv data
  '3800000000000000' + '4000000000000000'; // dev head, dev data

const READY_HEAD = '0100000000000000';

describe('openamp-static-v1 layout', () => {
  it('is byte-exact as the device writes it: definition, device head READY, zeros up to 0x188', async () => {
    const w = bytesWindow(0x1000);
    expect((await createLayout('openamp-static-v1', 'device', w)).ok).toBe(true);
    const area = w.readSync(0, 0x1000);
    expect(hex(area.subarray(0, 0x38))).toBe(DEF);
    expect(hex(area.subarray(0x38, 0x40))).toBe(READY_HEAD);
    expect(area.subarray(0x40).every((b) => b === 0)).toBe(true);
  });

  it('after the driver attached: both heads READY, nothing else changed', async () => {
    const { window, stages } = await attachPair('openamp-static-v1', bytesWindow(0x1000), { strideQuirk: 'num_elts' });
    const area = window.readSync(0, 0x1000);
    expect(hex(area.subarray(0, 0x38))).toBe(DEF);
    expect(hex(area.subarray(0x38, 0x40))).toBe(READY_HEAD);
    expect(hex(area.subarray(0xe0, 0xe8))).toBe(READY_HEAD);
    expect(stages.driver).toEqual(['layout-wait', 'layout-valid', 'ready', 'peer-wait', 'run']);
    // As the firmware: no handshake, the device does not wait for the driver.
    expect(stages.device).toEqual(['layout-written', 'ready', 'run']);
  });

  it('re-arming (serve-device), the device reads the driver ring only once its head is READY, not what a previous driver left', async () => {
    const rt = new VirtualRuntime();
    const w = bytesWindow(0x1000);
    // The previous driver's head: READY cleared, w_idx 1 kept, its slot 0 still holding a message.
    w.storeSync(0xe0 + 4, 16, 1);
    w.writeSync(0xe8, payload(9, 40));
    const stages: string[] = [];
    const device = attachQueue('openamp-static-v1', 'device', w, { strideQuirk: 'num_elts' }, fastOpts(rt, { rearming: true, pollMs: 1000, peerTimeoutMs: 1e12, onStage: (s) => stages.push(s) }));
    await new Promise((r) => setTimeout(r, 20));
    // Still waiting for a READY driver head: nothing of the old one is taken for a message.
    expect(stages).toEqual(['layout-written', 'ready', 'peer-wait']);
    const driver = await attachQueue('openamp-static-v1', 'driver', w, { strideQuirk: 'num_elts' }, fastOpts(rt));
    const dev = await device;
    if (!driver.ok || !dev.ok) throw new Error('attach failed');
    expect(stages.at(-1)).toBe('run');
    expect((await dev.value.recv()).messages).toEqual([]);
    await driver.value.send(payload(1, 40));
    expect((await dev.value.recv()).messages.map((m) => hex(m))).toEqual([hex(payload(1, 40))]);
  });

  it('the device side withdraws its definition (magic 0): a driver arriving now waits for the next one', async () => {
    const { driver, device, window } = await attachPair('openamp-static-v1', bytesWindow(0x1000), { strideQuirk: 'num_elts' });
    await driver.withdraw?.();
    expect(window.loadSync(OA_FIELD.magic, 32)).toBe(0x1a2b3c4d);
    await device.withdraw?.();
    expect(window.loadSync(OA_FIELD.magic, 32)).toBe(0);
  });

  it('honours defOffset (definition offsets relative to it, problems absolute)', async () => {
    const w = bytesWindow(0x1000);
    const { driver, device } = await attachPair('openamp-static-v1', w, { defOffset: 0x200, strideQuirk: 'none' });
    expect(w.loadSync(0x200, 32)).toBe(0x1a2b3c4d);
    await driver.send(payload(1, 40));
    expect(hex(w.readSync(0x200 + 0xe8, 40))).toBe(hex(payload(1, 40)));
    expect((await device.recv()).messages).toHaveLength(1);
    w.storeSync(0x200 + 0x38 + 4, 16, 9); // device w_idx out of range
    expect((await driver.recv()).problem).toMatchObject({ code: 'peer-index', offset: 0x200 + 0x3c });
  });

  it('validates the definition with field offsets', () => {
    const good = Uint8Array.from(Buffer.from(DEF, 'hex'));
    expect(validateOpenAmpDef(good, 0x1000, 'num_elts').ok).toBe(true);
    const cases: [string, (v: DataView) => void, string, number][] = [
      ['magic', (v) => v.setUint32(0, 0, true), 'layout-not-ready', OA_FIELD.magic],
      ['version', (v) => v.setUint32(4, 2, true), 'layout', OA_FIELD.version],
      ['drv_elt_size 0', (v) => v.setUint16(16, 0, true), 'layout', OA_FIELD.drvEltSize],
      ['dev_num_elts 1', (v) => v.setUint16(22, 1, true), 'layout', OA_FIELD.devNumElts],
      ['drv_num_elts 256', (v) => v.setUint16(18, 256, true), 'layout', OA_FIELD.drvNumElts],
      ['driver data beyond the area', (v) => v.setBigUint64(32, 0xff0n, true), 'layout', OA_FIELD.drvData],
      ['device head inside the definition', (v) => v.setBigUint64(40, 0x30n, true), 'layout', OA_FIELD.devHead],
      ['driver head on device elements', (v) => v.setBigUint64(24, 0x40n, true), 'layout', OA_FIELD.drvHead],
    ];
    for (const [name, edit, code, offset] of cases) {
      const bytes = Uint8Array.from(good);
      edit(new DataView(bytes.buffer));
      const r = validateOpenAmpDef(bytes, 0x1000, 'num_elts');
      expect(r.ok ? null : { code: r.error.code, offset: r.error.offset }, name).toEqual({ code, offset });
    }
  });

  it('driver: no definition → timeout; device head never READY → timeout unless tolerated', async () => {
    const none = await attachQueue('openamp-static-v1', 'driver', bytesWindow(0x1000), {}, fastOpts(new VirtualRuntime(), { layoutTimeoutMs: 10_000 }));
    expect(none.ok ? null : none.error).toMatchObject({ code: 'timeout', offset: 0 });
    const w = bytesWindow(0x1000);
    await createLayout('openamp-static-v1', 'device', w);
    w.storeSync(0x38, 16, 0);
    const notReady = await attachQueue('openamp-static-v1', 'driver', w, {}, fastOpts(new VirtualRuntime()));
    expect(notReady.ok ? null : notReady.error).toMatchObject({ code: 'timeout', offset: 0x38 });
    const tolerated = await attachQueue('openamp-static-v1', 'driver', w, {}, fastOpts(new VirtualRuntime(), { tolerateStuckPeer: true }));
    expect(tolerated.ok && tolerated.findings.map((f) => f.code)).toEqual(['timeout']);
  });
});

describe('openamp-static-v1 with the 4-byte stride quirk', () => {
  const quirk = { strideQuirk: 'num_elts' as const };

  it('places slot i at data + 4·i and allows one message in flight', async () => {
    const { driver, device, window } = await attachPair('openamp-static-v1', bytesWindow(0x1000), quirk);
    expect(driver.capacity).toBe(1);
    expect(driver.slotSize).toBe(40);
    const a = r0(0x00, 0x03, 0, 0x11);
    expect(await driver.send(a)).toBe('ok');
    expect(await driver.send(r0(0x00, 0x04, 0, 0x22))).toBe('full'); // would overlap the unread slot
    expect(hex(window.readSync(0xe8, 40))).toBe(hex(a));
    const got = await device.recv();
    expect(got.messages.map(hex)).toEqual([hex(a)]);
    const b = r0(0x00, 0x04, 0, 0x22);
    expect(await driver.send(b)).toBe('ok');
    expect(hex(window.readSync(0xe8 + 4, 40))).toBe(hex(b)); // 4 bytes after slot 0
    expect((await device.recv()).messages.map(hex)).toEqual([hex(b)]);
    // device → driver likewise, through the index wrap (N = 4)
    for (let i = 0; i < 9; i++) {
      const m = r0(0x00, 0x12, 0, i);
      expect(await device.send(m)).toBe('ok');
      expect(hex(window.readSync(0x40 + 4 * ((i) % 4), 40))).toBe(hex(m));
      expect((await driver.recv()).messages.map(hex)).toEqual([hex(m)]);
    }
  });

  it('rewrites both indices of the own head on every send and receive', async () => {
    const { driver, device, window } = await attachPair('openamp-static-v1', bytesWindow(0x1000), quirk);
    await device.send(payload(1, 40));
    await driver.recv(); // driver r_idx 1
    await driver.send(payload(2, 40)); // driver w_idx 1, r_idx kept
    expect(hex(window.readSync(0xe0, 8))).toBe('0100' + '0000' + '0100' + '0100');
    await device.recv();
    expect(hex(window.readSync(0x38, 8))).toBe('0100' + '0000' + '0100' + '0100');
  });

  it('treats indices as u8: the high byte of w_idx is ignored, a low byte ≥ N is refused', async () => {
    const { driver, window } = await attachPair('openamp-static-v1', bytesWindow(0x1000), quirk);
    window.writeSync(0x40, payload(5, 40));
    window.storeSync(0x3c, 16, 0x0101); // device w_idx: u8 1 → one message
    const got = await driver.recv();
    expect(got.problem).toBeUndefined();
    expect(got.messages.map(hex)).toEqual([hex(payload(5, 40))]);
    window.storeSync(0x3c, 16, 0x0004);
    expect((await driver.recv()).problem).toMatchObject({ code: 'peer-index', offset: 0x3c });
  });

  it('a peer that clears READY during the session stops the queue', async () => {
    const { driver, window } = await attachPair('openamp-static-v1', bytesWindow(0x1000), quirk);
    window.storeSync(0x38, 16, 0);
    const r = await driver.recv();
    expect(r.problem).toMatchObject({ code: 'peer-state', offset: 0x38 });
    expect(driver.fault).toBeDefined();
    expect((await driver.state()).peerStatus).toMatch(/not ready/);
  });
});
