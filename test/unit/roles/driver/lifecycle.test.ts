/**
 * Device lifecycle against a live device side: hot-plug events out of order or twice, resets
 * while workloads hold queue contexts, and a device that stops answering mid-session.
 */
import { afterEach, describe, expect, it } from 'vitest';

import type { WireMessage } from '../../../../src/bus/endpoint';
import { rngRead } from '../../../../src/devices/rng';
import { decode, encode } from '../../../../src/protocol/index';
import { builtin, inThreadBoard, type InThreadBoard } from './harness';

let open: InThreadBoard | null = null;
afterEach(async () => {
  await open?.close();
  open = null;
});

const deviceEvent = (devNum: number, state: number) =>
  encode('r4', { name: 'EVENT_DEVICE', kind: 'event', bus: true, devNum: 0, fields: { device_number: devNum, device_bus_state: state } });

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('hot-plug events', () => {
  it('ignores a duplicate EVENT_DEVICE ADDED for a running device (§12.3) and reports it', async () => {
    const sent: WireMessage[] = [];
    open = await inThreadBoard(builtin('sim-qemu-amp-pci'), { observer: { onMessage: (m) => sent.push(m) } });
    await open.session.probe();
    const before = sent.length;
    await open.board.endpoint.send(deviceEvent(0, 1));
    await until(() => open!.session.driver.state(0)!.findings.length > 0);
    const after = sent.slice(before).filter((m) => m.direction === 'driver-to-device');
    expect(after).toEqual([]);
    expect(open.session.driver.state(0)!.phase).toBe('ready');
    expect(open.session.driver.state(0)!.findings[0]).toMatch(/ADDED for dev_num 0 while it is ready: ignored/);
  });

  it('ends in "removed" when REMOVED arrives during bring-up, and frees everything', async () => {
    open = await inThreadBoard(builtin('sim-qemu-amp-pci'));
    const bringing = open.session.driver.bringUp(2);
    await open.board.endpoint.send(deviceEvent(2, 2));
    await bringing;
    await until(() => open!.session.driver.state(2)!.phase === 'removed');
    expect(open.session.driver.state(2)!.queues).toEqual([]);
    expect(open.session.driver.dataMemory().allocatedBlocks).toBe(0);
  });
});

describe('resets and queue contexts', () => {
  it('gives a context taken before a reset a clear error, and leaks nothing', async () => {
    open = await inThreadBoard(builtin('sim-qemu-amp-pci'));
    await open.session.probe();
    const stale = open.session.driver.queueContext(0, 0);
    if (!stale.ok) throw new Error(stale.error);
    const memory = open.session.driver.dataMemory();
    await open.session.driver.reset(0);
    const r = await rngRead(stale.value, 16);
    expect(r).toEqual({ ok: false, error: expect.stringMatching(/queue 0 of device 0 was torn down/) });
    const fresh = open.session.driver.queueContext(0, 0);
    if (!fresh.ok) throw new Error(fresh.error);
    expect((await rngRead(fresh.value, 16)).ok).toBe(true);
    expect(open.session.driver.dataMemory()).toEqual(memory);
  });

  it('abandons a request in flight when its device is reset, saying so', async () => {
    open = await inThreadBoard(builtin('sim-qemu-amp-pci'));
    await open.session.probe();
    const ctx = open.session.driver.queueContext(0, 0);
    if (!ctx.ok) throw new Error(ctx.error);
    // Stop the device side answering, so the request stays in flight while the driver resets.
    open.board.close();
    const reading = rngRead(ctx.value, 16, 2000);
    await new Promise((r) => setTimeout(r, 20));
    const reset = open.session.driver.reset(0);
    expect(await reading).toEqual({ ok: false, error: expect.stringMatching(/.+/) });
    await reset;
  });

  it('keeps the queues of a device whose reset failed: the device may still use them', async () => {
    open = await inThreadBoard(builtin('sim-versal', (p) => ({ ...p, bus: { ...p.bus, timeouts: { ...p.bus.timeouts, responseMs: 50 } } })));
    await open.session.probe();
    const memory = open.session.driver.dataMemory();
    open.board.close();
    const s = await open.session.driver.reset(0);
    expect(s.phase).toBe('failed');
    expect(s.error).toMatch(/no response to GET_DEVICE_INFO/);
    expect(s.queues).toHaveLength(1);
    expect(open.session.driver.dataMemory()).toEqual(memory);
  });
});

describe('devices that do not send EVENT_USED', () => {
  it('completes requests of an R0 board whose EVENT_USED names a dev_num the bus does not have', async () => {
    open = await inThreadBoard(builtin('sim-stm32mp157'));
    await open.session.probe();
    // The firmware's EVENT_USED carries an uninitialised dev_num.
    await open.board.endpoint.send(encode('r0', { name: 'EVENT_USED', kind: 'event', devNum: 0x5a5a, fields: { vq_idx: 0 } }));
    await until(() => open!.session.driver.state(0)!.findings.length > 0);
    expect(open.session.driver.state(0)!.findings[0]).toMatch(/dev_num 23130.*attributed to it/);
    expect(decode(encode('r0', { name: 'EVENT_USED', kind: 'event', devNum: 1, fields: { vq_idx: 0 } }), 'r0').problems).toEqual([]);
  });
});
