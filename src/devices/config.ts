/**
 * The shape of a config-space layout (docs/protocol.md Appendix D; each device type's descriptor
 * holds its own) and a decoder that names each field of a GET_CONFIG image, with whether the
 * negotiated features make it meaningful.
 */
import { featureBit } from '../protocol/names';
import { toHex } from '../util/hex';
import { deviceDescriptor, featureName } from './registry';

export type ConfigFieldType = 'u8' | 'le16' | 'le32' | 'mac' | 'padding';

export interface ConfigFieldSpec {
  name: string;
  offset: number;
  size: number;
  type: ConfigFieldType;
  /** Feature bits: the field means something when any of them is negotiated; always when absent. */
  validWhen?: readonly number[];
}

export interface ConfigField {
  name: string;
  offset: number;
  size: number;
  type: ConfigFieldType;
  /** Integers as numbers; a MAC as "52:54:00:12:34:56"; padding as hex bytes. */
  value: number | string;
  /** Whether the negotiated features make the field valid; null when features were not given. */
  valid: boolean | null;
  /** "VIRTIO_NET_F_MQ or VIRTIO_NET_F_RSS", or null for a field that is always valid. */
  validWhen: string | null;
}

function fieldValue(bytes: Uint8Array, spec: ConfigFieldSpec): number | string {
  const v = new DataView(bytes.buffer, bytes.byteOffset + spec.offset, spec.size);
  switch (spec.type) {
    case 'u8':
      return v.getUint8(0);
    case 'le16':
      return v.getUint16(0, true);
    case 'le32':
      return v.getUint32(0, true);
    case 'mac':
      return toHex(bytes.subarray(spec.offset, spec.offset + spec.size), ':');
    case 'padding':
      return toHex(bytes.subarray(spec.offset, spec.offset + spec.size), ' ');
  }
}

/**
 * Names the fields of a config-space image for `deviceId`. Fields not wholly inside `bytes`
 * (a device with a shorter config_size) are left out; null for a device type with no known layout.
 */
export function decodeConfig(deviceId: number, bytes: Uint8Array, negotiatedFeatures?: bigint): ConfigField[] | null {
  const layout = deviceDescriptor(deviceId)?.config;
  if (!layout) return null;
  return layout
    .filter((spec) => spec.offset + spec.size <= bytes.length)
    .map((spec) => {
      const when = spec.validWhen ?? null;
      const valid = when === null ? true : negotiatedFeatures === undefined ? null : when.some((b) => (negotiatedFeatures & featureBit(b)) !== 0n);
      return {
        name: spec.name,
        offset: spec.offset,
        size: spec.size,
        type: spec.type,
        value: fieldValue(bytes, spec),
        valid,
        validWhen: when && when.map((b) => featureName(b, deviceId)).join(' or '),
      };
    });
}
