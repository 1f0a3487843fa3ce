/**
 * Where bring-up stops: after MAX_SILENT_DEVICES advertised devices in a row never answered
 * GET_DEVICE_INFO (the rest are given up on and said so), and as soon as the link is lost
 * (the loss is reported as such, never as the peer's quirk).
 */
import { afterEach, describe, expect, it } from 'vitest';

import { BytesWindow } from '../../../../src/bus/window';
import { Driver, MAX_SILENT_DEVICES, type BringUpProgress } from '../../../../src/roles/driver/driver';
import type { DriverPort, PortResult } from '../../../../src/roles/driver/port';
import { decode, decodeHeader } from '../../../../src/protocol/index';
import { nodeRuntime } from '../../../../main/host/runtime';
import { builtin, inThreadBoard, type InThreadBoard } from './harness';
import { ok } from '../../../../src/util/result';

/** A port whose answer to each request `answer` decides; it records every dev_num asked. */
function fakePort(answer: (devNum: number) => PortResult): { port: DriverPort; asked: number[] } {
  const asked: number[] = [];
  const port: DriverPort = {
    request: (bytes) => {
      const devNum = decodeHeader(bytes, 'r0')!.devNum;
      asked.push(devNum);
      return Promise.resolve(answer(devNum));
    },
    post: () => Promise.resolve(ok()),
    onEvent: () => () => undefined,
    poll: () => Promise.resolve(),
  };
  return { port, asked };
}

/** R0 has no GET_DEVICES: the profile's list is what the bus advertises. */
function driverFor(port: DriverPort, devices: number, onProgress: (p: BringUpProgress) => void): Driver {
  return new Driver({
    port,
    revision: 'r0',
    maxMessageSize: 64,
    responseTimeoutMs: 1000,
    data: { window: new BytesWindow(new ArrayBuffer(0x10000)), peerBase: 0n },
    runtime: nodeRuntime,
    expectedDevices: Array.from({ length: devices }, (_, devNum) => ({ devNum, virtioId: 4 })),
    onProgress,
  });
}

const silent: PortResult = { ok: false, error: 'no response to GET_DEVICE_INFO within 1000 ms', timedOut: true };
const garbled: PortResult = { ok: false, error: 'malformed GET_DEVICE_INFO response' };

let open: InThreadBoard | null = null;
afterEach(async () => {
  await open?.close();
  open = null;
});

describe('bring-up bound', () => {
  it(`gives up on the rest after ${MAX_SILENT_DEVICES} devices in a row left GET_DEVICE_INFO unanswered, and says how many and why`, async () => {
    // 1000 advertised; dev_num 0 and 5 answer (wrongly: any answer breaks the run of silence).
    const { port, asked } = fakePort((n) => (n === 0 || n === 5 ? garbled : silent));
    const progress: BringUpProgress[] = [];
    const driver = driverFor(port, 1000, (p) => progress.push(p));
    const r = await driver.probeAll();
    expect(r.ok).toBe(true);
    // 0 answered, then 1–4 are four silent ones in a row: 5 and the rest are never asked.
    expect(asked).toEqual([0, 1, 2, 3, 4]);
    expect(progress.map((p) => (p.kind === 'device' ? [p.state.devNum, p.unanswered] : ['gave-up', p.skipped.length]))).toEqual([
      [0, false],
      [1, true],
      [2, true],
      [3, true],
      [4, true],
      ['gave-up', 995],
    ]);
    const reason = `gave up on the last 995 of 1000 advertised devices: ${MAX_SILENT_DEVICES} in a row (dev_num 1, 2, 3, 4) left GET_DEVICE_INFO unanswered within 1000 ms`;
    expect(driver.busProblems()).toEqual([reason]);
    expect(progress.at(-1)).toEqual({ kind: 'gave-up', skipped: Array.from({ length: 995 }, (_, i) => i + 5), reason });
  });

  it('a device that answers between silent ones restarts the count', async () => {
    const { port, asked } = fakePort((n) => (n % 3 === 2 ? garbled : silent));
    const driver = driverFor(port, 12, () => undefined);
    await driver.probeAll();
    expect(asked).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(driver.busProblems()).toEqual([]);
  });

  it('stops as soon as the link is lost: no further request, the loss is the error', async () => {
    const { port, asked } = fakePort((n) => (n === 2 ? { ok: false, error: 'the board closed its doorbell socket', linkLost: true } : garbled));
    const progress: BringUpProgress[] = [];
    const driver = driverFor(port, 10, (p) => progress.push(p));
    const r = await driver.probeAll();
    expect(r).toEqual({ ok: false, error: 'bring-up stopped with 0 of 10 devices at DRIVER_OK: the board closed its doorbell socket' });
    expect(asked).toEqual([0, 1, 2]);
    expect(progress.map((p) => p.kind === 'device' && p.state.devNum)).toEqual([0, 1]);
    expect(driver.linkLost).toBe('the board closed its doorbell socket');
  });

  it('a GET_SHM cut off by the link is reported as the link, not as a peer that does not answer GET_SHM', async () => {
    let cut: (() => void) | null = null;
    open = await inThreadBoard(builtin('sim-qemu-amp-pci'), {
      observer: {
        onMessage: (m) => {
          if (m.direction === 'driver-to-device' && decode(m.bytes, 'r4').msg?.name === 'GET_SHM') cut?.();
        },
      },
    });
    const { session } = open;
    // The link dies while the first GET_SHM waits for its answer.
    cut = () => session.endpoint.abort('the board side closed its doorbell socket');
    const r = await session.probe();
    expect(r).toEqual({ ok: false, error: 'bring-up stopped with 0 of 3 devices at DRIVER_OK: the board side closed its doorbell socket' });
    const dev0 = session.driver.state(0)!;
    expect(dev0.error).toBe('GET_SHM: the board side closed its doorbell socket');
    expect(dev0.findings).toEqual([]);
    expect(session.driver.busFindings().filter((f) => f.includes('GET_SHM'))).toEqual([]);
  });
});

describe('data memory gone under the driver', () => {
  it('a rejected access to the data memory fails the device with its words; probe does not throw', async () => {
    const gone = 'the shared file /dev/shm/amp0 shrank to 4096 bytes under the session (expected at least 1069056): the board side truncated it';
    const profile = builtin('sim-versal');
    const refuse = (): Promise<never> => Promise.reject(new Error(gone));
    // Only the data memory goes: the bus queues keep working, so bring-up gets as far as the virtqueues.
    open = await inThreadBoard(profile, {
      driverWindow: (w) => (w.size === profile.dataMemory.size ? { size: w.size, read: refuse, write: refuse, load: refuse, store: refuse, fence: refuse } : w),
    });
    const r = await open.session.probe();
    expect(r.ok).toBe(true);
    const states = r.ok ? r.value : [];
    expect(states.length).toBeGreaterThan(0);
    for (const d of states) expect(d).toMatchObject({ phase: 'failed', error: gone });
  });
});
