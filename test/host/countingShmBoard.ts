/**
 * A simulated board's device side on a shm file as its own process (like `amp-workbench sim
 * --shm`, main/host/sim/shmBoard.ts), that also counts the messages it publishes: its endpoint
 * rings the doorbell once per message placed in the queue (src/bus/endpoint.ts), and nothing
 * else rings it. Prints "ready" once a workbench can attach, and "published N" on SIGTERM, so a
 * test can check that a capture holds every message the board side published.
 *
 * Usage: countingShmBoard.cjs BOARD_ID FILE
 */
import { findBuiltinProfile } from '../../src/boards/builtin';
import { startSimBoard } from '../../src/sim/board';
import { nodeRuntime } from '../../main/host/runtime';
import { openShmBoardSide } from '../../main/host/sim/shmBoard';

async function main(): Promise<void> {
  const [id = '', path = ''] = process.argv.slice(2);
  const profile = findBuiltinProfile(id);
  if (!profile) throw new Error(`unknown board ${id}`);
  const side = await openShmBoardSide(profile, path);
  let published = 0;
  let ready = false;
  const started = startSimBoard({
    // The board waits for its driver as long as it runs, like the sim command's board.
    profile: { ...profile, bus: { ...profile.bus, timeouts: { ...profile.bus.timeouts, peerMs: 3_600_000 } } },
    busWindow: side.shm.busWindow,
    dataWindow: side.shm.dataWindow,
    doorbellOut: {
      ring: () => {
        published++;
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
      void started.then((r) => r.ok && r.board.close());
      side.close();
      process.exit(0);
    });
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
