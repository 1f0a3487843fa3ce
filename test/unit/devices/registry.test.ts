/**
 * The device registry walked type by type: every consumer (driver plans, config decoding, feature
 * names, the simulator, the profile schema, the API's workload params, workloads and exercise
 * rounds against the type's own model) covers every registered type, so a descriptor added
 * without one of them fails here.
 */
import { describe, expect, it } from 'vitest';

import { parseBoardProfile } from '../../../src/api/boardProfile';
import { parseRequest, WORKBENCH_METHODS } from '../../../src/api/workbench';
import { findBuiltinProfile } from '../../../src/boards/builtin';
import { decodeConfig } from '../../../src/devices/config';
import type { DeviceDescriptor } from '../../../src/devices/descriptor';
import {
  DEVICE_DESCRIPTORS,
  deviceDescriptor,
  featureName,
  featureNames,
  SIMULATED_DEVICE_NAMES,
  simulatedDevice,
  WORKLOAD_KINDS,
  WORKLOADS,
} from '../../../src/devices/registry';
import { queuePlan } from '../../../src/roles/driver/catalog';
import { deviceTypeName, FEATURE, featureBit } from '../../../src/protocol/names';
import { fakeContextFor } from './fakeContext';

const each = DEVICE_DESCRIPTORS.map((d) => [d.name, d] as const);
const simulated = DEVICE_DESCRIPTORS.filter((d) => d.model).map((d) => [d.name, d] as const);
const configSize = (d: DeviceDescriptor) => Math.max(0, ...d.config.map((f) => f.offset + f.size));
const deviceBits = (d: DeviceDescriptor) => new Set(Object.values(d.features));

async function benchFor(d: DeviceDescriptor) {
  const bench = await fakeContextFor(simulatedDevice(d.name, { seed: 7 }));
  return { bench, queueAt: (i: number) => bench.contexts[i]! };
}

describe('device registry', () => {
  it('keys every type by its device id, named as the Appendix A table names it', () => {
    expect(new Set(DEVICE_DESCRIPTORS.map((d) => d.id)).size).toBe(DEVICE_DESCRIPTORS.length);
    for (const d of DEVICE_DESCRIPTORS) {
      expect(d.name).toBe(deviceTypeName(d.id));
      expect(deviceDescriptor(d.id)).toBe(d);
    }
    expect(deviceDescriptor(2)).toBeUndefined(); // block: known by name only
  });

  it.each(each)('%s: feature bits are device-specific and named VIRTIO_<NAME>_F_<key>', (_, d) => {
    for (const [key, bit] of Object.entries(d.features)) {
      expect(Object.values(FEATURE)).not.toContain(bit);
      expect(featureName(bit, d.id)).toBe(`VIRTIO_${d.name.toUpperCase()}_F_${key}`);
    }
  });

  it('names common bits for any type, and unknown bits by number', () => {
    expect(featureName(32)).toBe('VIRTIO_F_VERSION_1');
    expect(featureName(38, 34)).toBe('VIRTIO_F_NOTIFICATION_DATA');
    expect(featureName(0, 34)).toBe('VIRTIO_I2C_F_ZERO_LENGTH_REQUEST');
    expect(featureName(2, 3)).toBe('VIRTIO_CONSOLE_F_EMERG_WRITE');
    expect(featureName(0, 41)).toBe('VIRTIO_GPIO_F_IRQ');
    expect(featureName(5, 1)).toBe('VIRTIO_NET_F_MAC');
    expect(featureName(70, 1)).toBe('VIRTIO_NET_F_IPSEC');
    expect(featureName(0, 4)).toBe('BIT_0');
    expect(featureName(0)).toBe('BIT_0');
    // Bit 41 is ADMIN_VQ even for net (legacy GUEST_RSC4 cannot occur); 42 is net's GUEST_RSC6.
    expect(featureName(41, 1)).toBe('VIRTIO_F_ADMIN_VQ');
    expect(featureName(42, 1)).toBe('VIRTIO_NET_F_GUEST_RSC6');
    expect(featureNames((1n << 32n) | 1n, 34)).toEqual(['VIRTIO_I2C_F_ZERO_LENGTH_REQUEST', 'VIRTIO_F_VERSION_1']);
    expect(featureNames(0n, 34)).toEqual([]);
    expect(featureNames(1n << 100n)).toEqual(['BIT_100']);
  });

  it.each(each)('%s: the config layout decodes a config of its size, field by field', (_, d) => {
    const size = configSize(d);
    const fields = decodeConfig(d.id, new Uint8Array(size), 0n)!;
    expect(fields.map((f) => f.name)).toEqual(d.config.map((f) => f.name));
    // Fields in order, none overlapping, each conditioned on the type's own bits.
    d.config.forEach((f, i) => expect(f.offset).toBeGreaterThanOrEqual(i === 0 ? 0 : d.config[i - 1]!.offset + d.config[i - 1]!.size));
    for (const f of d.config) for (const b of f.validWhen ?? []) expect(deviceBits(d)).toContain(b);
  });

  it.each(each)('%s: the driver plan comes from the descriptor', (_, d) => {
    const plan = queuePlan(d.id);
    if (!d.driver) return expect(plan).toBeUndefined();
    expect(plan!.queues).toEqual(d.driver.queues);
    expect(plan!.requiredFeatures).toEqual(d.driver.requires);
    for (const b of d.driver.requires) expect(plan!.features & featureBit(b)).not.toBe(0n);
    for (const b of d.driver.accepts) expect(deviceBits(d)).toContain(b);
  });

  it.each(simulated)('%s: the simulated device builds and agrees with the descriptor', (_, d) => {
    const m = simulatedDevice(d.name, { seed: 1 });
    expect(m.deviceId).toBe(d.id);
    expect(m.configSize).toBe(configSize(d));
    expect(decodeConfig(d.id, m.readConfig(0, m.configSize), m.offeredFeatures)).toHaveLength(d.config.length);
    // A type the simulator serves has a driver for every queue it serves.
    expect(m.numQueues).toBe(d.driver?.queues.length);
    const offeredDeviceBits = featureNames(m.offeredFeatures & ((1n << 24n) - 1n), d.id);
    for (const n of offeredDeviceBits) expect(n).toMatch(new RegExp(`^VIRTIO_${d.name.toUpperCase()}_F_`));
  });

  it('the profile schema accepts every simulated type by name and nothing else', () => {
    expect(SIMULATED_DEVICE_NAMES).toEqual(['i2c', 'rng', 'console']);
    const base = JSON.parse(JSON.stringify(findBuiltinProfile('sim-qemu-amp-pci'), (_, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)));
    for (const name of SIMULATED_DEVICE_NAMES) {
      const r = parseBoardProfile({ ...base, sim: { devices: [{ devNum: 0, kind: name }] } });
      expect(r.ok, name).toBe(true);
    }
    const bad = parseBoardProfile({ ...base, sim: { devices: [{ devNum: 0, kind: 'gpio' }] } });
    expect(bad.ok).toBe(false);
    expect(() => simulatedDevice('gpio', { seed: 1 })).toThrow(/no simulated device "gpio"; expected one of i2c, rng, console/);
  });

  it('every workload kind is unique and the API admits exactly the registered kinds', () => {
    expect(WORKLOAD_KINDS).toEqual(['i2c-transfer', 'rng-read', 'console-send']);
    expect(WORKLOADS.size).toBe(DEVICE_DESCRIPTORS.reduce((n, d) => n + d.workloads.length, 0));
    const r = parseRequest('device.workload', { devNum: 0, kind: 'spi-transfer', params: {} });
    expect(r.ok ? null : r.error.message).toMatch(/expected one of "i2c-transfer", "rng-read", "console-send"/);
    expect(WORKBENCH_METHODS['device.workload'].result.shape.kind.options).toEqual(WORKLOAD_KINDS);
  });

  const workloads = [...WORKLOADS.values()].map((w) => [w.workload.kind, w] as const);

  it.each(workloads)('%s: its defaults parse, as a request too, and run against the type’s own model', async (kind, { device, workload }) => {
    expect(workload.params.safeParse(workload.defaults).success).toBe(true);
    const req = parseRequest('device.workload', { devNum: 0, kind, params: workload.defaults });
    expect(req.ok).toBe(true);
    if (!req.ok || !device.model) return;
    const { queueAt } = await benchFor(device);
    const r = await workload.run(queueAt, workload.params.parse(workload.defaults));
    expect(r).toMatchObject({ ok: true });
  });

  it.each(DEVICE_DESCRIPTORS.filter((d) => d.exercise).map((d) => [d.name, d] as const))('%s: the exercise round passes against the type’s own model', async (_, d) => {
    expect(d.model).toBeDefined();
    const { queueAt } = await benchFor(d);
    for (let i = 0; i < 6; i++) expect(await d.exercise!.round(queueAt, i)).toBeNull();
  });
});
