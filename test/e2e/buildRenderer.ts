/**
 * Global setup of the e2e project: builds the renderer into out/renderer before any e2e file runs,
 * so `npm test` (all CI runs) always tests the renderer of this checkout, not a stale build.
 */
import { build } from 'vite';

import config from '../../renderer/vite.config';

export default async function setup(): Promise<void> {
  await build({ ...config, configFile: false, logLevel: 'warn' });
}
