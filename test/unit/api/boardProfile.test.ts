import { describe, expect, it } from 'vitest';

import { MAX_TIMEOUT_MS, parseBoardProfile, parseBoardProfileText, SIM_MAX_REGION_BYTES } from '../../../src/api/boardProfile';
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
  return r.error;
}

describe('board profiles', () => {
  it('ships four valid simulated boards, sim-qemu-amp-pci being the default', () => {
    expect(BUILTIN_PROFILES.map((p) => p.id)).toEqual(['sim-qemu-amp-pci', 'sim-versal', 'sim-stm32mp157', 'sim-linux-loopback']);
    expect(DEFAULT_BOARD).toBe('sim-qemu-amp-pci');
    for (const p of BUILTIN_PROFILES) expect(queueGeometry(p).ok).toBe(true);
  });

  it('reads hex strings and numbers, keeping 64-bit addresses exact', () => {
    const p = raw();
    (p['dataMemory'] as Record<string, unknown>)['peerBase'] = '0xfffffffff0000000';
    const r = parseBoardProfile(p);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.bus.offset).toBe(0x1000);
    expect(r.value.regions[1]!.size).toBe(65536);
    expect(r.value.dataMemory.peerBase).toBe(0xfffffffff0000000n);
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
    ['regions[0].size', 'regions.0.size', '16k', /"0x…" hex string, saw "16k"/],
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
        message: "revision r3 needs a bus maximum of at least 48 bytes (the spec's 44 cannot carry its 48-byte GET_VQUEUE and SET_VQUEUE, docs/protocol.md §18.3), saw 44",
      },
    ]);
    mutate(p, 'bus.maxMessageSize', 48);
    expect(parseBoardProfile(p).ok).toBe(true);
  });

  const SOURCES =
    'expected one of the region sources {"sysfsResource": N}, {"uioMap": N}, {"vfioRegion": N}, {"file": PATH, "offset"?}, {"bridgeAddr": ADDR}, ' +
    '{"vfioDma": {"iova": ADDR}}, {"sim": NAME}, {"shm": OFFSET}, {"pciBar": N} or {"guestPhys": ADDR}';

  // Each: what is changed (dotted path → value), and the one error the profile then gets.
  it.each([
    // Field values whose schema error used to say only "Invalid input".
    ['an unknown region source', { 'regions.0.source': { bar: 1 } }, 'regions[0].source', `${SOURCES}, saw {"bar":1}`],
    ['a region source that is not an object', { 'regions.0.source': 'bar1' }, 'regions[0].source', `${SOURCES}, saw "bar1"`],
    ['an access width of 24', { 'regions.0.accessWidths': [32, 24] }, 'regions[0].accessWidths[1]', 'expected one of 8, 16, 32, 64, saw 24'],
    ['a doorbell width of 7', { doorbellOut: { kind: 'mmio-write', region: 'bar1', offset: 0, width: 7 } }, 'doorbellOut.width', 'expected one of 8, 16, 32, 64, saw 7'],
    ['a size of true', { 'regions.0.size': true }, 'regions[0].size', 'expected a non-negative integer or a "0x…" hex string, saw true'],
    ['a size of 1.5', { 'regions.0.size': 1.5 }, 'regions[0].size', 'expected a non-negative integer or a "0x…" hex string, saw 1.5'],
    ['a size of 0', { 'regions.0.size': 0 }, 'regions[0].size', 'expected at least 1 byte, saw 0'],
    ['a size past 2^53', { 'regions.0.size': '0x20000000000000' }, 'regions[0].size', 'expected at most 2^53 − 1 (9007199254740991), saw 9007199254740992'],
    ['a negative address', { 'dataMemory.peerBase': -5 }, 'dataMemory.peerBase', 'expected at least 0, saw -5'],
    ['a bus.fixed value of true', { 'bus.fixed': { ringSize: true } }, 'bus.fixed.ringSize', 'expected a string or a number, saw true'],
    [
      'a publish value of true',
      { publish: [{ region: 'bar1', offset: 0, width: 32, value: true }] },
      'publish[0].value',
      'expected a non-negative integer or a "0x…" hex string, or a "$…" reference such as "$dataMemory.iova.lo", saw true',
    ],
    ['regions that are not a list', { regions: {} }, 'regions', 'expected an array, saw {}'],
    ['no regions', { regions: [] }, 'regions', 'expected at least 1 item, saw []'],
    ['a missing description', { description: undefined }, 'description', 'expected a string, saw nothing'],
    ['a maxMessageSize given as text', { 'bus.maxMessageSize': '64' }, 'bus.maxMessageSize', 'expected a number, saw "64"'],
    // Timeouts a timer cannot serve.
    ['a response timeout below 1 ms', { 'bus.timeouts': { responseMs: 0.5 } }, 'bus.timeouts.responseMs', 'expected at least 1 ms, saw 0.5'],
    [
      'a response timeout longer than a timer waits',
      { 'bus.timeouts': { responseMs: 1e10 } },
      'bus.timeouts.responseMs',
      `expected at most ${MAX_TIMEOUT_MS} ms (about 24.8 days, the longest a timer waits), saw 10000000000`,
    ],
    ['a layout timeout of 0', { 'bus.timeouts': { layoutMs: 0 } }, 'bus.timeouts.layoutMs', 'expected at least 1 ms, saw 0'],
    // Areas that overlap.
    [
      'a data memory over the bus area',
      { 'dataMemory.region': 'bar1', 'dataMemory.size': '0x2000' },
      'dataMemory.size',
      'data memory [0x0, 0x2000) of region "bar1" overlaps the bus area [0x1000, 0x3000): the virtqueues would overwrite the message queues; ' +
        'expected at most 4096 bytes (the bus area starts at bus.offset 0x1000) or a data memory in another region, saw 8192 bytes',
    ],
    [
      'a data memory in a region whose bus area starts at 0',
      { 'bus.offset': 0, 'dataMemory.region': 'bar1', 'dataMemory.size': '0x1000' },
      'dataMemory.size',
      'data memory [0x0, 0x1000) of region "bar1" overlaps the bus area [0x0, 0x2000): the virtqueues would overwrite the message queues; ' +
        'expected a data memory in another region, saw 4096 bytes',
    ],
    [
      'overlapping ivshmem regions',
      { access: { kind: 'ivshmem-server' }, 'regions.0.source': { shm: 0 }, 'regions.1.source': { shm: '0x3000' } },
      'regions[1].source',
      'region "ram" [0x3000, 0x13000) of the ivshmem shared memory (shm) overlaps region "bar1" [0x0, 0x4000): expected regions that share no bytes, saw 0x1000 bytes in common',
    ],
    [
      'one PCI BAR as two regions',
      { access: { kind: 'sysfs-pci' }, 'regions.0.source': { sysfsResource: 1 }, 'regions.1.source': { sysfsResource: 1, wc: true } },
      'regions[1].source',
      'region "ram" [0x0, 0x10000) of PCI resource 1 overlaps region "bar1" [0x0, 0x4000): expected regions that share no bytes, saw 0x4000 bytes in common',
    ],
    [
      'overlapping ranges of /dev/mem',
      { access: { kind: 'sysfs-pci' }, 'regions.0.source': { file: '/dev/mem', offset: '0x7e000000' }, 'regions.1.source': { file: '/dev/mem', offset: '0x7dfff000' } },
      'regions[1].source',
      'region "ram" [0x7dfff000, 0x7e00f000) of file /dev/mem overlaps region "bar1" [0x7e000000, 0x7e004000): expected regions that share no bytes, saw 0x4000 bytes in common',
    ],
    // Sizes the simulator cannot allocate ("Invalid atomic access index", "Array buffer allocation failed").
    [
      'a 4 GiB simulated region',
      { 'regions.1.size': '0x100000000' },
      'regions[1].size',
      `a simulated board holds each region in RAM: expected at most ${SIM_MAX_REGION_BYTES} bytes (0x40000000, 1 GiB), saw 4294967296`,
    ],
    [
      'a 1 TiB simulated region',
      { 'regions.1.size': '0x10000000000', 'dataMemory.size': '0x10000000000' },
      'regions[1].size',
      'a simulated board holds each region in RAM: expected at most 1073741824 bytes (0x40000000, 1 GiB), saw 1099511627776',
    ],
  ] as const)('refuses %s, naming the field, what was expected and what was seen', (_what, changes, field, message) => {
    const p = raw();
    for (const [path, value] of Object.entries(changes)) mutate(p, path, value === undefined ? DELETE : value);
    expect(errorsOf(p)).toEqual([{ field, message }]);
  });

  it('accepts what sits next to the refused: a data memory ending where the bus area starts, adjacent regions, 1 GiB simulated, 1 ms', () => {
    const p = raw();
    mutate(p, 'regions.1.size', SIM_MAX_REGION_BYTES);
    mutate(p, 'bus.timeouts', { responseMs: 1, layoutMs: MAX_TIMEOUT_MS });
    expect(parseBoardProfile(p).ok).toBe(true);
    const sameRegion = raw();
    mutate(sameRegion, 'dataMemory.region', 'bar1');
    mutate(sameRegion, 'dataMemory.size', '0x1000');
    expect(parseBoardProfile(sameRegion).ok).toBe(true);
    const ivshmem = raw();
    mutate(ivshmem, 'access', { kind: 'ivshmem-server' });
    mutate(ivshmem, 'regions.0.source', { shm: 0 });
    mutate(ivshmem, 'regions.1.source', { shm: '0x4000' });
    expect(parseBoardProfile(ivshmem).ok).toBe(true);
  });

  it('checks across fields only once every field is valid: no follow-on errors from a bad value', () => {
    const p = raw();
    // Alone, a data memory over the bus area is refused; with a bad field, only the field is.
    mutate(p, 'dataMemory.region', 'bar1');
    mutate(p, 'dataMemory.size', '0x2000');
    mutate(p, 'regions.0.size', -1);
    expect(errorsOf(p)).toEqual([{ field: 'regions[0].size', message: 'expected at least 0, saw -1' }]);
  });

  it('shows an overlap at the line of the region source in a profile file', () => {
    const p = raw();
    mutate(p, 'access', { kind: 'ivshmem-server' });
    mutate(p, 'regions.0.source', { shm: 0 });
    mutate(p, 'regions.1.source', { shm: '0x3000' });
    const text = JSON.stringify(p, null, 2);
    const r = parseBoardProfileText(text, 'board.json');
    if (r.ok) throw new Error('expected the profile to be rejected');
    // The line before `"shm": "0x3000"` is `"source": {`; the error points at its value.
    const lines = text.split('\n');
    const line = lines.findIndex((l) => l.includes('"shm": "0x3000"'));
    expect(lines[line - 1]).toMatch(/^ +"source": \{$/);
    expect(r.error).toMatchObject([{ field: 'regions[1].source', line, column: lines[line - 1]!.indexOf('{') + 1 }]);
  });

  it('rejects what is not a profile at all without throwing', () => {
    for (const input of [null, 42, 'x', [], {}]) expect(errorsOf(input).length).toBeGreaterThan(0);
  });

  it('rejects an unknown bus.fixed key and a bad stride quirk by field', () => {
    const p = BUILTIN_PROFILES.find((b) => b.id === 'sim-stm32mp157')!;
    expect(queueGeometry({ ...p, bus: { ...p.bus, fixed: { strideQuirk: 'sometimes' } } })).toEqual({
      ok: false,
      error: { field: 'bus.fixed.strideQuirk', message: 'expected "num_elts" or "none", saw "sometimes"' },
    });
    expect(queueGeometry({ ...p, bus: { ...p.bus, fixed: { numElts: '-1' } } })).toMatchObject({ ok: false, error: { field: 'bus.fixed.numElts' } });
  });
});
