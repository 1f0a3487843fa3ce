import { describe, expect, it } from 'vitest';
import { decodeConfig } from '../../../src/devices/config';
import { CONSOLE_FEATURE, ConsoleDeviceModel } from '../../../src/devices/console';
import { I2cDeviceModel } from '../../../src/devices/i2c';
import { NET_FEATURE } from '../../../src/devices/network';
import { simulatedDevice } from '../../../src/devices/registry';
import { DEVICE_ID } from '../../../src/protocol/names';
import { parseHex } from '../../../src/util/hex';

const hex = (t: string) => parseHex(t)!;
const bit = (n: number) => 1n << BigInt(n);

describe('decodeConfig', () => {
  it('console: cols, rows, max_nr_ports, emerg_wr with validity from the features', () => {
    const bytes = hex('50 00 19 00 02 00 00 00 00 00 00 00');
    expect(decodeConfig(DEVICE_ID.CONSOLE, bytes, bit(CONSOLE_FEATURE.SIZE))).toEqual([
      { name: 'cols', offset: 0, size: 2, type: 'le16', value: 80, valid: true, validWhen: 'VIRTIO_CONSOLE_F_SIZE' },
      { name: 'rows', offset: 2, size: 2, type: 'le16', value: 25, valid: true, validWhen: 'VIRTIO_CONSOLE_F_SIZE' },
      { name: 'max_nr_ports', offset: 4, size: 4, type: 'le32', value: 2, valid: false, validWhen: 'VIRTIO_CONSOLE_F_MULTIPORT' },
      { name: 'emerg_wr', offset: 8, size: 4, type: 'le32', value: 0, valid: false, validWhen: 'VIRTIO_CONSOLE_F_EMERG_WRITE' },
    ]);
    expect(decodeConfig(DEVICE_ID.CONSOLE, bytes)!.map((f) => f.valid)).toEqual([null, null, null, null]);
  });

  it('gpio: ngpio, padding, gpio_names_size (always valid)', () => {
    expect(decodeConfig(DEVICE_ID.GPIO, hex('20 00 00 00 40 01 00 00'), 0n)).toEqual([
      { name: 'ngpio', offset: 0, size: 2, type: 'le16', value: 32, valid: true, validWhen: null },
      { name: 'padding', offset: 2, size: 2, type: 'padding', value: '00 00', valid: true, validWhen: null },
      { name: 'gpio_names_size', offset: 4, size: 4, type: 'le32', value: 320, valid: true, validWhen: null },
    ]);
  });

  it('net: the Appendix D fields, MQ-or-RSS validity, and a short config_size', () => {
    const bytes = hex('52 54 00 12 34 56 01 00 04 00 dc 05 10 27 00 00 01 28 80 00 ff 01 00 00 00 00 00 00');
    const f = bit(NET_FEATURE.MAC) | bit(NET_FEATURE.STATUS) | bit(NET_FEATURE.RSS) | bit(NET_FEATURE.MTU);
    const fields = decodeConfig(DEVICE_ID.NET, bytes, f)!;
    expect(fields.map((x) => [x.name, x.value, x.valid])).toEqual([
      ['mac', '52:54:00:12:34:56', true],
      ['status', 1, true],
      ['max_virtqueue_pairs', 4, true],
      ['mtu', 1500, true],
      ['speed', 10000, false],
      ['duplex', 1, false],
      ['rss_max_key_size', 40, true],
      ['rss_max_indirection_table_length', 128, true],
      ['supported_hash_types', 0x1ff, true],
      ['supported_tunnel_types', 0, false],
    ]);
    expect(fields[2]!.validWhen).toBe('VIRTIO_NET_F_MQ or VIRTIO_NET_F_RSS');
    expect(fields[4]!.validWhen).toBe('VIRTIO_NET_F_SPEED_DUPLEX');
    expect(decodeConfig(DEVICE_ID.NET, bytes.subarray(0, 10))!.map((x) => x.name)).toEqual(['mac', 'status', 'max_virtqueue_pairs']);
  });

  it('i2c and rng have no config space; unknown types have no layout', () => {
    expect(decodeConfig(DEVICE_ID.I2C, new Uint8Array(0))).toEqual([]);
    expect(decodeConfig(DEVICE_ID.RNG, new Uint8Array(4))).toEqual([]);
    expect(decodeConfig(DEVICE_ID.BLOCK, new Uint8Array(8))).toBeNull();
  });

  it('decodes what the console model serves', () => {
    const m = new ConsoleDeviceModel({ cols: 132, rows: 43 });
    const fields = decodeConfig(m.deviceId, m.readConfig(0, m.configSize), m.offeredFeatures)!;
    expect(fields.slice(0, 2).map((x) => x.value)).toEqual([132, 43]);
  });
});

describe('simulatedDevice', () => {
  it('builds each kind with VERSION_1 offered', () => {
    const models = ['i2c', 'rng', 'console'].map((name) => simulatedDevice(name, { seed: 1 }));
    expect(models.map((m) => m.deviceId)).toEqual([DEVICE_ID.I2C, DEVICE_ID.RNG, DEVICE_ID.CONSOLE]);
    for (const m of models) {
      expect(m.offeredFeatures & bit(32)).toBe(bit(32));
      expect(m.configGeneration).toBe(0);
      expect(m.acceptFeatures(m.offeredFeatures)).toBe(true);
      expect((m as { negotiatedFeatures?: bigint }).negotiatedFeatures).toBe(m.offeredFeatures);
      expect(m.acceptFeatures(bit(29))).toBe(false); // EVENT_IDX not offered
      expect(m.acceptFeatures(0n)).toBe(true);
    }
    expect(simulatedDevice('i2c', { seed: 1, queueMaxSize: 64, vendorId: 0x1234 })).toMatchObject({ vendorId: 0x1234 });
    expect(new I2cDeviceModel({ queueMaxSize: 64 }).queueMaxSize(0)).toBe(64);
  });

  it('treats serving a queue the device does not have as a programmer error', async () => {
    const m = simulatedDevice('rng', { seed: 1 });
    await expect(m.process(1, null as never, null as never)).rejects.toThrow(/has no queue 1/);
  });
});
