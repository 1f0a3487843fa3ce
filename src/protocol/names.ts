/**
 * Name tables of the virtio core that virtio-msg carries: device types (docs/protocol.md
 * Appendix A), feature bits (Appendix B) and device status bits (Appendix C), all from [CORE]
 * virtio-v1.4-cs01.
 */

/** [key, id, short name, display name] per Appendix A. */
const DEVICE_TYPES = [
  ['RESERVED', 0, 'reserved', 'reserved (invalid)'],
  ['NET', 1, 'net', 'network'],
  ['BLOCK', 2, 'block', 'block'],
  ['CONSOLE', 3, 'console', 'console'],
  ['RNG', 4, 'rng', 'entropy source'],
  ['BALLOON', 5, 'balloon', 'memory balloon (traditional)'],
  ['IOMEM', 6, 'iomem', 'ioMemory'],
  ['RPMSG', 7, 'rpmsg', 'rpmsg'],
  ['SCSI', 8, 'scsi', 'SCSI host'],
  ['9P', 9, '9p', '9P transport'],
  ['MAC80211_WLAN', 10, 'mac80211-wlan', 'mac80211 wlan'],
  ['RPROC_SERIAL', 11, 'rproc-serial', 'rproc serial'],
  ['CAIF', 12, 'caif', 'virtio CAIF'],
  ['MEMORY_BALLOON', 13, 'memory-balloon', 'memory balloon'],
  ['GPU', 16, 'gpu', 'GPU'],
  ['RTC', 17, 'rtc', 'RTC'],
  ['INPUT', 18, 'input', 'input'],
  ['VSOCK', 19, 'vsock', 'socket (vsock)'],
  ['CRYPTO', 20, 'crypto', 'crypto'],
  ['SIGNAL_DIST', 21, 'signal-dist', 'signal distribution module'],
  ['PSTORE', 22, 'pstore', 'pstore'],
  ['IOMMU', 23, 'iommu', 'IOMMU'],
  ['MEM', 24, 'mem', 'memory'],
  ['SOUND', 25, 'sound', 'sound'],
  ['FS', 26, 'fs', 'file system (virtio-fs)'],
  ['PMEM', 27, 'pmem', 'PMEM'],
  ['RPMB', 28, 'rpmb', 'RPMB'],
  ['MAC80211_HWSIM', 29, 'mac80211-hwsim', 'mac80211 hwsim'],
  ['VIDEO_ENCODER', 30, 'video-encoder', 'video encoder'],
  ['VIDEO_DECODER', 31, 'video-decoder', 'video decoder'],
  ['SCMI', 32, 'scmi', 'SCMI'],
  ['NITRO_SEC_MOD', 33, 'nsm', 'NitroSecureModule'],
  ['I2C', 34, 'i2c', 'I2C adapter'],
  ['WATCHDOG', 35, 'watchdog', 'watchdog'],
  ['CAN', 36, 'can', 'CAN'],
  ['PARAM_SERV', 38, 'param-server', 'parameter server'],
  ['AUDIO_POLICY', 39, 'audio-policy', 'audio policy'],
  ['BT', 40, 'bt', 'Bluetooth'],
  ['GPIO', 41, 'gpio', 'GPIO'],
  ['RDMA', 42, 'rdma', 'RDMA'],
  ['CAMERA', 43, 'camera', 'camera'],
  ['ISM', 44, 'ism', 'ISM'],
  ['SPI', 45, 'spi', 'SPI controller'],
  ['TEE', 46, 'tee', 'TEE'],
  ['CPU_BALLOON', 47, 'cpu-balloon', 'CPU balloon'],
  ['MEDIA', 48, 'media', 'media'],
  ['USB', 49, 'usb', 'USB controller'],
] as const;

type DeviceRow = (typeof DEVICE_TYPES)[number];
type DeviceIds = { readonly [R in DeviceRow as R[0]]: R[1] };

/** Virtio device type ids (what GET_DEVICE_INFO device_id reports). ENTROPY is RNG's core name. */
export const DEVICE_ID: DeviceIds & { readonly ENTROPY: 4 } = {
  ...(Object.fromEntries(DEVICE_TYPES.map(([key, id]) => [key, id])) as DeviceIds),
  ENTROPY: 4,
};

const BY_ID = new Map<number, DeviceRow>(DEVICE_TYPES.map((row) => [row[1], row]));

/** Short name of a device type: 34 → 'i2c'; unassigned ids → 'unknown-14'. */
export function deviceTypeName(id: number): string {
  return BY_ID.get(id)?.[2] ?? `unknown-${id}`;
}

/** Display name of a device type: 34 → 'I2C adapter'. */
export function deviceDisplayName(id: number): string {
  return BY_ID.get(id)?.[3] ?? `unknown device type ${id}`;
}

/** Device-independent feature bits (Appendix B, [CORE] "Reserved Feature Bits"), named VIRTIO_F_<key>. */
export const FEATURE = {
  NOTIFY_ON_EMPTY: 24,
  ANY_LAYOUT: 27,
  INDIRECT_DESC: 28,
  EVENT_IDX: 29,
  VERSION_1: 32,
  ACCESS_PLATFORM: 33,
  RING_PACKED: 34,
  IN_ORDER: 35,
  ORDER_PLATFORM: 36,
  SR_IOV: 37,
  NOTIFICATION_DATA: 38,
  NOTIF_CONFIG_DATA: 39,
  RING_RESET: 40,
  ADMIN_VQ: 41,
  SUSPEND: 43,
} as const;

const COMMON_NAMES = new Map<number, string>(Object.entries(FEATURE).map(([key, bit]) => [bit, `VIRTIO_F_${key}`]));

/**
 * Name of a device-independent feature bit (32 → 'VIRTIO_F_VERSION_1'); undefined for a bit in
 * the device-specific ranges, which each device type names (src/devices/registry featureName).
 */
export function commonFeatureName(bit: number): string | undefined {
  return COMMON_NAMES.get(bit);
}

/** Device status bits (Appendix C). Writing 0 resets the device. */
export const STATUS = {
  ACKNOWLEDGE: 0x01,
  DRIVER: 0x02,
  DRIVER_OK: 0x04,
  FEATURES_OK: 0x08,
  SUSPEND: 0x10,
  DEVICE_NEEDS_RESET: 0x40,
  FAILED: 0x80,
} as const;

const STATUS_NAMES = new Map<number, string>(Object.entries(STATUS).map(([name, bit]) => [bit, name]));

/** Names of the set status bits, lowest first; undefined bits as hex: 0x4f → ACKNOWLEDGE, DRIVER, DRIVER_OK, FEATURES_OK, DEVICE_NEEDS_RESET. */
/** The feature set holding only bit `n`: featureBit(FEATURE.VERSION_1) is 1n << 32n. */
export function featureBit(n: number): bigint {
  return 1n << BigInt(n);
}

export function statusNames(status: number): string[] {
  const names: string[] = [];
  for (let bit = 1; bit <= status && bit <= 0x80000000; bit *= 2) {
    if (Math.floor(status / bit) % 2 === 1) names.push(STATUS_NAMES.get(bit) ?? '0x' + bit.toString(16));
  }
  return names;
}
