import { afterEach, describe, expect, it } from 'vitest';

import type { WireMessage } from '../../../../src/bus/endpoint';
import { I2cDeviceModel } from '../../../../src/devices/i2c';
import { RngDeviceModel } from '../../../../src/devices/rng';
import { decode, encode, STATUS } from '../../../../src/protocol/index';
import type { Revision } from '../../../../src/protocol/types';
import { exerciseDevices } from '../../../../main/host/exercise';
import { builtin, inThreadBoard, type InThreadBoard } from './harness';

const BOARDS: { id: string; revision: Revision; devices: [number, string, number][]; queueSize: number }[] = [
  { id: 'sim-qemu-amp-pci', revision: 'r4', devices: [[0, 'rng', 1], [1, 'i2c', 1], [2, 'console', 2]], queueSize: 128 },
  { id: 'sim-versal', revision: 'r3', devices: [[0, 'rng', 1], [1, 'console', 2]], queueSize: 128 },
  // The ST firmware answers GET_VQUEUE with max_size 16.
  { id: 'sim-stm32mp157', revision: 'r0', devices: [[0, 'i2c', 1]], queueSize: 16 },
];

let open: InThreadBoard | null = null;
afterEach(async () => {
  await open?.close();
  open = null;
});

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe.each(BOARDS)('driver on $id ($revision)', ({ id, devices, queueSize, revision }) => {
  it('brings every device to DRIVER_OK with the queues its driver needs', async () => {
    open = await inThreadBoard(builtin(id));
    const r = await open.session.probe();
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.map((d) => [d.devNum, d.deviceType, d.queues.length])).toEqual(devices);
    for (const d of r.value) {
      expect(d.phase, d.error).toBe('ready');
      expect(d.status).toBe(STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK | STATUS.DRIVER_OK);
      expect(d.queues.every((q) => q.size === queueSize)).toBe(true);
      // R0 carries feature bits 0-31 only, so VERSION_1 cannot be offered there.
      expect((d.featuresNegotiated >> 32n) & 1n).toBe(revision === 'r0' ? 0n : 1n);
      expect(d.featuresNegotiated & ~d.featuresOffered).toBe(0n);
    }
  });

  it('runs every device workload against the device models', async () => {
    open = await inThreadBoard(builtin(id));
    expect((await open.session.probe()).ok).toBe(true);
    const report = await exerciseDevices(open.session, { count: 25 });
    expect(report.devices.map((d) => [d.devNum, d.ok, d.failed, d.errors])).toEqual(devices.map(([n]) => [n, 25, 0, []]));
  });
});

describe('bring-up order on the wire (R4)', () => {
  it('follows §14.2 for each device, with fresh non-zero tokens', async () => {
    const seen: WireMessage[] = [];
    open = await inThreadBoard(builtin('sim-qemu-amp-pci'), { observer: { onMessage: (m) => seen.push(m) } });
    await open.session.probe();
    const sent = seen.filter((m) => m.direction === 'driver-to-device').map((m) => decode(m.bytes, 'r4').msg!);
    expect(sent[0]!.name).toBe('GET_DEVICES');
    const rng = sent.filter((m) => m.devNum === 0 && !m.bus);
    const steps = rng.map((m) => (m.name === 'SET_DEVICE_STATUS' ? `STATUS=${m.fields['status']}` : m.name));
    expect(steps).toEqual([
      'GET_DEVICE_INFO',
      'STATUS=0',
      'STATUS=1',
      'STATUS=3',
      'GET_DEVICE_FEATURES',
      'SET_DRIVER_FEATURES',
      'STATUS=11',
      'GET_SHM',
      'GET_VQUEUE',
      'SET_VQUEUE',
      'GET_VQUEUE',
      'STATUS=15',
    ]);
    const tokens = sent.map((m) => m.token);
    expect(tokens.every((t) => t > 0)).toBe(true);
    expect(new Set(tokens).size).toBe(tokens.length);
    // SET_VQUEUE carries device-view addresses inside the board's data memory.
    const setVq = rng.find((m) => m.name === 'SET_VQUEUE')!;
    expect(setVq.fields['flags']).toBe(1);
    const desc = setVq.fields['desc_addr'] as bigint;
    expect(desc >= 0x40000000n && desc < 0x40100000n).toBe(true);
  });

  it('reads the console config space (cols, rows) with its generation', async () => {
    open = await inThreadBoard(builtin('sim-qemu-amp-pci'));
    await open.session.probe();
    const con = open.session.driver.state(2)!;
    expect(con.configSize).toBeGreaterThanOrEqual(4);
    const view = new DataView(con.config.buffer, con.config.byteOffset);
    expect([view.getUint16(0, true), view.getUint16(2, true)]).toEqual([80, 25]);
    expect(con.generation).not.toBeNull();
  });
});

describe('device faults and events', () => {
  it('marks a device FAILED when it refuses the features, and says so', async () => {
    open = await inThreadBoard(builtin('sim-versal'));
    const refusing = new RngDeviceModel({ seed: 3 });
    refusing.acceptFeatures = () => false;
    await open.board.server.addDevice(7, refusing);
    const s = await open.session.driver.bringUp(7);
    expect(s.phase).toBe('failed');
    expect(s.error).toMatch(/refused the features \(FEATURES_OK cleared/);
    expect(open.board.server.status(7)! & STATUS.FAILED).toBe(STATUS.FAILED);
  });

  it('resets and re-initialises a device that raises DEVICE_NEEDS_RESET', async () => {
    open = await inThreadBoard(builtin('sim-qemu-amp-pci'));
    await open.session.probe();
    const phases: string[] = [];
    open.session.driver.subscribe((s) => {
      if (s.devNum === 1) phases.push(s.phase);
    });
    await open.board.server.raiseNeedsReset(1);
    await until(() => phases.includes('needs-reset') && open!.session.driver.state(1)!.phase === 'ready');
    expect(open.board.server.status(1)).toBe(0x0f);
    const report = await exerciseDevices(open.session, { devNum: 1, count: 3 });
    expect(report.devices[0]!.failed).toBe(0);
  });

  it('frees the rings and the console receive buffers when a device is reset', async () => {
    open = await inThreadBoard(builtin('sim-versal'));
    await open.session.probe();
    const rings = open.session.driver.dataMemory();
    expect(rings.allocatedBlocks).toBe(3); // rng requestq + console receiveq and transmitq
    expect((await exerciseDevices(open.session, { devNum: 1, count: 3 })).devices[0]!.failed).toBe(0);
    expect(open.session.driver.dataMemory().allocatedBlocks).toBeGreaterThan(3); // receive buffers stay posted
    await open.session.driver.reset(1);
    expect(open.session.driver.state(1)!.phase).toBe('ready');
    expect(open.session.driver.dataMemory()).toEqual(rings);
  });

  it('brings up a hot-plugged device (EVENT_DEVICE ADDED) and tears down a removed one', async () => {
    open = await inThreadBoard(builtin('sim-qemu-amp-pci'));
    await open.session.probe();
    await open.board.server.addDevice(5, new I2cDeviceModel({}), true);
    await until(() => open!.session.driver.state(5)?.phase === 'ready');
    expect(open.session.driver.state(5)!.deviceType).toBe('i2c');
    await open.board.server.removeDevice(5);
    await until(() => open!.session.driver.state(5)?.phase === 'removed');
    expect(open.session.driver.state(5)!.queues).toEqual([]);
  });

  it('times out on a device that never answers, naming the message and the wait', async () => {
    open = await inThreadBoard(builtin('sim-versal', (p) => ({ ...p, bus: { ...p.bus, timeouts: { ...p.bus.timeouts, responseMs: 100 } } })));
    const s = await open.session.driver.bringUp(42);
    expect(s.phase).toBe('failed');
    expect(s.error).toMatch(/GET_DEVICE_INFO: no response to GET_DEVICE_INFO \(dev_num 42.*within 100 ms/);
    expect(open.log.some((l) => l.includes('absent dev_num 42'))).toBe(true);
  });

  it('device side drops malformed and unknown messages silently and keeps serving', async () => {
    const problems: string[] = [];
    open = await inThreadBoard(builtin('sim-qemu-amp-pci'), { observer: { onProblem: (p) => problems.push(p.kind) } });
    await open.session.probe();
    const bad = [
      encode('r4', { name: 'GET_VQUEUE', kind: 'request', devNum: 1, token: 9, fields: { index: 0 }, msgSize: 48 }), // msg_size disagrees
      encode('r4', { msgId: 0x3f, kind: 'request', devNum: 1, token: 10 }), // reserved id
      Uint8Array.of(0xff, 0xff, 0xff),
    ];
    for (const b of bad) expect((await open.session.endpoint.send(b)).ok).toBe(true);
    // A response sent to the device never leaves the driver (QEMU asserts on one).
    const response = encode('r4', { name: 'GET_DEVICE_STATUS', kind: 'response', devNum: 1, token: 11, fields: { status: 0 } });
    expect((await open.session.endpoint.send(response)).ok).toBe(false);
    const after = await open.session.endpoint.request(encode('r4', { name: 'GET_DEVICE_STATUS', kind: 'request', devNum: 1 }), { timeoutMs: 500 });
    expect(after.ok).toBe(true);
    // Nothing came back for the bad ones: no stray response reached the driver.
    expect(problems).toEqual([]);
    expect(open.log.filter((l) => l.startsWith('dropped'))).toHaveLength(bad.length);
  });

  it('reports a device the profile expects but the bus does not have', async () => {
    open = await inThreadBoard(builtin('sim-versal', (p) => ({ ...p, devices: [{ devNum: 4, virtioId: 34 }] })));
    const r = await open.session.probe();
    expect(r.ok).toBe(true);
    expect(open.session.driver.busFindings()).toEqual(['the board profile expects virtio device 34 at dev_num 4, but the bus does not report that dev_num']);
  });

  it('tolerates the ST firmware putting its bus id in EVENT_USED and reports it', async () => {
    open = await inThreadBoard(builtin('sim-stm32mp157'));
    await open.session.probe();
    const report = await exerciseDevices(open.session, { count: 5 });
    expect(report.devices[0]!.failed).toBe(0);
    // dev_num 0 queue 0: the bus id happens to be a valid queue index, so no finding here.
    expect(open.session.driver.state(0)!.findings).toEqual([]);
  });
});
