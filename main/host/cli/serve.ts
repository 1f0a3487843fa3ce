/**
 * amp-workbench serve: web mode. Starts the workbench service and its web server on 127.0.0.1,
 * connects the board, prints the URL with this run's token, and runs until SIGINT/SIGTERM, when
 * the session is closed (its capture folder kept) and the server stopped.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { fileErrorText } from '../failure';
import { WorkbenchService } from '../service/workbench';
import { sessionsDir } from '../extcap/discovery';
import { startWebServer } from '../web/server';
import { BOARD_OPTIONS, out, UsageError } from './common';

/** Where the renderer build lands (electron-vite's out/renderer), when it exists. */
const DEFAULT_STATIC = resolve(__dirname, '../../../out/renderer');

export async function cmdServe(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...BOARD_OPTIONS,
      port: { type: 'string' },
      captures: { type: 'string' },
      static: { type: 'string' },
      'no-connect': { type: 'boolean' },
      role: { type: 'string' },
      devices: { type: 'string' },
    },
  });
  if (values.role !== undefined && values.role !== 'driver' && values.role !== 'device') throw new UsageError(`--role expects driver or device, saw "${values.role}"`);
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port expects a port number 0..65535 (0: any free port), saw "${values.port}"`);
  if (values.board !== undefined && values.profile !== undefined) throw new UsageError('give --board ID or --profile FILE, not both');
  let profileText: string | undefined;
  if (values.profile !== undefined) {
    try {
      profileText = readFileSync(values.profile, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read profile ${values.profile}: ${fileErrorText(e, values.profile, 'read')}`);
    }
  }
  const staticDir = values.static ?? (existsSync(DEFAULT_STATIC) ? DEFAULT_STATIC : null);
  const service = new WorkbenchService(values.captures !== undefined ? { capturesDir: resolve(values.captures) } : {});
  const server = await startWebServer({ backend: service, port, staticDir, announceIn: sessionsDir() });
  const stop = async (): Promise<void> => {
    await service.close();
    await server.close();
  };
  if (!values['no-connect']) {
    const off = service.onEvent((e) => {
      if (e.event === 'session.stage') process.stderr.write(`  ${e.data.stage}: ${e.data.detail}\n`);
    });
    const r = await service.handle('session.connect', {
      ...(values.board !== undefined ? { board: values.board } : {}),
      ...(profileText !== undefined ? { profileText, fileName: values.profile } : {}),
      ...(values.link !== undefined ? { link: values.link } : {}),
      ...(values.role !== undefined ? { role: values.role } : {}),
      ...(values.devices !== undefined ? { devices: values.devices } : {}),
    });
    off();
    if (!r.ok) {
      process.stderr.write(`amp-workbench serve: ${r.error.message}\n`);
      await stop();
      return r.error.code === 'bad-request' ? 2 : 1;
    }
    const s = r.result as { board: string; capture: string; bringUpError: string | null; devices: { devNum: number; deviceType: string; phase: string }[] };
    if (values.role === 'device') process.stderr.write(`serving the devices of ${s.board} on ${values.link}; recording to ${s.capture}\n`);
    else process.stderr.write(`connected to ${s.board}: ${s.devices.map((d) => `dev ${d.devNum} ${d.deviceType} ${d.phase}`).join(', ')}; recording to ${s.capture}\n`);
    if (s.bringUpError) process.stderr.write(`${s.bringUpError}\n`);
  }
  if (!staticDir) process.stderr.write('no UI build found in out/renderer (run npm run build:renderer, or npm run web which does): serving the Workbench API only\n');
  out(server.url);
  await new Promise<void>((done) => {
    const onSignal = (): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      done();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await stop();
  return 0;
}
