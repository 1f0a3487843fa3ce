/** Name tables: Appendix A device types, Appendix B feature bits, Appendix C status bits. */
import { describe, expect, it } from 'vitest';
import { DEVICE_ID, FEATURE, STATUS, deviceDisplayName, commonFeatureName, deviceTypeName, statusNames } from '../../../src/protocol/names';

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
    expect(commonFeatureName(32)).toBe('VIRTIO_F_VERSION_1');
    expect(commonFeatureName(43)).toBe('VIRTIO_F_SUSPEND');
    // Device-specific bits are named by each device type (src/devices/registry).
    expect(commonFeatureName(0)).toBeUndefined();
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
