/**
 * `sim --shm FILE` creating its file: when the file cannot be made whole, the command says why
 * and leaves nothing behind in the folder (no FILE.<pid>.<hex>.tmp).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { findBuiltinProfile } from '../../src/boards/builtin';
import { createShmFile, shmFileLayout } from '../../main/host/links/shmFile';

const BIN = resolve(__dirname, '../../main/host/cli/amp-workbench.cjs');
const root = mkdtempSync(join(tmpdir(), 'amp-simfile-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => mkdtempSync(join(root, `d${n++}-`));

const qemu = findBuiltinProfile('sim-qemu-amp-pci')!;

describe('sim --shm creating its file', () => {
  it('a file larger than the file-size limit: exit 1, the reason, and no temporary file left', () => {
    const dir = freshDir();
    const file = join(dir, 'amp0');
    // RLIMIT_FSIZE of 100 KiB: the temporary file is created, then its ftruncate to full size fails.
    const r = spawnSync('/bin/sh', ['-c', `ulimit -f 100 && exec "${process.execPath}" "${BIN}" sim --board sim-qemu-amp-pci --shm "${file}"`], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toBe(
      `amp-workbench: cannot create the shm file ${file} (${shmFileLayout(qemu).fileSize} bytes for board sim-qemu-amp-pci): the file-size limit (ulimit -f) is smaller (EFBIG)\n`,
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a header that cannot be encoded fails before any file exists', () => {
    const dir = freshDir();
    const longName = 'a-region-name-of-more-than-31-bytes';
    const profile = {
      ...qemu,
      regions: qemu.regions.map((r) => (r.name === qemu.bus.region ? { ...r, name: longName } : r)),
      bus: { ...qemu.bus, region: longName },
    };
    expect(() => createShmFile(profile, join(dir, 'amp0'))).toThrow(`region name "${longName}" is 35 bytes in UTF-8; the shm-file header holds at most 31`);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a folder that does not exist is named as such', () => {
    const file = join(root, 'no-such-folder', 'amp0');
    expect(() => createShmFile(qemu, file)).toThrow(`cannot create the shm file ${file} (${shmFileLayout(qemu).fileSize} bytes for board sim-qemu-amp-pci): the folder ${dirname(file)} does not exist; choose an existing folder`);
  });
});
