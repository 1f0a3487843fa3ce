import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  deviceJsonSchema,
  deviceToJson,
  isReadOnly,
  METHOD_NAMES,
  parseRequest,
  WORKBENCH_EVENTS,
  type WorkbenchMethod,
} from '../../../src/api/workbench';
import type { DeviceState } from '../../../src/roles/driver/driver';

/** One valid request per method: every method of the contract must be listed here. */
const GOOD: Record<WorkbenchMethod, unknown> = {
  'boards.list': {},
  'profile.validate': { text: '{}', fileName: 'board.json' },
  'session.connect': { board: 'sim-versal', link: 'sim' },
  'session.disconnect': {},
  'session.state': {},
  'session.takeControl': {},
  'device.reset': { devNum: 1 },
  'device.workload': { devNum: 2, kind: 'i2c-transfer', params: { address: 0x54, segments: [{ write: '00 0A ff' }, { read: 3 }] } },
  'device.load': { devNum: 2, kind: 'i2c-transfer', params: { address: 0x54, segments: [{ read: 1 }] }, count: null },
  'device.stopLoad': { devNum: 2 },
  'console.open': { devNum: 3 },
  'console.write': { devNum: 3, text: 'ls\n' },
  'console.close': { devNum: 3 },
  'queue.inspect': { devNum: 0, queue: 0 },
  'queue.buffer': { devNum: 0, queue: 0, desc: 127 },
  'trace.info': {},
  'trace.rows': { from: 0, count: 100, filter: 'dev == 1' },
  'trace.record': { seq: 42 },
  'trace.records': { from: 0, max: 1000 },
  'trace.window': { fromNs: 0, toNs: 1_000_000, buckets: 800, series: 'latency', dev: 1, queue: 0 },
  'trace.stats': { filter: '' },
  'trace.expert': {},
  'trace.transactions': { kind: 'requests', from: 0, count: 50 },
  'trace.bookmark': { text: 'before the reset' },
  'trace.export': { format: 'pcapng', out: '/tmp/x.pcapng', fromNs: 0, toNs: 5 },
  'trace.cancelExport': {},
  'capture.open': { path: '/tmp/capture' },
  'capture.recent': {},
};

function error(method: unknown, params: unknown) {
  const r = parseRequest(method, params);
  if (r.ok) throw new Error(`expected ${String(method)} ${JSON.stringify(params)} to be rejected`);
  return r.error;
}

describe('Workbench API requests', () => {
  it('accepts a good request for every method', () => {
    expect(Object.keys(GOOD).sort()).toEqual([...METHOD_NAMES].sort());
    for (const m of METHOD_NAMES) {
      const r = parseRequest(m, GOOD[m]);
      expect(r.ok, `${m}: ${r.ok ? '' : r.error.message}`).toBe(true);
    }
  });

  it('decodes hex bytes of workload params', () => {
    const r = parseRequest('device.workload', GOOD['device.workload']);
    if (!r.ok || r.value.method !== 'device.workload' || r.value.params.kind !== 'i2c-transfer') throw new Error('not parsed');
    expect(r.value.params.params.segments[0]).toEqual({ write: Uint8Array.of(0x00, 0x0a, 0xff) });
  });

  it.each([
    ['device.load', { devNum: 2, kind: 'rng-read', params: { bytes: 4 } }, 'params.count', /^count: expected/],
    ['device.load', { devNum: 2, kind: 'rng-read', params: { bytes: 4 }, count: 0 }, 'params.count', /expected at least 1, saw 0/],
    ['device.load', { devNum: 2, kind: 'rng-read', params: { bytes: 0 }, count: 1 }, 'params.params.bytes', /saw 0/],
    ['console.write', { devNum: 3, text: '' }, 'params.text', /saw ""/],
    ['queue.buffer', { devNum: 0, queue: 0, desc: 0x8000 }, 'params.desc', /saw 32768/],
    ['device.reset', { devNum: -1 }, 'params.devNum', /expected at least 0, saw -1/],
    ['device.reset', { devNum: '1' }, 'params.devNum', /expected a number, saw "1"/],
    ['device.reset', {}, 'params.devNum', /saw nothing/],
    ['device.reset', { devNum: 1, force: true }, 'params.force', /unknown field\(s\) "force"/],
    ['trace.rows', { from: 0, count: 0 }, 'params.count', /expected at least 1, saw 0/],
    ['trace.rows', { from: 1.5, count: 10 }, 'params.from', /expected an integer, saw 1.5/],
    ['trace.window', { fromNs: 10, toNs: 10, buckets: 4, series: 'messages' }, 'params.toNs', /expected toNs greater than fromNs/],
    ['trace.window', { fromNs: 0, toNs: 10, buckets: 4, series: 'frames' }, 'params.series', /expected one of "messages", "bytes", "latency", "occupancy", "records", saw "frames"/],
    ['trace.export', { format: 'pcap', out: '/x' }, 'params.format', /saw "pcap"/],
    ['session.connect', { board: 'a', profileText: '{}' }, 'params.profileText', /either board or profileText/],
    ['device.workload', { devNum: 0, kind: 'spi-transfer', params: {} }, 'params.kind', /expected one of "i2c-transfer", "rng-read", "console-send"/],
    ['device.workload', { devNum: 0, kind: 'rng-read', params: { bytes: 0 } }, 'params.params.bytes', /saw 0/],
    ['device.workload', { devNum: 0, kind: 'i2c-transfer', params: { address: 0x54, segments: [{ write: 'xyz' }] } }, 'params.params.segments[0].write', /expected hex bytes such as "0a 1b 2c", saw "xyz"/],
    ['device.workload', { devNum: 0, kind: 'i2c-transfer', params: { address: 0x54, segments: [{ wrote: '00' }] } }, 'params.params.segments[0]', /expected a segment \{"write": "hex bytes"\} or \{"read": length 1..4096\}/],
    ['profile.validate', { text: '{}' }, 'params.fileName', /saw nothing/],
  ])('%s %j is rejected at %s', (method, params, field, message) => {
    const e = error(method, params);
    expect(e.code).toBe('bad-request');
    expect(e.field).toBe(field);
    expect(e.message).toMatch(message);
    // The message names the field as the caller wrote it, never the API method (that is in `method`).
    expect(e.message.startsWith(`${field.replace(/^params\./, '')}: `)).toBe(true);
    expect(e.method).toBe(method);
  });

  it('rejects unknown methods as a version mismatch, without listing the API', () => {
    for (const m of ['trace.drop', 'constructor', '__proto__', 42, null]) {
      const e = error(m, {});
      expect(e.code).toBe('unknown-method');
      expect(e.message).toMatch(/the workbench does not know the request .*reload the page/);
      expect(e.message).not.toMatch(/boards\.list/);
    }
  });

  it('never throws on any input, and every rejection names a field', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...METHOD_NAMES), fc.string()), fc.jsonValue(), (method, params) => {
        const r = parseRequest(method, params);
        if (!r.ok) {
          expect(r.error.field).toMatch(/^(method|params)/);
          expect(r.error.message.length).toBeGreaterThan(10);
        }
      }),
    );
  });

  it('lets viewers call only methods that read', () => {
    const writes = METHOD_NAMES.filter((m) => !isReadOnly(m)).sort();
    expect(writes).toEqual([
      'capture.open',
      'console.close',
      'console.open',
      'console.write',
      'device.load',
      'device.reset',
      'device.stopLoad',
      'device.workload',
      'session.connect',
      'session.disconnect',
      'trace.bookmark',
      'trace.cancelExport',
      'trace.export',
    ]);
  });

  it('has a schema for every event', () => {
    expect(WORKBENCH_EVENTS['trace.appended'].safeParse({ count: 3, total: 10 }).success).toBe(true);
    expect(WORKBENCH_EVENTS['trace.appended'].safeParse({ count: -1, total: 10 }).success).toBe(false);
    expect(WORKBENCH_EVENTS['session.stage'].safeParse({ stage: 'ready', detail: 'peer ready' }).success).toBe(true);
  });
});

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

function device(over: Partial<DeviceState> = {}): DeviceState {
  const d: DeviceState = {
    devNum: 1,
    phase: 'ready',
    deviceId: 34,
    deviceType: 'i2c',
    vendorId: 0x554d4551,
    uuid: null,
    status: 0x0f,
    featuresOffered: (1n << 32n) | 1n,
    featuresNegotiated: 1n << 32n,
    configSize: 0,
    config: new Uint8Array(0),
    generation: 0,
    maxVirtqueues: 1,
    queues: [{ index: 0, name: 'requestq', size: 64, maxSize: 256, descAddr: 0x4000_0000n, driverAddr: 0x4000_0400n, deviceAddr: 0xffff_ffff_ffff_f000n, usedEvents: 3 }],
    shm: [{ shmid: 0, length: 0x1000n, address: 0x8000_0000_0000n }],
    findings: [],
  };
  return Object.assign(d, over);
}

/** True when a value holds only what JSON carries unchanged. */
function jsonSafe(v: unknown): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(jsonSafe);
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) return Object.values(v as object).every(jsonSafe);
  return false;
}

describe('DeviceState as JSON', () => {
  it('turns bigints into hex strings, names status and feature bits, and keeps nothing JSON cannot carry', () => {
    const j = deviceToJson(device({ error: 'x' }));
    expect(jsonSafe(j)).toBe(true);
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
    expect(j.featuresOffered).toBe('0x100000001');
    expect(j.statusNames).toEqual(['ACKNOWLEDGE', 'DRIVER', 'DRIVER_OK', 'FEATURES_OK']);
    expect(j.features).toEqual([
      { bit: 0, name: 'VIRTIO_I2C_F_ZERO_LENGTH_REQUEST', offered: true, negotiated: false },
      { bit: 32, name: 'VIRTIO_F_VERSION_1', offered: true, negotiated: true },
    ]);
    expect(j.queues[0]!.deviceAddr).toBe('0xfffffffffffff000');
    expect(j.vendorId).toBe('0x554d4551');
    expect(j.shm).toEqual([{ shmid: 0, length: '0x1000', address: '0x800000000000' }]);
    expect(j.error).toBe('x');
    expect(deviceToJson(device()).error).toBeNull();
  });

  it('round-trips any feature set, address and config image through JSON', () => {
    fc.assert(
      fc.property(u64, u64, u64, fc.uint8Array({ maxLength: 64 }), (offered, negotiated, addr, config) => {
        const d = device({ featuresOffered: offered, featuresNegotiated: negotiated, config, configSize: config.length, deviceId: 3, deviceType: 'console' });
        d.queues[0]!.descAddr = addr;
        const j = deviceToJson(d);
        expect(jsonSafe(j)).toBe(true);
        expect(deviceJsonSchema.parse(JSON.parse(JSON.stringify(j)))).toEqual(j);
        expect(BigInt(j.featuresOffered)).toBe(offered);
        expect(BigInt(j.featuresNegotiated)).toBe(negotiated);
        expect(BigInt(j.queues[0]!.descAddr)).toBe(addr);
        expect(j.config).toBe(Buffer.from(config).toString('hex'));
        expect(j.features.filter((f) => f.offered).length).toBe(offered.toString(2).replaceAll('0', '').length);
      }),
    );
  });
});
