/**
 * GET_SHM during bring-up (docs/protocol.md §6.10): regions a device offers land in its
 * state, length 0 means none, and a peer that never answers (QEMU before PoC-v2, §16.1) costs
 * one timeout per session and a finding instead of the device.
 */
import { afterEach, describe, expect, it } from 'vitest';

import type { BusEndpoint, WireMessage } from '../../../../src/bus/endpoint';
import type { DeviceModel, SharedMemoryRegion } from '../../../../src/devices/model';
import { RngDeviceModel } from '../../../../src/devices/rng';
import { Driver } from '../../../../src/roles/driver/driver';
import type { DriverPort } from '../../../../src/roles/driver/port';
import { decode } from '../../../../src/protocol/index';
import type { BoardProfile } from '../../../../src/api/boardProfile';
import { nodeRuntime } from '../../../../main/host/runtime';
import { builtin, inThreadBoard, type InThreadBoard } from './harness';

let open: InThreadBoard | null = null;
afterEach(async () => {
  await open?.close();
  open = null;
});

const quick = (p: BoardProfile): BoardProfile => ({ ...p, bus: { ...p.bus, timeouts: { ...p.bus.timeouts, responseMs: 100 } } });

function rngWith(sharedMemory: SharedMemoryRegion[]): DeviceModel {
  return Object.assign(new RngDeviceModel({ seed: 5 }), { sharedMemory });
}

/** The GET_SHM requests the driver put on the wire, decoded. */
function shmRequests(seen: WireMessage[], board: InThreadBoard) {
  const rev = board.profile.bus.revision;
  return seen
    .filter((m) => m.direction === 'driver-to-device')
    .map((m) => decode(m.bytes, rev).msg!)
    .filter((m) => m.name === 'GET_SHM');
}

describe.each([
  // R4 carries le64 length/address; R3 le32 (§6.10).
  { id: 'sim-qemu-amp-pci', region: { shmid: 0, length: 0x1_0000_0000n, address: 0x8_0000_0000n } },
  { id: 'sim-versal', region: { shmid: 0, length: 0x100000n, address: 0x80000000n } },
])('GET_SHM on $id', ({ id, region }) => {
  it('records the region a device offers', async () => {
    open = await inThreadBoard(builtin(id));
    await open.board.server.addDevice(7, rngWith([region]));
    const s = await open.session.driver.bringUp(7);
    expect(s.phase, s.error).toBe('ready');
    expect(s.shm).toEqual([region]);
    expect(s.findings).toEqual([]);
  });

  it('records no region for length 0, asking shmid 0 once per device after the config read', async () => {
    const seen: WireMessage[] = [];
    open = await inThreadBoard(builtin(id), { observer: { onMessage: (m) => seen.push(m) } });
    const r = await open.session.probe();
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.map((d) => [d.phase, d.shm, d.findings])).toEqual(r.value.map(() => ['ready', [], []]));
    const asked = shmRequests(seen, open);
    expect(asked.map((m) => [m.devNum, m.fields[m.revision === 'r4' ? 'shmid' : 'index']])).toEqual(r.value.map((d) => [d.devNum, 0]));
    expect(open.session.driver.busFindings()).toEqual([]);
  });
});

describe('GET_SHM from a peer that never answers it (QEMU before PoC-v2)', () => {
  it('brings every device up, asks once per session, and reports it on the device and the bus', async () => {
    const seen: WireMessage[] = [];
    open = await inThreadBoard(quick(builtin('sim-qemu-amp-pci')), { observer: { onMessage: (m) => seen.push(m) } });
    open.board.server.silentGetShm = true;
    const r = await open.session.probe();
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.map((d) => [d.devNum, d.phase, d.shm])).toEqual([
      [0, 'ready', []],
      [1, 'ready', []],
      [2, 'ready', []],
    ]);
    expect(r.value[0]!.findings).toEqual(['GET_SHM shmid 0 not answered within 100 ms; QEMU before PoC-v2 does not answer GET_SHM: treated as no shared-memory regions']);
    for (const d of r.value.slice(1)) {
      expect(d.findings).toEqual(['GET_SHM not asked: dev_num 0 left it unanswered on this bus; treated as no shared-memory regions']);
    }
    expect(open.session.driver.busFindings()).toEqual(['GET_SHM went unanswered (dev_num 0): later devices on this bus are not asked and have no shared-memory regions']);
    // A reset and re-initialisation does not ask again either.
    expect((await open.session.driver.reset(0)).phase).toBe('ready');
    expect(shmRequests(seen, open)).toHaveLength(1);
    expect(open.log.filter((l) => l.includes('GET_SHM'))).toEqual(['dropped: GET_SHM 0: not answered (playing QEMU before PoC-v2)']);
    expect(open.session.driver.state(0)!.findings).toHaveLength(1);
  });
});

describe('GET_SHM answers that cannot be used are findings', () => {
  /** A second driver over the same board, its port rewriting GET_SHM responses. */
  function tamperedDriver(board: InThreadBoard, tamper: (response: Uint8Array) => Uint8Array): Driver {
    const endpoint: BusEndpoint = board.session.endpoint;
    const rev = board.profile.bus.revision;
    const port: DriverPort = {
      async request(bytes, timeoutMs) {
        const r = await endpoint.request(bytes, { timeoutMs });
        if (!r.ok) return { ok: false, error: r.error.message };
        return { ok: true, value: decode(r.value, rev).msg?.name === 'GET_SHM' ? tamper(r.value) : r.value, latencyNs: r.latencyNs };
      },
      async post(bytes) {
        const r = await endpoint.send(bytes);
        return r.ok ? r : { ok: false, error: r.error.message };
      },
      onEvent: () => () => undefined,
      poll: () => endpoint.drain(),
    };
    const link = board.session.link;
    return new Driver({ port, revision: rev, maxMessageSize: board.profile.bus.maxMessageSize, responseTimeoutMs: 500, data: { window: link.dataWindow, peerBase: link.dataPeerBase }, runtime: nodeRuntime });
  }

  it.each([
    // R4 response: shmid at byte 8 (§6.10).
    ['answered for another shmid', (b: Uint8Array) => b.map((v, i) => (i === 8 ? 5 : v)), /^GET_SHM shmid 0: GET_SHM asked for shmid 0, the device answered for shmid 5; treated as no shared-memory regions$/],
    ['cut short', (b: Uint8Array) => b.slice(0, 20), /^GET_SHM shmid 0: malformed GET_SHM response \(dev_num \d, token 0x[0-9a-f]{4}\): .*; treated as no shared-memory regions$/],
  ])('an answer %s: the device still reaches DRIVER_OK and later devices are still asked', async (_what, tamper, finding) => {
    const seen: WireMessage[] = [];
    open = await inThreadBoard(builtin('sim-qemu-amp-pci'), { observer: { onMessage: (m) => seen.push(m) } });
    const driver = tamperedDriver(open, tamper);
    const r = await driver.probeAll();
    driver.close();
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.map((d) => d.phase)).toEqual(['ready', 'ready', 'ready']);
    for (const d of r.value) {
      expect(d.shm).toEqual([]);
      expect(d.findings).toHaveLength(1);
      expect(d.findings[0]).toMatch(finding);
    }
    expect(shmRequests(seen, open)).toHaveLength(3);
    expect(driver.busFindings()).toEqual([]);
  });
});

describe('GET_SHM on the device side', () => {
  it('answers a region beyond R3 le32 fields as absent, and says so in its log', async () => {
    open = await inThreadBoard(builtin('sim-versal'));
    await open.board.server.addDevice(7, rngWith([{ shmid: 0, length: 0x1000n, address: 0x1_0000_0000n }]));
    const s = await open.session.driver.bringUp(7);
    expect([s.phase, s.shm, s.findings]).toEqual(['ready', [], []]);
    expect(open.log).toContain("dropped: GET_SHM 0: region at 0x100000000 (+0x1000) does not fit r3's le32 fields; answered absent");
  });
});
