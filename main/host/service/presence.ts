/**
 * Which boards' hardware is on the engine's machine, for the Connect screen's board list: each
 * profile's access path probed the way its link would open it, without opening it (no PCI
 * enable, no serial port opened, no QEMU started). The answer says what was looked for and
 * what was found, so "absent" tells the user what to plug in or start.
 */
import { accessSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

import type { BoardProfile } from '../../../src/api/boardProfile';
import type { BoardPresence } from '../../../src/api/workbench';

/** The machine as the probes see it; tests give a fake one. */
export interface PresenceHost {
  exists(path: string): boolean;
  /** A file's text, or null when it cannot be read. */
  read(path: string): string | null;
  /** A folder's entries, or null when it cannot be listed. */
  list(path: string): string[] | null;
  /** The full path of an executable on PATH, or null. */
  which(name: string): string | null;
}

export const nodePresenceHost: PresenceHost = {
  exists: (p) => existsSync(p),
  read: (p) => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return null;
    }
  },
  list: (p) => {
    try {
      return readdirSync(p);
    } catch {
      return null;
    }
  },
  which: (name) => {
    for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
      if (dir === '') continue;
      const full = join(dir, name);
      try {
        accessSync(full, constants.X_OK);
        return full;
      } catch {
        // not in this folder
      }
    }
    return null;
  },
};

const PCI_DEVICES = '/sys/bus/pci/devices';

function present(reason: string): BoardPresence {
  return { state: 'present', reason };
}
function absent(reason: string): BoardPresence {
  return { state: 'absent', reason };
}

/** The PCI function with the profile's vendor:device (at its BDF when the profile names one). */
function pciPresence(p: BoardProfile, host: PresenceHost): BoardPresence {
  if (!p.pci) return { state: 'unknown', reason: 'the profile names no PCI vendor:device to look for' };
  const hex4 = (n: number): string => n.toString(16).padStart(4, '0');
  const id = `${hex4(p.pci.vendor)}:${hex4(p.pci.device)}`;
  const functions = host.list(PCI_DEVICES);
  if (functions === null) return absent(`cannot list ${PCI_DEVICES} (no PCI bus visible here) to look for ${id}`);
  const id16 = (bdf: string, file: string): number | null => {
    const t = host.read(join(PCI_DEVICES, bdf, file));
    return t === null ? null : Number.parseInt(t.trim(), 16);
  };
  const found = functions.filter((bdf) => (p.pci!.bdf === undefined || bdf === p.pci!.bdf) && id16(bdf, 'vendor') === p.pci!.vendor && id16(bdf, 'device') === p.pci!.device);
  if (found.length === 0) return absent(`no PCI function ${id}${p.pci.bdf ? ` at ${p.pci.bdf}` : ''} in ${PCI_DEVICES}`);
  return present(`PCI function ${id} at ${found.join(', ')}`);
}

/** The path the link opens, when the profile gives one. */
function filePresence(host: PresenceHost, path: string | undefined, what: string, hint: string): BoardPresence {
  if (path === undefined) return { state: 'unknown', reason: `the profile gives no ${what}; the link spec names it when connecting` };
  return host.exists(path) ? present(`${what} ${path} is there`) : absent(`no ${what} ${path}; ${hint}`);
}

/** What the engine's machine shows of `p`'s hardware now. */
export function boardPresence(p: BoardProfile, host: PresenceHost = nodePresenceHost): BoardPresence {
  const a = p.access;
  switch (a.kind) {
    case 'sim':
      return present('simulated inside the workbench: always there');
    case 'sysfs-pci':
    case 'vfio-pci':
      return pciPresence(p, host);
    case 'uio': {
      const uio = (host.list('/dev') ?? []).filter((n) => /^uio\d+$/.test(n));
      return uio.length ? present(`UIO device${uio.length > 1 ? 's' : ''} ${uio.map((n) => `/dev/${n}`).join(', ')}`) : absent("no /dev/uio* device; load uio_pci_generic (or the board's UIO driver) and bind the function");
    }
    case 'file':
      return filePresence(host, a.path, 'shared-memory file', 'start the peer that creates it, or name another with the link spec');
    case 'ivshmem-server':
      return filePresence(host, a.path, 'ivshmem server socket', 'start ivshmem-server (or QEMU with its ivshmem-doorbell device)');
    case 'bridge':
      if (a.transport === 'tcp') return { state: 'unknown', reason: `a TCP bridge to ${a.path ?? 'the address in the link spec'} is seen only when connecting` };
      return filePresence(host, a.path, 'serial port', "plug in the board's USB cable, or name the port with the link spec (serial:PORT@BAUD)");
    case 'qtest': {
      const qemu = p.qtest?.configAccess === 'ecam' ? 'qemu-system-aarch64' : 'qemu-system-x86_64';
      const at = host.which(qemu);
      return at ? present(`${qemu} at ${at}; start it with -qtest and give its socket with the link spec`) : absent(`no ${qemu} on PATH; install QEMU with the virtio-msg-amp device`);
    }
  }
}
