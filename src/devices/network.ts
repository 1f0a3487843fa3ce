/** virtio-net, the network device (device id 1): feature bits and config layout only (Appendix D); no driver or model. */
import { DEVICE_ID } from '../protocol/names';
import type { DeviceDescriptor } from './descriptor';

/**
 * virtio-net's feature bits. The legacy GUEST_RSC4 (41) is left out: virtio-msg is modern-only,
 * where bit 41 is VIRTIO_F_ADMIN_VQ.
 */
export const NET_FEATURE = {
  CSUM: 0, GUEST_CSUM: 1, CTRL_GUEST_OFFLOADS: 2, MTU: 3, MAC: 5, GSO: 6, GUEST_TSO4: 7, GUEST_TSO6: 8,
  GUEST_ECN: 9, GUEST_UFO: 10, HOST_TSO4: 11, HOST_TSO6: 12, HOST_ECN: 13, HOST_UFO: 14, MRG_RXBUF: 15,
  STATUS: 16, CTRL_VQ: 17, CTRL_RX: 18, CTRL_VLAN: 19, CTRL_RX_EXTRA: 20, GUEST_ANNOUNCE: 21, MQ: 22,
  CTRL_MAC_ADDR: 23, GUEST_RSC6: 42, DEVICE_STATS: 50, HASH_TUNNEL: 51, VQ_NOTF_COAL: 52, NOTF_COAL: 53,
  GUEST_USO4: 54, GUEST_USO6: 55, HOST_USO: 56, HASH_REPORT: 57, GUEST_HDRLEN: 59, RSS: 60, RSC_EXT: 61,
  STANDBY: 62, SPEED_DUPLEX: 63, RSS_CONTEXT: 64, GUEST_UDP_TUNNEL_GSO: 65, GUEST_UDP_TUNNEL_GSO_CSUM: 66,
  HOST_UDP_TUNNEL_GSO: 67, HOST_UDP_TUNNEL_GSO_CSUM: 68, OUT_NET_HEADER: 69, IPSEC: 70,
} as const;

const { MTU, MAC, STATUS, MQ, HASH_TUNNEL, HASH_REPORT, RSS, SPEED_DUPLEX } = NET_FEATURE;

export const NET_DEVICE = {
  id: DEVICE_ID.NET,
  name: 'net',
  features: NET_FEATURE,
  config: [
    { name: 'mac', offset: 0, size: 6, type: 'mac', validWhen: [MAC] },
    { name: 'status', offset: 6, size: 2, type: 'le16', validWhen: [STATUS] },
    { name: 'max_virtqueue_pairs', offset: 8, size: 2, type: 'le16', validWhen: [MQ, RSS] },
    { name: 'mtu', offset: 10, size: 2, type: 'le16', validWhen: [MTU] },
    { name: 'speed', offset: 12, size: 4, type: 'le32', validWhen: [SPEED_DUPLEX] },
    { name: 'duplex', offset: 16, size: 1, type: 'u8', validWhen: [SPEED_DUPLEX] },
    { name: 'rss_max_key_size', offset: 17, size: 1, type: 'u8', validWhen: [RSS, HASH_REPORT] },
    { name: 'rss_max_indirection_table_length', offset: 18, size: 2, type: 'le16', validWhen: [RSS] },
    { name: 'supported_hash_types', offset: 20, size: 4, type: 'le32', validWhen: [RSS, HASH_REPORT] },
    { name: 'supported_tunnel_types', offset: 24, size: 4, type: 'le32', validWhen: [HASH_TUNNEL] },
  ],
  workloads: [],
} satisfies DeviceDescriptor;
