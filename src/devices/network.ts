/** virtio-net, the network device (device id 1): config layout only (Appendix D). */
import { DEVICE_FEATURE } from '../protocol/names';
import type { ConfigFieldSpec } from './config';

const { MTU, MAC, STATUS, MQ, HASH_TUNNEL, HASH_REPORT, RSS, SPEED_DUPLEX } = DEVICE_FEATURE.NET;

export const NET_CONFIG: readonly ConfigFieldSpec[] = [
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
];
