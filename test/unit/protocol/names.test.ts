/** Name tables: Appendix A device types, Appendix B feature bits, Appendix C status bits. */
import { describe, expect, it } from 'vitest';
import { DEVICE_ID, FEATURE, STATUS, deviceDisplayName, deviceTypeName, featureName, featureNames, statusNames } from '../../../src/protocol/names';

describe('device types', () => {
  it('ids and names', () => {
    expect(DEVICE_ID).toMatchObject({ NET: 1, BLOCK: 2, CONSOLE: 3, RNG: 4, ENTROPY: 4, I2C: 34, GPIO: 41, USB: 49 });
    expect([34, 4, 3, 41, 1].map(deviceTypeName)).toEqual(['i2c', 'rng', 'console', 'gpio', 'net']);
    expect(deviceDisplayName(34)).toBe('I2C adapter');
    expect(deviceDisplayName(4)).toBe('entropy source');
    expect(deviceTypeName(14)).toBe('unknown-14');
    expect(deviceTypeName(0)).toBe('reserved');
  });
});

describe('feature bits', () => {
  it('device-independent bits', () => {
    expect(FEATURE.VERSION_1).toBe(32);
    expect(featureName(32)).toBe('VIRTIO_F_VERSION_1');
    expect(featureName(38, 34)).toBe('VIRTIO_F_NOTIFICATION_DATA');
    expect(featureName(43)).toBe('VIRTIO_F_SUSPEND');
  });

  it('device-specific bits', () => {
    expect(featureName(0, 34)).toBe('VIRTIO_I2C_F_ZERO_LENGTH_REQUEST');
    expect(featureName(2, 3)).toBe('VIRTIO_CONSOLE_F_EMERG_WRITE');
    expect(featureName(0, 41)).toBe('VIRTIO_GPIO_F_IRQ');
    expect(featureName(5, 1)).toBe('VIRTIO_NET_F_MAC');
    expect(featureName(70, 1)).toBe('VIRTIO_NET_F_IPSEC');
    expect(featureName(0, 4)).toBe('BIT_0');
    expect(featureName(0)).toBe('BIT_0');
  });

  it('bit 41 is ADMIN_VQ even for net (legacy GUEST_RSC4 cannot occur), 42 is net GUEST_RSC6', () => {
    expect(featureName(41, 1)).toBe('VIRTIO_F_ADMIN_VQ');
    expect(featureName(42, 1)).toBe('VIRTIO_NET_F_GUEST_RSC6');
  });

  it('featureNames lists set bits lowest first', () => {
    expect(featureNames((1n << 32n) | 1n, 34)).toEqual(['VIRTIO_I2C_F_ZERO_LENGTH_REQUEST', 'VIRTIO_F_VERSION_1']);
    expect(featureNames(0n, 34)).toEqual([]);
    expect(featureNames(1n << 100n)).toEqual(['BIT_100']);
  });
});

describe('status bits', () => {
  it('values and names', () => {
    expect(STATUS).toEqual({ ACKNOWLEDGE: 0x01, DRIVER: 0x02, DRIVER_OK: 0x04, FEATURES_OK: 0x08, SUSPEND: 0x10, DEVICE_NEEDS_RESET: 0x40, FAILED: 0x80 });
    expect(statusNames(0x4f)).toEqual(['ACKNOWLEDGE', 'DRIVER', 'DRIVER_OK', 'FEATURES_OK', 'DEVICE_NEEDS_RESET']);
    expect(statusNames(0)).toEqual([]);
    expect(statusNames(0x0b)).toEqual(['ACKNOWLEDGE', 'DRIVER', 'FEATURES_OK']);
    expect(statusNames(0x120)).toEqual(['0x20', '0x100']);
    expect(statusNames(0x80000000)).toEqual(['0x80000000']);
  });
});
