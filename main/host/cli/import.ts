/**
 * `amp-workbench import LOG [--format …] [--rev …] --out CAPTURE`: a message log of a bus we
 * cannot attach to, as a capture folder that stats, check, export and the UI open like any other
 * (src/trace/import, docs/formats.md §5).
 */
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

import { REVISIONS, type Revision } from '../../../src/protocol/types';
import { importMeta, prepareImport, recordImport } from '../../../src/trace/import/logImport';
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

  let text: string;
  let mtimeNs: bigint;
  if (path === '-') {
    // `dmesg | amp-workbench import - --out CAP`: the log ends now.
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    text = Buffer.concat(chunks).toString('utf8');
    mtimeNs = BigInt(Date.now()) * 1_000_000n;
  } else {
    try {
      text = readFileSync(path, 'utf8');
      mtimeNs = statSync(path, { bigint: true }).mtimeNs;
    } catch (e) {
      throw new Error(`cannot read log ${path}: ${fileErrorText(e, path, 'read')}`);
    }
  }
  const prepared = prepareImport(text, { ...(format ? { format: format as LogFormat } : {}), ...(rev ? { revision: rev as Revision } : {}) });
  if (!prepared.ok) throw new Error(`${path}: ${prepared.error}`);
  const p = prepared.value;
  const meta = importMeta(p, path === '-' ? 'standard input' : basename(path), appName(), mtimeNs);
  const writer = new JournalWriter({ dir: values.out, meta });
  const records = recordImport(p, meta, writer);
  writer.close(mtimeNs);
  if (values.json) {
    out(JSON.stringify({ log: path, capture: values.out, format: p.format, revision: p.revision, messages: p.messages.length, records, notes: p.notes }, null, 2));
  } else {
    for (const n of p.notes) process.stderr.write(`note: ${n}\n`);
    out(`${p.messages.length} messages (${p.format} log, revision ${p.revision}) → ${values.out}: ${records} records`);
  }
  return 0;
}
