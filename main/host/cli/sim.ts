/** `sim --shm FILE`: a simulated board's device side as its own process, on a shared-memory file. */
import { parseArgs } from 'node:util';

import { faultHelp, FaultyBoard, parseFaults } from '../sim/faults';
import { runSimOnShmFile } from '../sim/shmBoard';
import { loadProfile, UsageError } from './common';

export async function cmdSim(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { board: { type: 'string' }, profile: { type: 'string' }, shm: { type: 'string' }, doorbells: { type: 'string' }, fault: { type: 'string' }, published: { type: 'string' } },
  });
  if (values.fault === 'help') {
    process.stdout.write(`sim --fault NAME[=ARG][@N|@MESSAGE][,…]: @N after the board published N messages, @MESSAGE on a message it sends\n${faultHelp()}\n`);
    return 0;
  }
  if (values.shm === undefined) throw new UsageError('sim needs --shm FILE (e.g. /dev/shm/amp0): the file the board side creates and the workbench attaches to with --link shm-file:FILE');
  const doorbells = values.doorbells ?? 'socket';
  if (doorbells !== 'socket' && doorbells !== 'poll') throw new UsageError(`--doorbells expects socket or poll, saw "${doorbells}"`);
  const profile = loadProfile(values);
  const log = (text: string): void => void process.stderr.write(`sim ${profile.id}: ${text}\n`);
  let faulty: FaultyBoard | undefined;
  if (values.fault !== undefined || values.published !== undefined) {
    const parsed = values.fault === undefined ? { ok: true as const, faults: [] } : parseFaults(values.fault, profile);
    if (!parsed.ok) throw new UsageError(parsed.error);
    faulty = new FaultyBoard({ profile, filePath: values.shm, faults: parsed.faults, log, ...(values.published !== undefined ? { publishedPath: values.published } : {}) });
  }
  const board = await runSimOnShmFile(profile, values.shm, {
    doorbells,
    log,
    ...(faulty ? { sendThrough: faulty.sendThrough, onMessage: faulty.onMessage, onAttached: faulty.onAttached } : {}),
  });
  // One line on stdout once a workbench can attach: scripts and tests wait for it.
  process.stdout.write(`ready ${values.shm} ${board.socketPath ?? 'poll'}\n`);
  return new Promise<number>((resolve) => {
    const stop = (code: number) =>
      void board.close().then(() => {
        faulty?.close();
        resolve(code);
      });
    board.attached.catch((e: unknown) => {
      log(e instanceof Error ? e.message : String(e));
      stop(1);
    });
    process.once('SIGTERM', () => stop(0));
    process.once('SIGINT', () => stop(0));
  });
}
