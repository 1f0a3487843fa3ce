/** The amp-workbench command as a user runs it: a child process, its output and exit status. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = resolve(__dirname, '../../main/host/cli/amp-workbench.cjs');

function run(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('amp-workbench CLI', () => {
  it('answers COMMAND --help with that command\'s usage, not "Unknown option"', () => {
    for (const flag of ['--help', '-h']) {
      const r = run(['serve', flag]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout.split('\n').slice(0, 3)).toEqual([
        'Usage:',
        '  amp-workbench serve [--board ID | --profile FILE] [--link SPEC] [--port N] [--captures DIR]',
        '                      [--static DIR] [--no-connect] [--role driver|device [--devices KIND[:DEV_NUM],…]]',
      ]);
      expect(r.stdout).toContain('--link SPEC picks how the board is reached');
    }
  });

  it('lists the built-in boards as JSON', () => {
    const r = run(['boards', '--json']);
    expect(r.code).toBe(0);
    const boards = JSON.parse(r.stdout) as { id: string; default: boolean; simulated: boolean; format: string; revision: string }[];
    expect(boards.filter((b) => b.simulated).map((b) => [b.id, b.format, b.revision])).toEqual([
      ['sim-qemu-amp-pci', 'vmamp-shmem-v1', 'r4'],
      ['sim-versal', 'vmamp-shmem-v1', 'r3'],
      ['sim-stm32mp157', 'openamp-static-v1', 'r0'],
      ['sim-linux-loopback', 'vmamp-shmem-v1', 'r2'],
    ]);
    expect(boards.filter((b) => !b.simulated).map((b) => [b.id, b.format, b.revision])).toEqual(
      expect.arrayContaining([
        ['stm32mp157c-dk2', 'openamp-static-v1', 'r0'],
        ['versal-vek280', 'vmamp-shmem-v1', 'r3'],
        ['qemu-virtio-msg-amp-pci', 'vmamp-shmem-v1', 'r3'],
      ]),
    );
    expect(boards.find((b) => b.default)!.id).toBe('sim-qemu-amp-pci');
  });

  it('probes the default board and prints the device table as JSON', () => {
    const r = run(['probe', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.board).toBe('sim-qemu-amp-pci');
    expect(out.findings).toEqual([]);
    expect(out.devices).toHaveLength(3);
    const i2c = out.devices.find((d: { deviceType: string }) => d.deviceType === 'i2c');
    expect(i2c).toMatchObject({
      devNum: 1,
      deviceId: 34,
      status: 15,
      statusNames: ['ACKNOWLEDGE', 'DRIVER', 'DRIVER_OK', 'FEATURES_OK'],
      featuresOffered: '0x100000001',
      featuresNegotiated: '0x100000001',
      features: [
        { bit: 0, name: 'VIRTIO_I2C_F_ZERO_LENGTH_REQUEST', offered: true, negotiated: true },
        { bit: 32, name: 'VIRTIO_F_VERSION_1', offered: true, negotiated: true },
      ],
      queues: [{ index: 0, size: 128 }],
    });
    const con = out.devices.find((d: { deviceType: string }) => d.deviceType === 'console');
    expect(con.configFields.filter((f: { valid: boolean }) => f.valid).map((f: { name: string; value: number }) => [f.name, f.value])).toEqual([
      ['cols', 80],
      ['rows', 25],
    ]);
  });

  it('exercises one device and reports latency', () => {
    const r = run(['exercise', '--board', 'sim-stm32mp157', '--dev', '0', '--count', '20', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.devices).toHaveLength(1);
    expect(out.devices[0]).toMatchObject({ devNum: 0, deviceType: 'i2c', ok: 20, failed: 0 });
    const l = out.devices[0].latencyUs;
    expect(l.p50).toBeGreaterThan(0);
    expect(l.p50 <= l.p99 && l.p99 <= l.max).toBe(true);
  });

  it('shows the rings as they are in memory after the workloads (--rings)', () => {
    const r = run(['exercise', '--board', 'sim-versal', '--count', '3', '--rings', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    // rng: 3 reads, all returned; console receiveq keeps receive buffers posted.
    expect(out.rings['0/0']).toMatchObject({ size: 128, avail: { idx: 3 }, used: { idx: 3 }, lastSeenUsed: 3, inFlight: 0, problems: [] });
    expect(out.rings['1/0'].inFlight).toBeGreaterThan(0);
    expect(out.rings['1/1']).toMatchObject({ avail: { idx: 3 }, used: { idx: 3 }, inFlight: 0 });
  });

  it('decodes a §15 vector (TV-2a, R4 GET_DEVICE_INFO response) as JSON', () => {
    const hex = '01 02 01 00 01 00 34 00 22 00 00 00 51 45 4D 55 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00';
    const r = run(['decode', '--rev', 'r4', '--json', ...hex.split(' ')]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ revision: 'r4', type: 1, msgId: 2, name: 'GET_DEVICE_INFO', devNum: 1, token: 1, msgSize: 52, problems: [] });
    expect(out.fields).toMatchObject({ device_id: 34, vendor_id: 0x554d4551, num_feature_blocks: 2, max_virtqueues: 1 });
  });

  it('decodes hex lines from stdin, detecting the revision, and flags a truncated message', () => {
    const r = run(['decode', '--json'], '00 02 01 00 01 00 08 00\n00 09 01 00 01 00 0C 00 00 00\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('2 problems, 0 findings\n');
    const out = JSON.parse(r.stdout) as { name: string; problems: { offset: number; reason: string }[] }[];
    expect(out).toHaveLength(2);
    expect(out[0]!.problems).toEqual([]);
    expect(out[1]!.name).toBe('GET_VQUEUE');
    expect(out[1]!.problems[0]!.reason).toMatch(/12.*10|10.*12/);
  });

  it.each([
    [['probe', '--board', 'nope'], /unknown board "nope"; expected one of: sim-qemu-amp-pci, sim-versal, sim-stm32mp157/],
    [['decode', '--rev', 'r9', '00'], /--rev expects r0, r2, r3, r4 or auto, saw "r9"/],
    [['decode', 'zz 01'], /message 1 is not hex bytes: "zz 01"/],
    [['exercise', '--count', '0'], /--count expects a whole number from 1 to 1000000, saw "0"/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ])('rejects bad usage %j with exit 2 and says what it expected', (args, message) => {
    const r = run(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('shows a broken profile file with its errors by field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'amp-profile-'));
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ schema: 'amp-board-profile/0', id: 'Bad Id', bus: { format: 'ring' } }, null, 2));
    const r = run(['probe', '--profile', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/id \(line 3\): expected lower-case letters/);
    expect(r.stderr).toMatch(/bus.format \(line 5\): expected one of/);
  });
});
