/**
 * A simulated board's device side on a shm file as its own process (like `amp-workbench sim
 * --shm`, main/host/sim/shmBoard.ts), that also counts the messages it publishes: its endpoint
 * rings the doorbell once per message placed in the queue (src/bus/endpoint.ts), and nothing
 * else rings it. Prints "ready" once a workbench can attach, and "published N" on SIGTERM, so a
 * test can check that a capture holds every message the board side published.
 *
 * With STATUS@K (a vmamp-shmem-v1 board), it is a firmware that stops its side of the bus (a
 * restart to INIT, SHUTDOWN, PEER_DEAD, docs/amp-bus.md §4.2): once it rang for its Kth message it
 * writes STATUS into its queue head, prints "stopped: published N" (N from its producer index,
 * which may be ahead of the rings by the rest of a batch) and touches the bus no more.
 *
 * Usage: countingShmBoard.cjs BOARD_ID FILE [STATUS@K]
 */
import { findBuiltinProfile } from '../../src/boards/builtin';
import { validateVmampLayout, VMAMP_HEADER_SIZE, VMAMP_STATUS } from '../../src/bus/formats/vmamp';
import type { MemoryWindow } from '../../src/bus/window';
import { startSimBoard } from '../../src/sim/board';
import { nodeRuntime } from '../../main/host/runtime';
import { openShmBoardSide } from '../../main/host/sim/shmBoard';
import { errorText } from '../../src/util/errorText';

/** `bus` whose writes and stores are dropped once `frozen()` says so. */
function freezable(bus: MemoryWindow, frozen: () => boolean): MemoryWindow {
  return {
    size: bus.size,
    read: (offset, length) => bus.read(offset, length),
    load: (offset, width) => bus.load(offset, width),
    fence: () => bus.fence(),
    write: (offset, data) => (frozen() ? Promise.resolve() : bus.write(offset, data)),
    store: (offset, width, value) => (frozen() ? Promise.resolve() : bus.store(offset, width, value)),
  };
}

async function main(): Promise<void> {
  const [id = '', path = '', stop] = process.argv.slice(2);
  const profile = findBuiltinProfile(id);
  if (!profile) throw new Error(`unknown board ${id}`);
  const [statusName = '', after = '0'] = stop?.split('@') ?? [];
  const stopStatus = stop ? VMAMP_STATUS[statusName as keyof typeof VMAMP_STATUS] : undefined;
  const side = await openShmBoardSide(profile, path);
  const bus = side.shm.busWindow;
  let published = 0;
  let ready = false;
  let frozen = false;
  /**
   * Publishes nothing more, writes the status into the device head and says how many messages
   * its producer index published. A restarting firmware wipes what it sent before it writes
   * INIT (docs/amp-bus.md §4.2), so a driver only keeps what it read before: this one waits for the
   * driver's consumer index to reach its producer index first.
   */
  const stopBus = async (status: number): Promise<void> => {
    frozen = true;
    const layout = validateVmampLayout(await bus.read(0, VMAMP_HEADER_SIZE), profile.bus.size);
    if (!layout.ok) throw new Error(layout.error.reason);
    const { devQueueHead, drvQueueHead, numElements } = layout.value;
    const tail = await bus.load(devQueueHead + 4, 16);
    while (status === VMAMP_STATUS.INIT && (await bus.load(drvQueueHead + 6, 16)) !== tail) await new Promise((r) => setTimeout(r, 1));
    await bus.store(devQueueHead + 2, 16, status);
    process.stdout.write(`stopped: published ${published + ((((tail - published) % numElements) + numElements) % numElements)}\n`);
  };
  const started = startSimBoard({
    // The board waits for its driver as long as it runs, like the sim command's board.
    profile: { ...profile, bus: { ...profile.bus, timeouts: { ...profile.bus.timeouts, peerMs: 3_600_000 } } },
    busWindow: freezable(bus, () => frozen),
    dataWindow: side.shm.dataWindow,
    doorbellOut: {
      ring: async () => {
        if (frozen) return;
        published++;
        if (stopStatus !== undefined && published === Number(after)) await stopBus(stopStatus);
        return side.doorbells.doorbellOut.ring();
      },
    },
    doorbellIn: side.doorbells.doorbellIn,
    runtime: nodeRuntime,
    onStage: (stage) => {
      if (ready || (stage !== 'layout-written' && stage !== 'own-head-init')) return;
      ready = true;
      process.stdout.write(`ready ${path}\n`);
    },
  });
  process.once('SIGTERM', () => {
    process.stdout.write(`published ${published}\n`, () => {
      void started.then((r) => r.ok && r.value.close());
      side.close();
      process.exit(0);
    });
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`${errorText(e)}\n`);
  process.exit(1);
});
