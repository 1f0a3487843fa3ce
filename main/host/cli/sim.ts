/** `sim --shm FILE`: a simulated board's device side as its own process, on a shared-memory file. */
import { parseArgs } from 'node:util';

import { FAULT_OPTIONS, faultHelp, faultyBoardFromArgs } from '../sim/faults';
import { runSimOnShmFile } from '../sim/shmBoard';
import { loadProfile, out, UsageError } from './common';
import { errorText } from '../../../src/util/errorText';

export async function cmdSim(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { board: { type: 'string' }, profile: { type: 'string' }, shm: { type: 'string' }, doorbells: { type: 'string' }, ...FAULT_OPTIONS } });
  if (values.fault === 'help') {
    out(faultHelp());
    return 0;
  }
  if (values.shm === undefined) throw new UsageError('sim needs --shm FILE (e.g. /dev/shm/amp0): the file the board side creates and the workbench attaches to with --link shm-file:FILE');
  const doorbells = values.doorbells ?? 'socket';
  if (doorbells !== 'socket' && doorbells !== 'poll') throw new UsageError(`--doorbells expects socket or poll, saw "${doorbells}"`);
  const profile = loadProfile(values);
  const log = (text: string): void => void process.stderr.write(`sim ${profile.id}: ${text}\n`);
  const faulty = faultyBoardFromArgs(values, profile, values.shm, log);
  if (!faulty.ok) throw new UsageError(faulty.error);
  const board = await runSimOnShmFile(profile, values.shm, { doorbells, log, ...faulty.value?.shmOptions });
  // One line on stdout once a workbench can attach: scripts and tests wait for it.
  process.stdout.write(`ready ${values.shm} ${board.socketPath ?? 'poll'}\n`);
  return new Promise<number>((resolve) => {
    const stop = (code: number) =>
      void board.close().then(() => {
        faulty.value?.close();
        resolve(code);
      });
    board.attached.catch((e: unknown) => {
      log(errorText(e));
      stop(1);
    });
    process.once('SIGTERM', () => stop(0));
    process.once('SIGINT', () => stop(0));
  });
}
