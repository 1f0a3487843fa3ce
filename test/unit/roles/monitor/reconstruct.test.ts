import { describe, expect, it } from 'vitest';

import { BUILTIN_PROFILES } from '../../../../src/boards/builtin';
import { encode } from '../../../../src/protocol/index';
import type { Revision } from '../../../../src/protocol/types';
import { STATUS } from '../../../../src/protocol/names';
import { BusModel } from '../../../../src/roles/monitor/reconstruct';
import type { DeviceState } from '../../../../src/roles/driver/driver';
import { inThreadBoard } from '../driver/harness';

/** The parts of a device's state that the messages on the bus carry. */
function wireState(d: DeviceState) {
  return {
    devNum: d.devNum,
    deviceId: d.deviceId,
    deviceType: d.deviceType,
    vendorId: d.vendorId,
    status: d.status,
    featuresOffered: d.featuresOffered,
    featuresNegotiated: d.featuresNegotiated,
    configSize: d.configSize,
    queues: d.queues.map((q) => ({ index: q.index, name: q.name, size: q.size, descAddr: q.descAddr, driverAddr: q.driverAddr, deviceAddr: q.deviceAddr })),
  };
}

describe('BusModel', () => {
  for (const profile of BUILTIN_PROFILES) {
    it(`${profile.id}: rebuilds from the observed bring-up the state the driver itself holds`, async () => {
      const model = new BusModel(profile.bus.revision as Revision);
      const board = await inThreadBoard(profile, { observer: { onMessage: (m) => model.observe(m.direction, m.bytes) } });
      try {
        const probed = await board.session.probe();
        expect(probed.ok).toBe(true);
        const driver = board.session.driver.states();
        expect(driver.length).toBeGreaterThan(0);
        const observed = model.states();
        expect(observed.map(wireState)).toEqual(driver.map(wireState));
        for (const d of observed) expect(d.seen).toEqual(expect.arrayContaining(['info', 'status', 'features']));
        const ready = observed.filter((d) => d.status & STATUS.DRIVER_OK);
        for (const d of ready) expect(d.phase).toBe('ready');
      } finally {
        await board.close();
      }
    });
  }

  it('follows EVENT_DEVICE removal, a reset to status 0 and EVENT_USED per queue', () => {
    const model = new BusModel('r4');
    const down = 'driver-to-device' as const;
    const up = 'device-to-driver' as const;
    model.observe(down, encode('r4', { name: 'SET_DEVICE_STATUS', kind: 'request', devNum: 2, token: 1, fields: { status: 0xf } }));
    model.observe(down, encode('r4', { name: 'SET_VQUEUE', kind: 'request', devNum: 2, token: 2, fields: { index: 1, flags: 1, size: 64, desc_addr: 0x1000n, driver_addr: 0x1400n, device_addr: 0x1800n } }));
    model.observe(up, encode('r4', { name: 'EVENT_USED', kind: 'event', devNum: 2, fields: { vq_index: 1 } }));
    model.observe(up, encode('r4', { name: 'EVENT_USED', kind: 'event', devNum: 2, fields: { vq_index: 1 } }));
    let [d] = model.states();
    expect(d!.phase).toBe('ready');
    expect(d!.queues).toEqual([{ index: 1, name: 'queue 1', size: 64, maxSize: 0, descAddr: 0x1000n, driverAddr: 0x1400n, deviceAddr: 0x1800n, usedEvents: 2 }]);
    model.observe(down, encode('r4', { name: 'SET_DEVICE_STATUS', kind: 'request', devNum: 2, token: 3, fields: { status: 0 } }));
    [d] = model.states();
    expect(d!.queues).toEqual([]);
    expect(d!.phase).toBe('resetting');
    model.observe(up, encode('r4', { name: 'EVENT_DEVICE', kind: 'event', bus: true, devNum: 0, fields: { device_number: 2, device_bus_state: 2 } }));
    [d] = model.states();
    expect(d!.phase).toBe('removed');
    // Unknown until observed: nothing said about identity or config.
    expect(d!.seen).toEqual(['status', 'queues', 'enumeration']);
    expect(d!.configSize).toBeNull();
  });
});
