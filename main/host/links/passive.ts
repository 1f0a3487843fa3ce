/**
 * The links a passive monitor opens (docs/amp-bus.md §4, §5): the board's memory mapped
 * read-only, no doorbell taken or rung, nothing written, so the real driver and device keep
 * every socket, interrupt and byte they had.
 *
 * - shm-file: the file mapped PROT_READ; the doorbell socket FILE.sock is left alone (the board
 *   side takes the newest connection, so connecting would steal it from the driver);
 * - pci: the BARs (and host memory the profile names) mapped read-only, no UIO node opened, the
 *   command register and publish stores left to the board's driver (links/pci.ts openPciWatch);
 * - ivshmem: a peer of the server that maps the shared memory read-only and rings nobody;
 * - serial: the bridge agent's ring taps (PROTOCOL.md §3.3), no doorbell register or NOTIFY;
 * - the other kinds a monitor cannot watch are refused with what to use instead.
 *
 * Each link says what its rings can be followed through (`tapSource`); monitorSession.ts
 * chooses the tap from it.
 */
import type { BoardProfile } from '../../../src/api/boardProfile';
import type { MemoryWindow } from '../../../src/bus/window';
import type { BridgeClient } from '../../../src/serialBridge/client';
import type { NativeMapping } from '../../native/index';
import { ReadOnlyWindow } from '../../../src/roles/monitor/readOnlyWindow';
import { defaultSpec, LinkError } from './open';
import { openIvshmemLink } from './ivshmem';
import { openPciWatch } from './pci';
import { openSerialBridgeWatch } from './serialBridge';
import { mapShmFile, requireNative } from './shmFile';
import type { LinkSpec } from './spec';

/**
 * What the rings of a passive link can be followed through: memory the addon maps (the bus
 * window starts at `base` in `mapping`), a bridge agent (the bus window's agent address), or
 * only the MemoryWindow.
 */
export type TapSource =
  | { kind: 'mapped'; mapping: NativeMapping; base: number }
  | { kind: 'bridge'; client: BridgeClient; base: bigint }
  | { kind: 'window' };

/** What a monitor reads: the bus area and the data memory, never written. */
export interface PassiveLink {
  readonly description: string;
  readonly busWindow: MemoryWindow;
  readonly dataWindow: MemoryWindow;
  readonly dataPeerBase: bigint;
  readonly notices: readonly string[];
  /** Resolves with why, once the memory is gone under the monitor (the file was truncated). */
  readonly lost: Promise<string>;
  readonly tapSource: TapSource;
  close(): Promise<void>;
}

export async function openPassiveLink(profile: BoardProfile, spec: LinkSpec = defaultSpec(profile)): Promise<PassiveLink> {
  switch (spec.kind) {
    case 'shm-file':
      return openShmFileWatch(profile, spec.file);
    case 'pci':
      return openPciWatch(profile, spec.bdf ? { bdf: spec.bdf } : {});
    case 'ivshmem':
      return openIvshmemWatch(profile, spec.socket);
    case 'serial':
      return openSerialWatch(profile, spec.path, spec.baudRate);
    case 'sim':
      throw new LinkError(
        `a monitor watches memory that a driver and a device already share; board ${profile.id}'s simulator runs inside the session that drives it. ` +
          `Run the simulated board as its own process (amp-workbench sim --board ${profile.id} --shm FILE), a driver on it (probe --link shm-file:FILE), and watch with --link shm-file:FILE`,
      );
    default:
      throw new LinkError(`the ${spec.kind} link cannot be watched read-only by this build; a monitor reaches the board over shm-file:FILE`);
  }
}

/**
 * A passive ivshmem peer: it joins the server (the only way to get the shared memory's fd),
 * reads through windows that refuse writes, and rings nobody; the eventfds the server hands it
 * are never written, so the driver and the device keep their own doorbells.
 */
async function openIvshmemWatch(profile: BoardProfile, socket: string | undefined): Promise<PassiveLink> {
  const link = await openIvshmemLink(profile, socket, { readOnly: true });
  return {
    description: `${link.description} (passive peer ${link.ownId}: read-only, rings nobody)`,
    busWindow: new ReadOnlyWindow(link.busWindow, `the bus area of ${profile.id}`),
    dataWindow: new ReadOnlyWindow(link.dataWindow, `the data memory of ${profile.id}`),
    dataPeerBase: link.dataPeerBase,
    // A peer that rings "the lowest-numbered other peer" would ring a monitor that joined before the driver.
    notices: [...link.notices, `joined the ivshmem server as peer ${link.ownId}; start the monitor after the driver and the device, so neither takes it for its peer`],
    lost: link.lost,
    tapSource: { kind: 'mapped', ...link.busMapping },
    close: () => link.close(),
  };
}

/** The board's bridge agent follows the rings itself; its windows serve the Queues view's reads. */
async function openSerialWatch(profile: BoardProfile, path: string, baudRate: number | undefined): Promise<PassiveLink> {
  const w = await openSerialBridgeWatch(profile, path, baudRate === undefined ? {} : { baudRate });
  return {
    description: `${w.description} (read-only: ring taps, no doorbells)`,
    busWindow: new ReadOnlyWindow(w.busWindow, `the bus area of ${profile.id}`),
    dataWindow: new ReadOnlyWindow(w.dataWindow, `the data memory of ${profile.id}`),
    dataPeerBase: w.dataPeerBase,
    notices: [],
    lost: w.lost,
    tapSource: { kind: 'bridge', client: w.bridge.client, base: w.busBase },
    close: () => w.close(),
  };
}

/** The shm file mapped read-only; its doorbell socket is not touched. */
function openShmFileWatch(profile: BoardProfile, file: string): PassiveLink {
  const shm = mapShmFile(profile, file, requireNative('the shm-file link'), { readOnly: true });
  const what = `shm file ${file}`;
  return {
    description: `${profile.id} over shm-file ${file} (read-only; doorbell socket left to the driver)`,
    busWindow: new ReadOnlyWindow(shm.busWindow, `the bus area in ${what}`),
    dataWindow: new ReadOnlyWindow(shm.dataWindow, `the data memory in ${what}`),
    dataPeerBase: profile.dataMemory.peerBase,
    notices: [],
    lost: shm.lost,
    tapSource: { kind: 'mapped', mapping: shm.mapping, base: shm.busBase },
    close() {
      shm.mapping.unmap();
      return Promise.resolve();
    },
  };
}
