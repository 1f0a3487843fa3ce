/**
 * Which link reaches a board: the profile's access kind says, and `--link` may override it
 * (a simulated board running as its own process on a shared-memory file, another serial port,
 * a particular PCI function). Every link gives the bus engine the same Link (src/bus/link.ts).
 */
import type { BoardProfile } from '../../../src/api/boardProfile';
import type { Link } from '../../../src/bus/link';
import { startSimBoard } from '../sim/simLink';
import { openIvshmemLink } from './ivshmem';
import { openPciLink } from './pci';
import { openQtestLink } from './qtest';
import { openSerialBridgeLink } from './serialBridge';
import { openShmFileLink } from './shmFile';
import type { LinkSpec } from './spec';

/**
 * A link, what the user should know about it (polling instead of interrupts…), peer quirks it
 * tolerated while opening (findings, e.g. a layout published only after connect), and `lost`:
 * resolves with why, once the link is gone for good under the session (a simulated board's
 * worker died, the serial port disappeared, QEMU closed its socket). It also resolves when the
 * link is closed on purpose; the session ignores it then.
 */
export type BoardLink = Link & { ready?: Promise<void>; lost?: Promise<string>; notices?: readonly string[]; findings?: readonly string[] };

export class LinkError extends Error {}


/** The link the profile's access kind implies, when the user names none. */
export function defaultSpec(profile: BoardProfile): LinkSpec {
  const a = profile.access as { kind: string; path?: string };
  switch (a.kind) {
    case 'sim':
      return { kind: 'sim' };
    case 'sysfs-pci':
    case 'uio':
      return { kind: 'pci' };
    case 'ivshmem-server':
      return a.path ? { kind: 'ivshmem', socket: a.path } : { kind: 'ivshmem' };
    case 'bridge':
      if (!a.path) throw new LinkError(`board ${profile.id} is reached over a serial bridge but its profile has no access.path; give the port with --link serial:PORT`);
      return { kind: 'serial', path: a.path };
    case 'qtest':
      return a.path ? { kind: 'qtest', socket: a.path } : { kind: 'qtest' };
    case 'file':
      if (!a.path) throw new LinkError(`board ${profile.id} is a shared-memory file but its profile has no access.path; give it with --link shm-file:FILE`);
      return { kind: 'shm-file', file: a.path };
    default:
      throw new LinkError(`board ${profile.id} is reached through access kind "${a.kind}", which this build cannot open (no VFIO yet); bind the device to uio_pci_generic and use a sysfs-pci profile, or use --link`);
  }
}

/** Opens the link to the board; failures are LinkError-like messages that say what to try. */
export async function openBoardLink(profile: BoardProfile, spec: LinkSpec = defaultSpec(profile)): Promise<BoardLink> {
  switch (spec.kind) {
    case 'sim':
      if (profile.access.kind !== 'sim') throw new LinkError(`board ${profile.id} is real hardware (access kind "${profile.access.kind}"); --link sim needs a simulated board profile`);
      return startSimBoard(profile);
    case 'shm-file':
      return openShmFileLink(profile, spec.file, spec.doorbells ? { doorbells: spec.doorbells } : {});
    case 'serial':
      return openSerialBridgeLink(profile, spec.path, spec.baudRate ? { baudRate: spec.baudRate } : {});
    case 'pci':
      return openPciLink(profile, spec.bdf ? { bdf: spec.bdf } : {});
    case 'ivshmem':
      return openIvshmemLink(profile, spec.socket);
    case 'linux-loopback':
      throw new LinkError('the linux-loopback link is the device side of a Linux loopback bus: serve devices on it with amp-workbench serve-device --link linux-loopback');
    case 'qtest':
      return openQtestLink(profile, { socket: spec.socket, listen: spec.listen, memFile: spec.memFile });
  }
}
