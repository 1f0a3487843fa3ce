/**
 * What this driver knows of each device type: the virtqueues its driver sets up and the
 * device-specific feature bits it understands (virtio-msg-protocol.md Appendix B and D).
 * A type not listed here is acknowledged but left without a driver, as Linux leaves a device
 * no driver binds to.
 */
import { DEVICE_FEATURE, DEVICE_ID, featureBit } from '../protocol/names';

export interface QueuePlan {
  /** Queue names in index order. */
  queues: readonly string[];
  /** Device-specific feature bits the driver accepts when offered. */
  features: bigint;
  /** Bits the driver must see offered, or it fails the device. */
  requiredFeatures: readonly number[];
}

const PLANS = new Map<number, QueuePlan>([
  // virtio-i2c: VIRTIO_I2C_F_ZERO_LENGTH_REQUEST is mandatory for the driver.
  [
    DEVICE_ID.I2C,
    { queues: ['requestq'], features: featureBit(DEVICE_FEATURE.I2C.ZERO_LENGTH_REQUEST), requiredFeatures: [DEVICE_FEATURE.I2C.ZERO_LENGTH_REQUEST] },
  ],
  // virtio-rng: no feature bits.
  [DEVICE_ID.RNG, { queues: ['requestq'], features: 0n, requiredFeatures: [] }],
  // virtio-console port 0 only: SIZE is read; MULTIPORT is not negotiated.
  [DEVICE_ID.CONSOLE, { queues: ['receiveq', 'transmitq'], features: featureBit(DEVICE_FEATURE.CONSOLE.SIZE), requiredFeatures: [] }],
]);

export function queuePlan(deviceId: number): QueuePlan | undefined {
  return PLANS.get(deviceId);
}
