/**
 * `serve-device`: the workbench as the device side for a real driver (docs/linux-loopback.md):
 * Linux's virtio drivers through the loopback bus, or the driver at the other end of a shm file
 * or an ivshmem peer (a QEMU guest). Records like any session; runs until Ctrl-C or SIGTERM (exit
 * 0), or until the driver's side is gone (exit 1, saying why: the ivshmem peer left, the loopback
 * bus's device closed).
 */
import { parseArgs } from 'node:util';

import { findBuiltinProfile } from '../../../src/boards/builtin';
import { statusNames } from '../../../src/protocol/names';
import { serveOnLoopback, serveOnRingLink, servedDevices, type DeviceSession } from '../deviceSession';
import { openIvshmemLink } from '../links/ivshmem';
import { openLinuxLoopback } from '../links/linuxLoopback';
import { openShmBoardSide } from '../sim/shmBoard';
import { systemErrorText } from '../systemError';
import { BOARD_OPTIONS, linkOption, loadProfile, out, table, UsageError } from './common';
import type { Result } from '../../../src/util/result';

export const LOOPBACK_BOARD = 'sim-linux-loopback';

export async function cmdServeDevice(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...BOARD_OPTIONS, devices: { type: 'string' }, out: { type: 'string' } } });
  const { link } = linkOption(values.link);
  if (!link) throw new UsageError('serve-device needs --link linux-loopback[:/dev/virtio-msg-lb], shm-file:FILE or ivshmem[:SOCKET]: where the driver is');
  const profile = values.board === undefined && values.profile === undefined && link.kind === 'linux-loopback' ? findBuiltinProfile(LOOPBACK_BOARD)! : loadProfile(values);
  const devices = servedDevices(profile, values.devices);
  if (!devices.ok) throw new UsageError(devices.error);
  const log = (text: string): void => void process.stderr.write(`serve-device: ${text}\n`);
  // A stop asked for while the devices are being added is honoured once they are (then removed).
  const stopAsked = new Promise<null>((resolve) => {
    process.once('SIGTERM', () => resolve(null));
    process.once('SIGINT', () => resolve(null));
  });
  const opts = { capture: { dir: values.out }, log };
  let started: Result<DeviceSession>;
  try {
    switch (link.kind) {
      case 'linux-loopback': {
        const kernel = await openLinuxLoopback({
          ...(link.control !== undefined ? { control: link.control } : {}),
          ...(link.messages !== undefined ? { messages: link.messages } : {}),
          ...(link.messagesIn !== undefined && link.messagesOut !== undefined ? { messages: { read: link.messagesIn, write: link.messagesOut } } : {}),
          ...(link.pool !== undefined ? { pool: link.pool } : {}),
          ...(link.deviceTree !== undefined ? { deviceTree: link.deviceTree } : {}),
        });
        if (!kernel.ok) {
          log(kernel.error);
          return 1;
        }
        started = await serveOnLoopback(profile, kernel.value, devices.value, opts);
        break;
      }
      case 'shm-file': {
        const side = await openShmBoardSide(profile, link.file, link.doorbells ? { doorbells: link.doorbells } : {});
        started = await serveOnRingLink(
          profile,
          {
            description: `shm file ${link.file} (device side)`,
            busWindow: side.shm.busWindow,
            dataWindow: side.shm.dataWindow,
            dataPeerBase: profile.dataMemory.peerBase,
            doorbellIn: side.doorbells.doorbellIn,
            doorbellOut: side.doorbells.doorbellOut,
            lost: side.shm.lost,
            close: () => Promise.resolve(side.close()),
          },
          devices.value,
          opts,
        );
        break;
      }
      case 'ivshmem':
        started = await serveOnRingLink(profile, await openIvshmemLink(profile, link.socket), devices.value, opts);
        break;
      default:
        throw new UsageError(`serve-device serves on linux-loopback, shm-file or ivshmem, not on ${link.kind}`);
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    log(systemErrorText(e));
    return 1;
  }
  if (!started.ok) {
    log(started.error);
    return 1;
  }
  const session = started.value;
  process.stderr.write(`trace: ${session.trace.dir}\n`);
  // One line on stdout once the devices are offered: scripts and tests wait for it.
  out(`ready ${session.description}`);
  const stopped = await Promise.race([stopAsked, session.lost]);
  const state = session.devices();
  await session.close();
  out(
    table([
      ['DEV', 'DEVICE_ID', 'STATUS', 'NEGOTIATED', 'QUEUES'],
      ...state.map((d) => [
        String(d.devNum),
        String(d.deviceId),
        statusNames(d.status).join('|') || '0',
        `0x${d.negotiated.toString(16).padStart(16, '0')}`,
        d.queues.map((q) => `${q.index}:[${q.size}]@0x${q.descAddr.toString(16)}`).join(' '),
      ]),
    ]),
  );
  out(`${session.trace.records} records in ${session.trace.dir}`);
  const code = stopped === null ? 0 : 1;
  if (stopped !== null) log(`stopped: ${stopped}`);
  // A read the kernel's message device still blocks in (or a peer's socket) must not keep the process.
  setTimeout(() => process.exit(code), 500).unref();
  return code;
}
