/**
 * How `exercise` reports a device that writes a bad used ring: the rounds fail with what the
 * ring held (expected vs seen), latency counts only rounds that succeeded, and the trace gets an
 * ERROR marker saying why the device's rounds failed.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

import type { MemoryWindow } from '../../../../src/bus/window';
import { exerciseDevices } from '../../../../main/host/exercise';
import { builtin, inThreadBoard, type InThreadBoard } from './harness';

let open: InThreadBoard | null = null;
afterEach(async () => {
  await open?.close();
  open = null;
});

describe('exercise against a device that writes a bad used ring', () => {
  it('fails the rounds with what the ring held, leaves latency empty and marks the trace with ERROR', async () => {
    const profile = builtin('sim-qemu-amp-pci');
    // The used ring elements as the driver reads them, from `usedAt` on: every id reads 0xdead.
    let usedAt: number | null = null;
    const corrupt = (w: MemoryWindow): MemoryWindow =>
      w.size !== profile.dataMemory.size
        ? w
        : {
            size: w.size,
            read: async (offset, length) => {
              const bytes = await w.read(offset, length);
              if (usedAt === null || offset < usedAt + 4) return bytes;
              for (let at = offset; at + 4 <= offset + length; at++) if ((at - usedAt - 4) % 8 === 0) new DataView(bytes.buffer).setUint32(at - offset, 0xdead, true);
              return bytes;
            },
            write: (offset, data) => w.write(offset, data),
            load: (offset, width) => w.load(offset, width),
            store: (offset, width, value) => w.store(offset, width, value),
            fence: () => w.fence(),
          };
    open = await inThreadBoard(profile, { driverWindow: corrupt });
    const marker = vi.spyOn(open.session.trace.recorder, 'marker');
    const probed = await open.session.probe();
    expect(probed.ok).toBe(true);
    usedAt = Number(open.session.driver.state(0)!.queues[0]!.deviceAddr - profile.dataMemory.peerBase);

    const report = await exerciseDevices(open.session, { devNum: 0, count: 3 });
    const rng = report.devices[0]!;
    expect([rng.deviceType, rng.ok, rng.failed, rng.notRun]).toEqual(['rng', 0, 3, 0]);
    expect(rng.latencyUs).toEqual({ p50: 0, p99: 0, max: 0, mean: 0 });
    expect(rng.errors[0]).toMatch(/^round 0: the device wrote a bad used ring: used\.ring\[0\]\.id .*57005/);
    expect(report.stopped).toBe(null);
    const errors = marker.mock.calls.filter(([kind]) => kind === 'error');
    expect(errors).toEqual([['error', `rng read 32 bytes ${rng.errors[0]!.replace(/^round 0: /, 'round 0 failed: ')}`, { devNum: 0 }]]);
  });
});
