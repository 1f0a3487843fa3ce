/**
 * Results into LAVA's test shell: one `lava-test-case NAME --result pass|fail|skip
 * [--measurement N --units U]` call per case. LAVA takes a case name as one word of
 * [-_.a-zA-Z0-9]; the command's name leads it, so probe, exercise and capture in one test
 * definition do not overwrite each other's cases.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

import { systemErrorText } from '../systemError';
import type { ResultCase, ResultSuite } from './results';

/** The lava-test-case on PATH, or null outside a LAVA test shell. */
export function findLavaTestCase(): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const file = join(dir, 'lava-test-case');
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      // Not in this folder.
    }
  }
  return null;
}

/** "dev 1 virtio-rng bring-up" of probe → "probe.dev1.virtio-rng.bring-up"; "R-X (error)" of check → "check.R-X.error". */
export function lavaCaseName(command: string, c: ResultCase): string {
  const words = c.name.replace(/\bdev (\d+)/g, 'dev$1').replace(/[()]/g, '').split(/\s+/);
  return [command, ...words].map((w) => w.replace(/[^-_.a-zA-Z0-9]/g, '_')).join('.');
}

export function lavaArgs(command: string, c: ResultCase): string[] {
  const measured = c.measurement && Number.isFinite(c.measurement.value) ? ['--measurement', String(c.measurement.value), '--units', c.measurement.units] : [];
  return [lavaCaseName(command, c), '--result', c.status, ...measured];
}

/** Reports every case; the lines saying which could not be reported. */
export function reportToLava(lavaTestCase: string, suite: ResultSuite): string[] {
  const undelivered: string[] = [];
  for (const c of suite.cases) {
    const args = lavaArgs(suite.command, c);
    // Its signal lines go to stderr, which the test shell's log holds too: stdout stays the command's report (one JSON document with --json).
    const r = spawnSync(lavaTestCase, args, { stdio: ['ignore', 2, 2], timeout: 30_000 });
    if (r.error) undelivered.push(`lava-test-case ${args[0]} could not run: ${systemErrorText(r.error)}`);
    else if (r.status !== 0) undelivered.push(`lava-test-case ${args[0]} exited with status ${r.status ?? r.signal}`);
  }
  return undelivered;
}
