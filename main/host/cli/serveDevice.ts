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
import { deviceSideLinkProblem, openDeviceSession, servedDevices, type DeviceSession } from '../deviceSession';
import { systemErrorText } from '../systemError';
import { BOARD_OPTIONS, linkOption, loadProfile, out, table, UsageError } from './common';
import type { Result } from '../../../src/util/result';

export const LOOPBACK_BOARD = 'sim-linux-loopback';

const USAGE = `Usage: amp-workbench serve-device --link SPEC [--board ID | --profile FILE] [--devices KIND[:DEV_NUM],…] [--out FOLDER]

Serves the rng, i2c and console device models to a real driver until Ctrl-C, recording the session.
On shm-file and ivshmem, a driver that stops is followed by the next: the devices are reset and the
queues laid out again, in the same capture.
  --link linux-loopback[:CONTROL][,msg=DEV][,pool=PATH][,dt=DIR]   Linux's loopback bus (default board ${LOOPBACK_BOARD})
  --link shm-file:FILE[,poll]   the device side of a shm file (creates it, as sim --shm does)
  --link ivshmem[:SOCKET]       a peer of an ivshmem-server (e.g. beside a QEMU guest's driver)
  --devices                     the devices to serve (default: the profile's sim.devices)
  --out FOLDER                  the capture folder (default: a rolling capture)`;

export async function cmdServeDevice(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...BOARD_OPTIONS, devices: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    out(USAGE);
    return 0;
  }
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
  const wrongLink = deviceSideLinkProblem(link.kind);
  if (wrongLink) throw new UsageError(wrongLink);
  let started: Result<DeviceSession>;
  try {
    started = await openDeviceSession(profile, link, devices.value, opts);
  } catch (e) {
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
