/**
 * What this driver knows of each device type: the virtqueues its driver sets up and the
 * device-specific feature bits it understands, from the type's descriptor (src/devices/registry).
 * A type without a driver plan is acknowledged but left without a driver, as Linux leaves a
 * device no driver binds to.
 */
import { deviceDescriptor } from '../../devices/registry';
import { featureBit } from '../../protocol/names';

export interface QueuePlan {
  /** Queue names in index order. */
  queues: readonly string[];
  /** Device-specific feature bits the driver accepts when offered. */
  features: bigint;
  /** Bits the driver must see offered, or it fails the device. */
  requiredFeatures: readonly number[];
}

export function queuePlan(deviceId: number): QueuePlan | undefined {
  const plan = deviceDescriptor(deviceId)?.driver;
  if (!plan) return undefined;
  return { queues: plan.queues, features: plan.accepts.reduce((bits, b) => bits | featureBit(b), 0n), requiredFeatures: plan.requires };
}
