import { describe, expect, it } from 'vitest';

import { parseBoardProfile } from '../../../src/api/boardProfile';
import { BUILTIN_PROFILES, DEFAULT_BOARD } from '../../../src/boards/builtin';
import { queueGeometry } from '../../../src/boards/geometry';

/** A minimal valid profile as it would be written in a JSON file. */
function raw(): Record<string, unknown> {
  return {
    schema: 'amp-board-profile/0',
    id: 'my-board',
    description: 'test',
    hostRole: 'driver',
    access: { kind: 'sim' },
    regions: [
      { name: 'bar1', source: { sim: 'bar1' }, size: '0x4000' },
      { name: 'ram', source: { sim: 'ram' }, size: 65536 },
    ],
    bus: { format: 'vmamp-shmem-v1', region: 'bar1', offset: '0x1000', size: '0x2000', revision: 'r4', maxMessageSize: 64, handshake: 'vmamp-v1' },
    doorbellOut: { kind: 'sim' },
    doorbellIn: { kind: 'sim' },
    dataMemory: { region: 'ram', addressMode: 'guest-physical', peerBase: '0x40000000', size: '0x10000' },
    sim: { devices: [{ devNum: 0, kind: 'rng' }] },
  };
}

function errorsOf(input: unknown) {
  const r = parseBoardProfile(input);
  if (r.ok) throw new Error('expected the profile to be rejected');
  return r.errors;
}

describe('board profiles', () => {
  it('ships three valid simulated boards, sim-qemu-amp-pci being the default', () => {
    expect(BUILTIN_PROFILES.map((p) => p.id)).toEqual(['sim-qemu-amp-pci', 'sim-versal', 'sim-stm32mp157']);
    expect(DEFAULT_BOARD).toBe('sim-qemu-amp-pci');
    for (const p of BUILTIN_PROFILES) expect(queueGeometry(p).ok).toBe(true);
  });

  it('reads hex strings and numbers, keeping 64-bit addresses exact', () => {
    const p = raw();
    (p['dataMemory'] as Record<string, unknown>)['peerBase'] = '0xfffffffff0000000';
    const r = parseBoardProfile(p);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.profile.bus.offset).toBe(0x1000);
    expect(r.profile.regions[1]!.size).toBe(65536);
    expect(r.profile.dataMemory.peerBase).toBe(0xfffffffff0000000n);
  });

  const DELETE = Symbol('delete');
  /** Sets (or deletes) the value at a dotted path such as "regions.0.size" in parsed JSON. */
  function mutate(p: Record<string, unknown>, path: string, value: unknown): void {
    const keys = path.split('.');
    let obj = p as Record<string, unknown>;
    for (const k of keys.slice(0, -1)) obj = obj[k] as Record<string, unknown>;
    const last = keys[keys.length - 1]!;
    if (value === DELETE) delete obj[last];
    else obj[last] = value;
  }

  it.each([
    ['bus.format', 'bus.format', 'vmamp', /expected one of "spsc-v0", "spsc-v1", "vmamp-shmem-v1", "openamp-static-v1", saw "vmamp"/],
    ['bus.revision', 'bus.revision', 'r1', /saw "r1"/],
    ['regions[0].size', 'regions.0.size', '16k', /"0x…" hex string; saw "16k"/],
    ['bus.region', 'bus.region', 'bar2', /expected one of the regions \(bar1, ram\), saw "bar2"/],
    ['bus.size', 'bus.size', '0x4000', /bus area \[4096, 20480\) does not fit region "bar1" of 16384 bytes/],
    ['dataMemory.size', 'dataMemory.size', '0x20000', /does not fit region "ram" of 65536 bytes/],
    ['regions[1].name', 'regions.1.name', 'bar1', /region name "bar1" is used twice/],
    ['sim.devices[0].kind', 'sim.devices.0.kind', 'gpu', /expected one of "i2c", "rng", "console", saw "gpu"/],
    ['bus', 'bus.colour', 'blue', /unknown field\(s\) "colour"/],
    ['bus.maxMessageSize', 'bus.maxMessageSize', 48, /revision r4 needs a bus maximum of at least 52 bytes, saw 48/],
    ['hostRole', 'hostRole', DELETE, /saw nothing/],
    ['sim', 'sim', DELETE, /needs sim.devices/],
  ] as const)('names the field %s in its error', (field, path, value, message) => {
    const p = raw();
    mutate(p, path, value);
    const errors = errorsOf(p);
    expect(errors.map((e) => e.field)).toContain(field);
    expect(errors.find((e) => e.field === field)!.message).toMatch(message);
  });

  it('refuses an R3 bus of the spec-table minimum, 44 bytes, and says why', () => {
    const p = raw();
    mutate(p, 'bus.revision', 'r3');
    mutate(p, 'bus.maxMessageSize', 44);
    expect(errorsOf(p)).toEqual([
      {
        field: 'bus.maxMessageSize',
        message: "revision r3 needs a bus maximum of at least 48 bytes (the spec's 44 cannot carry its 48-byte GET_VQUEUE and SET_VQUEUE, virtio-msg-protocol.md §18.3), saw 44",
      },
    ]);
    mutate(p, 'bus.maxMessageSize', 48);
    expect(parseBoardProfile(p).ok).toBe(true);
  });

  it('rejects what is not a profile at all without throwing', () => {
    for (const input of [null, 42, 'x', [], {}]) expect(errorsOf(input).length).toBeGreaterThan(0);
  });

  it('rejects an unknown bus.fixed key and a bad stride quirk by field', () => {
    const p = BUILTIN_PROFILES.find((b) => b.id === 'sim-stm32mp157')!;
    expect(queueGeometry({ ...p, bus: { ...p.bus, fixed: { strideQuirk: 'sometimes' } } })).toEqual({
      ok: false,
      field: 'bus.fixed.strideQuirk',
      message: 'expected "num_elts" or "none", saw "sometimes"',
    });
    expect(queueGeometry({ ...p, bus: { ...p.bus, fixed: { numElts: '-1' } } })).toMatchObject({ ok: false, field: 'bus.fixed.numElts' });
  });
});
