/**
 * Every device type the workbench knows, keyed by virtio device id; the descriptor's name is the
 * id's text form (profiles' simulated `kind`, feature names). The driver's queue plans, config
 * decoding, the simulator, the profile schema, the API's workload params, the service, `exercise`
 * and the UI all read this table: a new device type is one descriptor file added here.
 */
import { commonFeatureName } from '../protocol/names';
import { CONSOLE_DEVICE } from './console';
import type { DeviceDescriptor, SimModelOptions, WorkloadSpec } from './descriptor';
import { GPIO_DEVICE } from './gpio';
import { I2C_DEVICE } from './i2c';
import type { DeviceModel } from './model';
import { NET_DEVICE } from './network';
import { RNG_DEVICE } from './rng';

/** In the order lists show them (simulated kinds, workload kinds). */
const DESCRIPTORS = [I2C_DEVICE, RNG_DEVICE, CONSOLE_DEVICE, GPIO_DEVICE, NET_DEVICE] as const;
export const DEVICE_DESCRIPTORS: readonly DeviceDescriptor[] = DESCRIPTORS;

/** Every registered workload with its own kind and params types (the API's request types come from these). */
export type RegisteredWorkloadSpec = (typeof DESCRIPTORS)[number]['workloads'][number];
export type WorkloadKind = RegisteredWorkloadSpec['kind'];

const BY_ID = new Map(DEVICE_DESCRIPTORS.map((d) => [d.id, d]));

/** The descriptor of virtio device type `id`; undefined for a type the workbench knows nothing of. */
export function deviceDescriptor(id: number): DeviceDescriptor | undefined {
  return BY_ID.get(id);
}

/** Names of the types the simulator can serve: what a profile's `sim.devices[].kind` may say. */
export const SIMULATED_DEVICE_NAMES: readonly string[] = DEVICE_DESCRIPTORS.filter((d) => d.model).map((d) => d.name);

/** A simulated device of the type named `name` (a validated profile's kind; anything else is a programmer error). */
export function simulatedDevice(name: string, options: SimModelOptions): DeviceModel {
  const model = DEVICE_DESCRIPTORS.find((d) => d.name === name)?.model;
  if (!model) throw new RangeError(`no simulated device "${name}"; expected one of ${SIMULATED_DEVICE_NAMES.join(', ')}`);
  return model(options);
}

export interface RegisteredWorkload {
  device: DeviceDescriptor;
  workload: WorkloadSpec<WorkloadKind>;
}

/** Every workload by its kind, with the device type it runs on. */
export const WORKLOADS: ReadonlyMap<WorkloadKind, RegisteredWorkload> = new Map(
  DESCRIPTORS.flatMap((device) => device.workloads.map((workload: RegisteredWorkloadSpec) => [workload.kind, { device, workload }] as const)),
);

export const WORKLOAD_KINDS: readonly WorkloadKind[] = [...WORKLOADS.keys()];

/** Name of a feature bit for a device type: (32, any) → 'VIRTIO_F_VERSION_1', (0, 34) → 'VIRTIO_I2C_F_ZERO_LENGTH_REQUEST'; unknown → 'BIT_45'. */
export function featureName(bit: number, deviceId?: number): string {
  const common = commonFeatureName(bit);
  if (common) return common;
  const device = deviceId === undefined ? undefined : BY_ID.get(deviceId);
  const key = device && Object.keys(device.features).find((k) => device.features[k] === bit);
  return key ? `VIRTIO_${device.name.toUpperCase()}_F_${key}` : `BIT_${bit}`;
}

/** Names of every set bit, lowest first. */
export function featureNames(bits: bigint, deviceId?: number): string[] {
  const names: string[] = [];
  for (let bit = 0, rest = bits; rest > 0n; bit++, rest >>= 1n) if (rest & 1n) names.push(featureName(bit, deviceId));
  return names;
}
