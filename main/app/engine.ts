/**
 * Entry of the engine utility process (utilityProcess.fork from main.ts): the WorkbenchService on
 * process.parentPort, served by the plain-Node host loop of main/host/desktop/engineHost.ts.
 * argv: --captures DIR (where session captures go).
 */
import { parseArgs } from 'node:util';

import { serveEngine } from '../host/desktop/engineHost';
import { sessionsDir } from '../host/extcap/discovery';
import { WorkbenchService } from '../host/service/workbench';
import { parentHostPort } from './ports';

function main(): void {
  const parent = process.parentPort;
  if (!parent) {
    process.stderr.write('engine: this entry runs in an Electron utility process (utilityProcess.fork), which gives it process.parentPort; for a browser use `npm run web`\n');
    process.exit(2);
  }
  const { values } = parseArgs({ args: process.argv.slice(2), options: { captures: { type: 'string' } }, strict: false });
  const capturesDir = typeof values.captures === 'string' ? values.captures : undefined;
  const service = new WorkbenchService(capturesDir !== undefined ? { capturesDir } : {});
  const host = serveEngine(parentHostPort(parent), service, { announceIn: sessionsDir() });
  void host.done.then(() => process.exit(0));
}

main();
