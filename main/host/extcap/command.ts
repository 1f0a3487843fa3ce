/** `amp-workbench wireshark-extcap --install [--dir DIR]`: the extcap entry and the dissector beside it (install.ts). */
import { parseArgs } from 'node:util';

import { out, UsageError } from '../cli/common';
import { installExtcap } from './install';

export async function cmdWiresharkExtcap(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { install: { type: 'boolean' }, dir: { type: 'string' } } });
  if (!values.install) throw new UsageError('wireshark-extcap needs --install (into your Wireshark extcap folder, or --dir DIR)');
  out(installExtcap({ dir: values.dir }).message);
  return 0;
}
