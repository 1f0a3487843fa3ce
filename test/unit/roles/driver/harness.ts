/**
 * A board and the workbench in one thread: the simulated device side (src/sim/board.ts) and a
 * driver session over the same windows, with in-process doorbells. Deterministic and fast; the
 * worker-thread version of the same board is tested in test/host.
 */
import type { BoardProfile } from '../../../../src/api/boardProfile';
import { findBuiltinProfile } from '../../../../src/boards/builtin';
import type { EndpointObserver } from '../../../../src/bus/endpoint';
import type { Link } from '../../../../src/bus/link';
import { BytesWindow, SubWindow, type MemoryWindow } from '../../../../src/bus/window';
import { startSimBoard, type SimBoard } from '../../../../src/sim/board';
import { attachSession, type Session } from '../../../../main/host/session';
import { nodeRuntime } from '../../../../main/host/runtime';
import { Bell } from '../../bus/helpers';

export interface InThreadBoard {
  session: Session;
  board: SimBoard;
  profile: BoardProfile;
  /** What the device side logged (dropped messages…). */
  log: string[];
  /** The two doorbells, counting their rings. */
  bells: { toDevice: Bell; toDriver: Bell };
  close(): Promise<void>;
}

export function builtin(id: string, patch: (p: BoardProfile) => BoardProfile = (p) => p): BoardProfile {
  const p = findBuiltinProfile(id);
  if (!p) throw new Error(`no built-in profile ${id}`);
  return patch(structuredClone(p));
}

export interface InThreadOptions {
  observer?: EndpointObserver;
  /** Wraps the windows the driver side sees (the device side keeps direct access). */
  driverWindow?: (w: MemoryWindow) => MemoryWindow;
}

export async function inThreadBoard(profile: BoardProfile, opts: InThreadOptions = {}): Promise<InThreadBoard> {
  const { observer, driverWindow = (w) => w } = opts;
  const regions = new Map(profile.regions.map((r) => [r.name, new ArrayBuffer(Math.ceil(r.size / 8) * 8)]));
  const busWindow = new SubWindow(new BytesWindow(regions.get(profile.bus.region)!), profile.bus.offset, profile.bus.size);
  const dataWindow = new BytesWindow(regions.get(profile.dataMemory.region)!, 0, profile.dataMemory.size);
  const toDevice = new Bell();
  const toDriver = new Bell();
  const log: string[] = [];
  const device = startSimBoard({ profile, busWindow, dataWindow, doorbellOut: toDriver, doorbellIn: toDevice, runtime: nodeRuntime, log: (t) => log.push(t) });
  const link: Link = {
    description: `${profile.id} (in-thread test board)`,
    busWindow: driverWindow(busWindow),
    dataWindow: driverWindow(dataWindow),
    dataPeerBase: profile.dataMemory.peerBase,
    doorbellOut: toDevice,
    doorbellIn: toDriver,
    close: () => Promise.resolve(),
  };
  const session = await attachSession(profile, link, observer ? { observer } : {});
  const started = await device;
  if (!started.ok) throw new Error(started.error);
  return {
    session,
    board: started.value,
    profile,
    log,
    bells: { toDevice, toDriver },
    async close() {
      await session.close();
      started.value.close();
    },
  };
}
