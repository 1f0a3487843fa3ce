/** The CLI as a user runs it (a separate Node process), and a capture it wrote, opened or failing the test. */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

import type { Capture } from '../../main/host/trace/journal';
import { loadCapture } from '../../main/host/trace/load';

const BIN = resolve(__dirname, '../../main/host/cli/amp-workbench.cjs');

/** Runs `amp-workbench ARGS`, with `input` on its standard input. */
export function runCli(args: string[], input?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000, ...(input === undefined ? {} : { input }) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function openCapture(path: string): Capture {
  const o = loadCapture(path);
  if (!o.ok) throw new Error(o.error);
  return o.value;
}
