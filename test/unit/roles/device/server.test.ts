/**
 * The device role driven directly with encoded messages: SET_VQUEUE flags and atomicity,
 * RESET_VQUEUE and VIRTIO_F_RING_RESET, GET_DEVICES paging within the bus maximum, SET_CONFIG
 * generation rules (docs/protocol.md §6.8, §6.9, §6.14, §9, §11, §12.1, §17).
 */
import { describe, expect, it } from 'vitest';
import { BytesWindow, type MemoryWindow } from '../../../../src/bus/window';
import { DeviceServer } from '../../../../src/roles/device/server';
import { RngDeviceModel } from '../../../../src/devices/rng';
import { BaseDeviceModel, resultOf, serveAll, type DeviceModel, type ProcessResult } from '../../../../src/devices/model';
import { decode, encode, FEATURE, STATUS, type FieldValue, type Revision, type VirtioMsg } from '../../../../src/protocol/index';
import type { DeviceVirtqueue } from '../../../../src/virtio/deviceRing';
import { featureBit } from '../../../../src/protocol/names';
import { createDialect, GET_DEVICES_COUNT } from '../../../../src/roles/driver/dialect';
import type { DriverPort } from '../../../../src/roles/driver/port';
import { toHex } from '../../../../src/util/hex';
import { ok } from '../../../../src/util/result';

const PEER_BASE = 0x4000_0000n;
const WINDOW_BYTES = 1 << 20;
const DEV = 1;

type Fields = Record<string, FieldValue>;

/** Ring areas for an 8-entry split queue (aligned, inside the window), and a second set. */
const RINGS_A = { desc: 0x1000, driver: 0x2000, device: 0x3000 };
const RINGS_B = { desc: 0x11000, driver: 0x12000, device: 0x13000 };
const BUFFER = 0x8000;
const QSIZE = 8;

/** A device with a writable 8-byte config space and RING_RESET offered; its queues serve nothing. */
class ConfigModel extends BaseDeviceModel {
  readonly deviceId = 0x7f;
  private readonly config = new Uint8Array(8);

  constructor(features: bigint) {
    super({ deviceFeatures: features, numQueues: 2, configSize: 8 }, {});
  }
  override writeConfig(offset: number, data: Uint8Array): boolean {
    this.configGeneration++;
    this.config.set(data, offset);
    return true;
  }
  protected override configBytes(): Uint8Array {
    return this.config;
  }
  protected async serve(queueIndex: number, queue: DeviceVirtqueue, _memory: MemoryWindow): Promise<ProcessResult> {
    return resultOf(queueIndex, await serveAll(queue, () => Promise.resolve(0)));
  }
}

interface Harness {
  server: DeviceServer;
  window: BytesWindow;
  drops: string[];
  sent: Uint8Array[];
  /** Sends a request and returns the one response it got (decoded without problems). */
  call(name: string, fields: Fields, bus?: boolean): Promise<VirtioMsg>;
  /** Sends a message and returns everything the server sent back, decoded. */
  post(name: string, kind: 'request' | 'event', fields: Fields, bus?: boolean): Promise<VirtioMsg[]>;
}

async function harness(rev: Revision, opts: { maxMessageSize?: number; models?: [number, DeviceModel][] } = {}): Promise<Harness> {
  const maxMessageSize = opts.maxMessageSize ?? 264;
  const window = new BytesWindow(new ArrayBuffer(WINDOW_BYTES));
  const drops: string[] = [];
  const sent: Uint8Array[] = [];
  const server = new DeviceServer({
    revision: rev,
    memory: { window, peerBase: PEER_BASE },
    maxMessageSize,
    send: (bytes) => {
      sent.push(bytes);
      return Promise.resolve();
    },
    onDrop: (reason) => drops.push(reason),
  });
  for (const [devNum, model] of opts.models ?? [[DEV, new RngDeviceModel({ seed: 1 })]]) await server.addDevice(devNum, model);
  const post = async (name: string, kind: 'request' | 'event', fields: Fields, bus = false): Promise<VirtioMsg[]> => {
    const before = sent.length;
    await server.handle(encode(rev, { name, kind, bus, devNum: bus ? 0 : DEV, token: rev === 'r3' || rev === 'r4' ? 0x1234 : 0, fields }));
    return sent.slice(before).map((b) => {
      const d = decode(b, rev, { direction: 'device-to-driver', maxSize: maxMessageSize });
      expect(d.problems).toEqual([]);
      return d.msg!;
    });
  };
  const call = async (name: string, fields: Fields, bus = false): Promise<VirtioMsg> => {
    const got = await post(name, 'request', fields, bus);
    expect(got.map((m) => `${m.name} ${m.kind}`)).toEqual([`${name} response`]);
    return got[0]!;
  };
  return { server, window, drops, sent, call, post };
}

function setVq(rev: Revision, index: number, size: number, rings: typeof RINGS_A, flags?: number): Fields {
  const reserved: Fields = rev === 'r4' ? { flags: flags ?? 1, reserved1: 0 } : rev === 'r3' ? { reserved0: 0, reserved1: 0 } : { reserved: 0 };
  return {
    index,
    ...reserved,
    size,
    desc_addr: PEER_BASE + BigInt(rings.desc),
    driver_addr: PEER_BASE + BigInt(rings.driver),
    device_addr: PEER_BASE + BigInt(rings.device),
  };
}

interface VqState {
  maxSize: number;
  curSize: number;
  enabled: boolean | null;
  desc: bigint;
  driver: bigint;
  device: bigint;
}

async function getVq(h: Harness, index: number): Promise<VqState> {
  const f = (await h.call('GET_VQUEUE', { index })).fields;
  return {
    maxSize: f['max_size'] as number,
    curSize: f['cur_size'] as number,
    enabled: 'flags' in f ? ((f['flags'] as number) & 1) === 1 : null,
    desc: f['desc_addr'] as bigint,
    driver: f['driver_addr'] as bigint,
    device: f['device_addr'] as bigint,
  };
}

const at = (rings: typeof RINGS_A, size: number, enabled: boolean | null): Partial<VqState> => ({
  curSize: size,
  enabled,
  desc: PEER_BASE + BigInt(rings.desc),
  driver: PEER_BASE + BigInt(rings.driver),
  device: PEER_BASE + BigInt(rings.device),
});
const UNSET = { curSize: 0, enabled: false, desc: 0n, driver: 0n, device: 0n };

/** Puts one device-writable 16-byte buffer on the avail ring of queue RINGS_A (entry `slot`). */
function offerBuffer(w: BytesWindow, slot: number): void {
  const d = RINGS_A.desc + 16 * slot;
  const v = new DataView(new ArrayBuffer(16));
  v.setBigUint64(0, PEER_BASE + BigInt(BUFFER + 16 * slot), true);
  v.setUint32(8, 16, true);
  v.setUint16(12, 2 /* VIRTQ_DESC_F_WRITE */, true);
  w.writeSync(d, new Uint8Array(v.buffer));
  w.storeSync(RINGS_A.driver + 4 + 2 * slot, 16, slot);
  w.storeSync(RINGS_A.driver + 2, 16, slot + 1);
}
const usedIdx = (w: BytesWindow): number => w.loadSync(RINGS_A.device + 2, 16);

async function driverOk(h: Harness, features = 0n): Promise<void> {
  await h.call('SET_DRIVER_FEATURES', { block_index: 0, num_blocks: 2, features: [Number(features & 0xffffffffn), Number(features >> 32n)] });
  const s = STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK;
  expect((await h.call('SET_DEVICE_STATUS', { status: s })).fields['status']).toBe(s);
  await h.call('SET_DEVICE_STATUS', { status: s | STATUS.DRIVER_OK });
}

describe('SET_VQUEUE flags (R4, §6.8, §17.2)', () => {
  it('state op 0 applies the fields to a disabled queue and keeps it disabled; op 1 with all ignore bits then enables it', async () => {
    const h = await harness('r4');
    await h.call('SET_VQUEUE', setVq('r4', 0, QSIZE, RINGS_A, 0));
    expect(await getVq(h, 0)).toMatchObject({ maxSize: 256, ...at(RINGS_A, QSIZE, false) });
    // Enable with every field ignored: the request's zeros must not be used.
    await h.call('SET_VQUEUE', { index: 0, flags: 1 | 0x3c, size: 0, reserved1: 0, desc_addr: 0n, driver_addr: 0n, device_addr: 0n });
    expect(await getVq(h, 0)).toMatchObject(at(RINGS_A, QSIZE, true));
  });

  it('state op 2 keeps a disabled queue disabled; an ignore bit keeps just that field', async () => {
    const h = await harness('r4');
    await h.call('SET_VQUEUE', setVq('r4', 0, QSIZE, RINGS_A, 0));
    // size_ignore + device_addr_ignore: size stays 8, device area stays A, the others move to B.
    await h.call('SET_VQUEUE', setVq('r4', 0, 64, RINGS_B, 2 | 0x04 | 0x20));
    expect(await getVq(h, 0)).toMatchObject({
      curSize: QSIZE,
      enabled: false,
      desc: PEER_BASE + BigInt(RINGS_B.desc),
      driver: PEER_BASE + BigInt(RINGS_B.driver),
      device: PEER_BASE + BigInt(RINGS_A.device),
    });
  });

  const invalid: [string, Fields][] = [
    ['state op 3 (reserved)', setVq('r4', 0, QSIZE, RINGS_A, 3)],
    ['reserved flag bit 6', setVq('r4', 0, QSIZE, RINGS_A, 1 | 0x40)],
    ['reserved flag bit 31', setVq('r4', 0, QSIZE, RINGS_A, (1 | 0x8000_0000) >>> 0)],
    ['size 0', setVq('r4', 0, 0, RINGS_A, 1)],
    ['size above max_size', setVq('r4', 0, 512, RINGS_A, 1)],
    ['a ring outside the data window', setVq('r4', 0, QSIZE, { ...RINGS_A, device: WINDOW_BYTES }, 1)],
    ['a misaligned descriptor area', setVq('r4', 0, QSIZE, { ...RINGS_A, desc: 0x1004 }, 1)],
  ];

  it.each([
    ...invalid,
    ['a queue index out of range', setVq('r4', 5, QSIZE, RINGS_A, 1)],
    ['size_ignore on a queue that has no size yet', setVq('r4', 0, QSIZE, RINGS_A, 1 | 0x04)],
  ])('an invalid request (%s) is a no-op that is still answered', async (_what, fields) => {
    const h = await harness('r4');
    const r = await h.call('SET_VQUEUE', fields);
    expect(r.token).toBe(0x1234);
    expect(r.msgSize).toBe(8);
    expect(await getVq(h, 0)).toMatchObject(UNSET);
    expect(h.drops).toHaveLength(1);
    expect(h.drops[0]).toMatch(/^SET_VQUEUE \d+: .*nothing changed/);
  });

  it.each(invalid)('an invalid request (%s) leaves a configured disabled queue as it was', async (_what, fields) => {
    const h = await harness('r4');
    await h.call('SET_VQUEUE', setVq('r4', 0, 16, RINGS_B, 0));
    await h.call('SET_VQUEUE', fields);
    expect(await getVq(h, 0)).toMatchObject(at(RINGS_B, 16, false));
  });

  it.each([
    ['another size', setVq('r4', 0, 16, RINGS_A, 1)],
    ['another descriptor area', setVq('r4', 0, QSIZE, { ...RINGS_A, desc: RINGS_B.desc }, 2)],
    ['another driver area', setVq('r4', 0, QSIZE, { ...RINGS_A, driver: RINGS_B.driver }, 1)],
    ['another device area', setVq('r4', 0, QSIZE, { ...RINGS_A, device: RINGS_B.device }, 1)],
    ['state op 0 (disable)', setVq('r4', 0, QSIZE, RINGS_A, 0)],
    ['state op 0 with every field ignored', setVq('r4', 0, 0, RINGS_B, 0x3c)],
  ])('an enabled queue cannot be changed: %s is a no-op', async (_what, fields) => {
    const h = await harness('r4');
    await h.call('SET_VQUEUE', setVq('r4', 0, QSIZE, RINGS_A, 1));
    await h.call('SET_VQUEUE', fields);
    expect(await getVq(h, 0)).toMatchObject(at(RINGS_A, QSIZE, true));
  });

  it('a malformed SET_VQUEUE (wrong msg_size) is still dropped without an answer', async () => {
    const h = await harness('r4');
    const bytes = encode('r4', { name: 'SET_VQUEUE', kind: 'request', devNum: DEV, token: 1, fields: setVq('r4', 0, QSIZE, RINGS_A, 3), msgSize: 40 });
    await h.server.handle(bytes);
    expect(h.sent).toHaveLength(0);
    expect(h.drops).toHaveLength(1);
  });
});

describe.each(['r4', 'r3', 'r2'] as const)('SET_VQUEUE on a running queue (%s)', (rev) => {
  it('setting an enabled queue again as it is keeps its ring indices', async () => {
    const h = await harness(rev);
    await h.call('SET_VQUEUE', setVq(rev, 0, QSIZE, RINGS_A));
    expect(await getVq(h, 0)).toMatchObject(at(RINGS_A, QSIZE, rev === 'r4' ? true : null));
    await driverOk(h);
    offerBuffer(h.window, 0);
    let out = await h.post('EVENT_AVAIL', 'event', { vq_index: 0, next_offset: 0 });
    expect(out.map((m) => m.name)).toEqual(['EVENT_USED']);
    expect(usedIdx(h.window)).toBe(1);
    // Same values again (R4: enable; R2/R3: no flags), then a kick with nothing new.
    await h.call('SET_VQUEUE', setVq(rev, 0, QSIZE, RINGS_A));
    out = await h.post('EVENT_AVAIL', 'event', { vq_index: 0, next_offset: 0 });
    expect(out).toEqual([]);
    expect(usedIdx(h.window)).toBe(1);
    offerBuffer(h.window, 1);
    out = await h.post('EVENT_AVAIL', 'event', { vq_index: 0, next_offset: 0 });
    expect(out.map((m) => m.name)).toEqual(['EVENT_USED']);
    expect(usedIdx(h.window)).toBe(2);
  });

  it('a different size or address for an enabled queue changes nothing', async () => {
    const h = await harness(rev);
    await h.call('SET_VQUEUE', setVq(rev, 0, QSIZE, RINGS_A));
    await h.call('SET_VQUEUE', setVq(rev, 0, 16, RINGS_B));
    expect(await getVq(h, 0)).toMatchObject(at(RINGS_A, QSIZE, rev === 'r4' ? true : null));
  });
});

describe('RESET_VQUEUE (§6.9, §14.4, §17.2)', () => {
  const model = () => new ConfigModel(featureBit(FEATURE.RING_RESET));

  it.each(['r4', 'r3'] as const)('%s: without VIRTIO_F_RING_RESET negotiated it is a no-op with a normal response', async (rev) => {
    const h = await harness(rev, { models: [[DEV, model()]] });
    await h.call('SET_VQUEUE', setVq(rev, 0, QSIZE, RINGS_A));
    await driverOk(h, featureBit(FEATURE.VERSION_1)); // RING_RESET offered, not taken
    const r = await h.call('RESET_VQUEUE', { index: 0 });
    expect(r.msgSize).toBe(8);
    expect(await getVq(h, 0)).toMatchObject(at(RINGS_A, QSIZE, rev === 'r4' ? true : null));
  });

  it('a RING_RESET bit written but not yet accepted with FEATURES_OK is not in effect', async () => {
    const h = await harness('r4', { models: [[DEV, model()]] });
    await h.call('SET_DRIVER_FEATURES', { block_index: 0, num_blocks: 2, features: [0, Number(featureBit(FEATURE.RING_RESET) >> 32n) | 1] });
    await h.call('SET_VQUEUE', setVq('r4', 0, QSIZE, RINGS_A, 0));
    await h.call('RESET_VQUEUE', { index: 0 });
    expect(await getVq(h, 0)).toMatchObject(at(RINGS_A, QSIZE, false));
  });

  it.each(['r4', 'r3'] as const)('%s: with VIRTIO_F_RING_RESET negotiated the queue is reset (disabled, size 0, addresses 0) and can be set again', async (rev) => {
    const h = await harness(rev, { models: [[DEV, model()]] });
    await driverOk(h, featureBit(FEATURE.VERSION_1) | featureBit(FEATURE.RING_RESET));
    await h.call('SET_VQUEUE', setVq(rev, 0, QSIZE, RINGS_A));
    await h.call('SET_VQUEUE', setVq(rev, 1, QSIZE, RINGS_B));
    const r = await h.call('RESET_VQUEUE', { index: 0 });
    expect(r.msgSize).toBe(8);
    expect(await getVq(h, 0)).toMatchObject({ ...UNSET, enabled: rev === 'r4' ? false : null });
    expect(await getVq(h, 1)).toMatchObject(at(RINGS_B, QSIZE, rev === 'r4' ? true : null));
    await h.call('SET_VQUEUE', setVq(rev, 0, 16, RINGS_A));
    expect(await getVq(h, 0)).toMatchObject(at(RINGS_A, 16, rev === 'r4' ? true : null));
  });

  it('a device reset forgets the negotiated RING_RESET', async () => {
    const h = await harness('r4', { models: [[DEV, model()]] });
    await driverOk(h, featureBit(FEATURE.VERSION_1) | featureBit(FEATURE.RING_RESET));
    await h.call('SET_DEVICE_STATUS', { status: 0 });
    await h.call('SET_VQUEUE', setVq('r4', 0, QSIZE, RINGS_A, 1));
    await h.call('RESET_VQUEUE', { index: 0 });
    expect(await getVq(h, 0)).toMatchObject(at(RINGS_A, QSIZE, true));
  });
});

describe('bus GET_DEVICES (§6.14, §12.1)', () => {
  const devices = (): [number, DeviceModel][] => [
    [0, new RngDeviceModel({ seed: 1 })],
    [300, new RngDeviceModel({ seed: 2 })],
  ];
  /** Device numbers a response reports, from its bitmap's first `count` bits. */
  const present = (m: VirtioMsg): number[] => {
    const offset = m.fields['offset'] as number;
    const count = m.fields['count'] as number;
    const bitmap = m.fields['bitmap'] as Uint8Array;
    expect(bitmap.length).toBe(Math.ceil(count / 8));
    const out: number[] = [];
    for (let i = 0; i < count; i++) if ((bitmap[i >> 3]! >> (i & 7)) & 1) out.push(offset + i);
    return out;
  };
  const ask = async (h: Harness, offset: number, count: number) => {
    const m = await h.call('GET_DEVICES', { offset, count }, true);
    expect(m.msgSize).toBeLessThanOrEqual(64);
    return { offset: m.fields['offset'], count: m.fields['count'], next: m.fields['next_offset'], devices: present(m), bytes: m.msgSize };
  };

  it('R4, 64-byte bus: the answered count fits the bus; next_offset pages on while devices remain', async () => {
    const h = await harness('r4', { maxMessageSize: 64, models: devices() });
    // (64 - 8 - 6) · 8 = 400 slots fit: both devices, nothing beyond.
    expect(await ask(h, 0, 0xffff)).toEqual({ offset: 0, count: 400, next: 0, devices: [0, 300], bytes: 64 });
    // A smaller window: device 300 lies beyond it.
    expect(await ask(h, 0, 256)).toEqual({ offset: 0, count: 256, next: 256, devices: [0], bytes: 14 + 32 });
    expect(await ask(h, 256, 0xffff)).toEqual({ offset: 256, count: 400, next: 0, devices: [300], bytes: 64 });
    // Any count: 13 slots, 2 bitmap bytes, unused high bits 0 (checked by the decoder too).
    const odd = await h.call('GET_DEVICES', { offset: 0, count: 13 }, true);
    expect(odd.fields).toMatchObject({ offset: 0, count: 13, next_offset: 13 });
    expect([...(odd.fields['bitmap'] as Uint8Array)]).toEqual([1, 0]);
    expect(await ask(h, 290, 13)).toEqual({ offset: 290, count: 13, next: 0, devices: [300], bytes: 16 });
    // Past the last device.
    expect(await ask(h, 301, 50)).toEqual({ offset: 301, count: 50, next: 0, devices: [], bytes: 21 });
  });

  it('R4: a bus too small for the whole range makes next_offset follow the clamped count', async () => {
    const h = await harness('r4', { maxMessageSize: 52, models: devices() });
    // (52 - 14) · 8 = 304 slots: device 300 is still inside.
    expect(await ask(h, 0, 0xffff)).toMatchObject({ count: 304, next: 0, devices: [0, 300] });
    const small = await harness('r4', { maxMessageSize: 50, models: devices() });
    expect(await ask(small, 0, 0xffff)).toEqual({ offset: 0, count: 288, next: 288, devices: [0], bytes: 50 });
    expect(await ask(small, 288, 0xffff)).toEqual({ offset: 288, count: 288, next: 0, devices: [300], bytes: 50 });
  });

  it('R3, 64-byte bus: count and next_offset are multiples of 8', async () => {
    const h = await harness('r3', { maxMessageSize: 64, models: devices() });
    expect(await ask(h, 0, 0xfff8)).toEqual({ offset: 0, count: 400, next: 0, devices: [0, 300], bytes: 64 });
    expect(await ask(h, 0, 128)).toEqual({ offset: 0, count: 128, next: 128, devices: [0], bytes: 30 });
    expect(await ask(h, 128, 128)).toEqual({ offset: 128, count: 128, next: 256, devices: [], bytes: 30 });
    expect(await ask(h, 256, 128)).toEqual({ offset: 256, count: 128, next: 0, devices: [300], bytes: 30 });
  });

  it('R3, 48-byte bus: the clamped count stays a multiple of 8 and the walk goes on from it', async () => {
    const h = await harness('r3', { maxMessageSize: 48, models: devices() });
    expect(await ask(h, 0, 0xfff8)).toEqual({ offset: 0, count: 272, next: 272, devices: [0], bytes: 48 });
    expect(await ask(h, 272, 0xfff8)).toEqual({ offset: 272, count: 272, next: 0, devices: [300], bytes: 48 });
  });

  it("R3, the driver's request (offset 0, count 32): per spec, not QEMU's way: msg_size 14 + 4, token echoed; the driver walks it", async () => {
    const h = await harness('r3', { maxMessageSize: 48, models: devices() });
    await h.call('GET_DEVICES', { offset: 0, count: GET_DEVICES_COUNT }, true);
    // type 03, GET_DEVICES, dev_num 0, token 0x1234, msg_size 18 | offset 0, count 32, next_offset 32 | bitmap
    expect(toHex(h.sent.at(-1)!)).toBe('03 02 00 00 34 12 12 00 00 00 20 00 20 00 01 00 00 00');
    const port: DriverPort = {
      request: async (bytes) => {
        await h.server.handle(bytes);
        return { ok: true, value: h.sent.at(-1)!, latencyNs: 1 };
      },
      post: () => Promise.resolve(ok()),
      onEvent: () => () => undefined,
      poll: () => Promise.resolve(),
    };
    const findings: string[] = [];
    const dialect = createDialect(port, 'r3', { timeoutMs: 100, maxMessageSize: 48, onFinding: (f) => findings.push(f) });
    const before = h.sent.length;
    expect(await dialect.getDevices()).toEqual({ ok: true, value: [{ devNum: 0 }, { devNum: 300 }] });
    // Windows of 32 up to the one holding 300 ([288, 320)), where next_offset is 0.
    expect(h.sent.length - before).toBe(10);
    expect(findings).toEqual([]);
  });

  it('R3: a request with an unaligned offset is malformed and dropped', async () => {
    const h = await harness('r3', { maxMessageSize: 64, models: devices() });
    const out = await h.post('GET_DEVICES', 'request', { offset: 4, count: 8 }, true);
    expect(out).toEqual([]);
    expect(h.drops).toHaveLength(1);
  });
});

describe('SET_CONFIG generation (§9)', () => {
  const write = (h: Harness, generation: number, data: number[]) => h.call('SET_CONFIG', { generation, offset: 0, length: data.length, data: new Uint8Array(data) });
  const read = async (h: Harness) => {
    const f = (await h.call('GET_CONFIG', { offset: 0, length: 4 })).fields;
    return { generation: f['generation'], data: [...(f['data'] as Uint8Array)] };
  };

  it.each(['r3', 'r2'] as const)('%s: a write made against another generation is rejected (length 0, no data, current generation)', async (rev) => {
    const h = await harness(rev, { models: [[DEV, new ConfigModel(0n)]] });
    const ok = await write(h, 0, [1, 2, 3, 4]);
    expect(ok.fields).toMatchObject({ generation: 1, offset: 0, length: 4 });
    const stale = await write(h, 0, [9, 9, 9, 9]);
    expect(stale.fields['generation']).toBe(1);
    expect(stale.fields['length']).toBe(0);
    expect((stale.fields['data'] as Uint8Array | undefined)?.length ?? 0).toBe(0);
    expect(stale.msgSize).toBe(rev === 'r2' ? 18 : 20);
    expect(await read(h)).toEqual({ generation: 1, data: [1, 2, 3, 4] });
    // With the current generation it goes through.
    expect((await write(h, 1, [5, 6, 7, 8])).fields).toMatchObject({ generation: 2, length: 4 });
    expect(await read(h)).toEqual({ generation: 2, data: [5, 6, 7, 8] });
  });

  it('r4 baseline profile: the generation field is ignored', async () => {
    const h = await harness('r4', { models: [[DEV, new ConfigModel(0n)]] });
    expect((await write(h, 0, [1, 2, 3, 4])).fields).toMatchObject({ generation: 1, length: 4 });
    expect((await write(h, 0, [5, 6, 7, 8])).fields).toMatchObject({ generation: 2, length: 4 });
    expect((await write(h, 77, [9, 9, 9, 9])).fields).toMatchObject({ generation: 3, length: 4 });
    expect(await read(h)).toEqual({ generation: 3, data: [9, 9, 9, 9] });
  });
});
