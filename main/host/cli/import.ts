/**
 * `amp-workbench import LOG [--format …] [--rev …] --out CAPTURE`: a message log of a bus we
 * cannot attach to, as a capture folder that stats, check, export and the UI open like any other
 * (src/trace/import, docs/formats.md §5).
 */
import { closeSync, createWriteStream, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';

import { REVISIONS, type Revision } from '../../../src/protocol/types';
import { importMeta, planImport, recordImport, type ImportPlan } from '../../../src/trace/import/logImport';
import { LOG_FORMATS, PRESETS, type LogFormat } from '../../../src/trace/import/presets';
import { fileErrorText } from '../failure';
import { JournalWriter } from '../trace/journal';
import { appName } from '../version';
import { out, UsageError } from './common';

export const IMPORT_HELP = `amp-workbench import LOG [--format ${LOG_FORMATS.join('|')}] [--rev ${REVISIONS.join('|')}] --out CAPTURE [--json]

Turns a log of virtio-msg messages (LOG - : standard input) into a capture folder (new or empty). Without --format the
format is told from the lines; without --rev the revision is the format's, else detected from the
bytes. Formats:
${LOG_FORMATS.map((f) => `  ${f.padEnd(6)} ${PRESETS[f].source}\n         e.g. ${PRESETS[f].example}`).join('\n')}`;

/** Read size: the log is never held whole, only this much of it and the line being read. */
const CHUNK_BYTES = 1 << 20;

/** The lines of the file at `path` (LF or CRLF), read a chunk at a time; `name` is what errors call it. */
function* fileLines(path: string, name: string): Generator<string> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new Error(`cannot read log ${name}: ${fileErrorText(e, name, 'read')}`);
  }
  try {
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    const utf8 = new StringDecoder('utf8');
    let rest = '';
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK_BYTES, null);
      if (n === 0) break;
      const lines = (rest + utf8.write(buf.subarray(0, n))).split('\n');
      rest = lines.pop()!;
      for (const l of lines) yield l.endsWith('\r') ? l.slice(0, -1) : l;
    }
    // As "a\nb\n".split gives it: the text after the last newline is a line, empty or not.
    rest += utf8.end();
    yield rest.endsWith('\r') ? rest.slice(0, -1) : rest;
  } finally {
    closeSync(fd);
  }
}

export async function cmdImport(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { format: { type: 'string' }, rev: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' } },
  });
  if (positionals.length !== 1) throw new UsageError(`import takes one LOG file, saw ${positionals.length === 0 ? 'none' : positionals.join(' ')}`);
  const format = values.format;
  if (format !== undefined && !(LOG_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format expects one of ${LOG_FORMATS.join(', ')}, saw "${format}"`);
  const rev = values.rev;
  if (rev !== undefined && !(REVISIONS as readonly string[]).includes(rev)) throw new UsageError(`--rev expects one of ${REVISIONS.join(', ')}, saw "${rev}"`);
  if (values.out === undefined) throw new UsageError('import needs --out CAPTURE: a new or empty folder for the capture');
  const path = positionals[0]!;
  let p: ImportPlan;
  let records: number;

  let log = path;
  let mtimeNs: bigint;
  let spooled: string | null = null;
  try {
    if (path === '-') {
      // `dmesg | amp-workbench import - --out CAP`: read twice like a file, so spooled to one; the log ends now.
      spooled = join(mkdtempSync(join(tmpdir(), 'amp-import-')), 'stdin.log');
      await pipeline(process.stdin, createWriteStream(spooled));
      log = spooled;
      mtimeNs = BigInt(Date.now()) * 1_000_000n;
    } else {
      try {
        mtimeNs = statSync(path, { bigint: true }).mtimeNs;
      } catch (e) {
        throw new Error(`cannot read log ${path}: ${fileErrorText(e, path, 'read')}`);
      }
    }
    const opts = { ...(format ? { format: format as LogFormat } : {}), ...(rev ? { revision: rev as Revision } : {}) };
    const planned = planImport(fileLines(log, path), opts);
    if (!planned.ok) throw new Error(`${path}: ${planned.error}`);
    p = planned.value;
    const meta = importMeta(p, path === '-' ? 'standard input' : basename(path), appName(), mtimeNs);
    const writer = new JournalWriter({ dir: values.out, meta });
    records = recordImport(p, fileLines(log, path), meta, writer);
    writer.close(mtimeNs);
  } finally {
    if (spooled !== null) rmSync(dirname(spooled), { recursive: true, force: true });
  }
  if (values.json) {
    out(JSON.stringify({ log: path, capture: values.out, format: p.format, revision: p.revision, messages: p.count, records, notes: p.notes }, null, 2));
  } else {
    for (const n of p.notes) process.stderr.write(`note: ${n}\n`);
    out(`${p.count} messages (${p.format} log, revision ${p.revision}) → ${values.out}: ${records} records`);
  }
  return 0;
}
