/**
 * A reader that stops reading: `amp-workbench … | head` must end quietly (status 0, nothing on
 * stderr), never with Node's EPIPE error — through a real pipe to a process that exits early.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openCapture } from './cliRun';

const BIN = resolve(__dirname, '../../main/host/cli/amp-workbench.cjs');

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'amp-pipe-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `amp-workbench ARGS < input | READER`: the CLI's exit status, its stderr, and what the reader printed. */
function piped(args: string[], reader: string, input = '/dev/null'): { status: number; stderr: string; read: string } {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const script = `${q(process.execPath)} ${q(BIN)} ${args.map(q).join(' ')} < ${q(input)} 2> ${q(join(dir, 'stderr'))} | ${reader}; echo "status $\{PIPESTATUS[0]}"; cat ${q(join(dir, 'stderr'))}`;
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 60_000 });
  const m = /^([\s\S]*?)status (\d+)\n([\s\S]*)$/.exec(r.stdout);
  if (!m) throw new Error(`unexpected output: ${r.stdout} ${r.stderr}`);
  return { read: m[1]!, status: Number(m[2]), stderr: m[3]! };
}

describe('a closed standard output', () => {
  it('ends decode quietly with status 0 when head has read enough', () => {
    // 20,000 messages: far more than a pipe buffer holds, so decode writes after head has gone.
    const input = join(dir, 'messages.txt');
    writeFileSync(input, '00 02 01 00 01 00 08 00\n'.repeat(20_000));
    const r = piped(['decode', '--rev', 'r4'], 'head -n 2', input);
    expect(r.read).toBe('r4 GET_DEVICE_INFO dev_num 1 token 1 msg_size 8\nr4 GET_DEVICE_INFO dev_num 1 token 1 msg_size 8\n');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 60_000);

  it('ends a capture whose reader is gone with status 0 and its capture closed', () => {
    const cap = join(dir, 'cap');
    const r = piped(['capture', '--duration', '300ms', '--out', cap], 'true');
    // stderr holds the bring-up progress, as always; no Node error.
    expect(r.stderr).toContain('DRIVER_OK');
    expect(r.stderr).not.toMatch(/EPIPE|node:|Error/);
    expect(r.status).toBe(0);
    expect(openCapture(cap).meta.board).toBeTruthy();
  }, 60_000);
});
