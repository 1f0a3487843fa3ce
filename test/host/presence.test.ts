/**
 * boards.list presence: each access kind probed on a stand-in machine (sysfs PCI functions, /dev,
 * files, PATH), present and absent, with the reason naming what was looked for.
 */
import { describe, expect, it } from 'vitest';

import { boardPresence, type PresenceHost } from '../../main/host/service/presence';
import { BUILTIN_PROFILES, HARDWARE_PROFILES } from '../../src/boards/builtin';
import type { BoardProfile } from '../../src/api/boardProfile';

function machine(files: Record<string, string>, path: Record<string, string> = {}): PresenceHost {
  const names = Object.keys(files);
  return {
    exists: (p) => names.some((n) => n === p || n.startsWith(`${p}/`)),
    read: (p) => files[p] ?? null,
    list: (dir) => {
      const under = names.filter((n) => n.startsWith(`${dir}/`)).map((n) => n.slice(dir.length + 1).split('/')[0]!);
      return under.length ? [...new Set(under)] : null;
    },
    which: (name) => path[name] ?? null,
  };
}

const hw = (id: string): BoardProfile => HARDWARE_PROFILES.find((p) => p.id === id)!;
const empty = machine({});

describe('board presence', () => {
  it('says a simulated board is always there', () => {
    for (const p of BUILTIN_PROFILES) expect(boardPresence(p, empty).state).toBe('present');
  });

  it('finds a PCI board by vendor:device in sysfs, and says what it looked for when it is not there', () => {
    const versal = hw('versal-vek280');
    const sys = machine({
      '/sys/bus/pci/devices/0000:00:01.0/vendor': '0x8086\n',
      '/sys/bus/pci/devices/0000:00:01.0/device': '0x1237\n',
      '/sys/bus/pci/devices/0000:03:00.0/vendor': '0x10ee\n',
      '/sys/bus/pci/devices/0000:03:00.0/device': '0x9038\n',
    });
    expect(boardPresence(versal, sys)).toEqual({ state: 'present', reason: 'PCI function 10ee:9038 at 0000:03:00.0' });
    // The QEMU board's function has another device id: not this machine's.
    expect(boardPresence(hw('qemu-virtio-msg-amp-pci'), sys)).toEqual({ state: 'absent', reason: 'no PCI function 10ee:9039 in /sys/bus/pci/devices' });
    expect(boardPresence(versal, empty)).toEqual({ state: 'absent', reason: 'cannot list /sys/bus/pci/devices (no PCI bus visible here) to look for 10ee:9038' });
  });

  it("looks for a serial bridge's port", () => {
    const stm = hw('stm32mp157c-dk2');
    expect(boardPresence(stm, machine({ '/dev/ttyACM0': '' }))).toEqual({ state: 'present', reason: 'serial port /dev/ttyACM0 is there' });
    const gone = boardPresence(stm, empty);
    expect(gone.state).toBe('absent');
    expect(gone.reason).toMatch(/^no serial port \/dev\/ttyACM0; plug in the board's USB cable/);
  });

  it('looks for QEMU on PATH for a qtest board', () => {
    const q = hw('qemu-qtest-amp-pci');
    expect(boardPresence(q, machine({}, { 'qemu-system-x86_64': '/usr/bin/qemu-system-x86_64' }))).toMatchObject({ state: 'present', reason: expect.stringMatching(/^qemu-system-x86_64 at \/usr\/bin\/qemu-system-x86_64; /) });
    expect(boardPresence(q, empty)).toEqual({ state: 'absent', reason: 'no qemu-system-x86_64 on PATH; install QEMU with the virtio-msg-amp device' });
  });

  it('looks for UIO devices and shared files named by the profile', () => {
    const base = hw('versal-vek280');
    const uio: BoardProfile = { ...base, access: { kind: 'uio' } };
    expect(boardPresence(uio, machine({ '/dev/uio0': '', '/dev/null': '' }))).toEqual({ state: 'present', reason: 'UIO device /dev/uio0' });
    expect(boardPresence(uio, machine({ '/dev/null': '' })).state).toBe('absent');
    const shm: BoardProfile = { ...base, access: { kind: 'file', path: '/dev/shm/amp' } };
    expect(boardPresence(shm, machine({ '/dev/shm/amp': '' })).state).toBe('present');
    expect(boardPresence(shm, empty).reason).toMatch(/^no shared-memory file \/dev\/shm\/amp; /);
    expect(boardPresence({ ...base, access: { kind: 'file' } }, empty).state).toBe('unknown');
    expect(boardPresence({ ...base, access: { kind: 'bridge', transport: 'tcp', path: 'lab:4000' } }, empty).state).toBe('unknown');
  });
});
