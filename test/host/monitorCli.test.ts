/**
 * `amp-workbench monitor` refusing what it cannot watch, in words: a simulated board in its
 * own session and a missing shm file (exit 1, what to run instead) and bad usage (exit 2).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

const BIN = resolve(__dirname, '../../main/host/cli/amp-workbench.cjs');
const root = mkdtempSync(join(tmpdir(), 'amp-moncli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const run = (...args: string[]) => spawnSync(process.execPath, [BIN, 'monitor', ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, AMP_WORKBENCH_CAPTURES: root } });

describe('amp-workbench monitor', () => {
  it('refuses a simulated board in its own session and says what to run instead', () => {
    const r = run('--board', 'sim-qemu-amp-pci', '--duration', '1s');
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toBe('1 problem, 0 findings\n');
    expect(r.stderr).toBe(
      'monitor of sim-qemu-amp-pci failed: a monitor watches memory that a driver and a device already share; board sim-qemu-amp-pci\'s simulator runs inside the session that drives it. ' +
        'Run the simulated board as its own process (amp-workbench sim --board sim-qemu-amp-pci --shm FILE), a driver on it (probe --link shm-file:FILE), and watch with --link shm-file:FILE\n',
    );
  });

  it('says what --poll-ms takes', () => {
    const r = run('--poll-ms', 'often');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('amp-workbench: --poll-ms expects 0 to 1000, saw "often"\n');
  });

  it('names the file a shm-file link needs', () => {
    const file = join(root, 'no-such-amp0');
    const r = run('--board', 'sim-qemu-amp-pci', '--link', `shm-file:${file}`);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`shm file ${file} does not exist: start the board side first (amp-workbench sim --board sim-qemu-amp-pci --shm ${file}) or check the path`);
  });
});
