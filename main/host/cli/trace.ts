/** The trace commands: export, stats, check, wireshark-dissector (capture is with the board commands, ./board.ts). */
import { parseArgs } from 'node:util';

import { forEachRecord } from '../../../src/trace/block';
import { checkRecords, PEERS, RULES, type Finding, type PeerName } from '../../../src/trace/conformance';
import { compileFilter, renderFilterError } from '../../../src/trace/filter';
import { computeStats, formatStats, StatsAccumulator } from '../../../src/trace/stats';
import { EXPORT_FORMATS, type ExportFormat } from '../../../src/trace/exportWriter';
import { exportCapture } from '../trace/export';
import type { Capture } from '../trace/journal';
import { loadCapture } from '../trace/load';
import { installDissector } from '../trace/wireshark';
import { durationOption, out, printCount, table, UsageError } from './common';
import { publishResults, RESULT_OPTIONS, resultSinks, type ResultCase } from './results';

const sumCounts = (xs: readonly { count: number }[]): number => xs.reduce((n, x) => n + x.count, 0);

function openCaptureArg(path: string | undefined, command: string): Capture {
  if (path === undefined) throw new UsageError(`${command} needs a CAPTURE: a capture folder, or a pcapng or JSONL file this workbench exported`);
  const o = loadCapture(path);
  // Unreadable data is exit status 1, not a usage error.
  if (!o.ok) throw new Error(o.error);
  return o.value;
}

/** The capture's notes, once it has been read through (a streamed file finds damage as it goes). */
function printNotes(capture: Capture): void {
  for (const n of capture.notes) process.stderr.write(`note: ${n}\n`);
}

export async function cmdExport(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { format: { type: 'string' }, out: { type: 'string' }, filter: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } },
  });
  const format = values.format as ExportFormat | undefined;
  if (format === undefined || !EXPORT_FORMATS.includes(format)) throw new UsageError(`--format expects one of ${EXPORT_FORMATS.join(', ')}, saw ${values.format === undefined ? 'nothing' : `"${values.format}"`}`);
  if (values.out === undefined) throw new UsageError('export needs --out FILE');
  const capture = openCaptureArg(positionals[0], 'export');
  const fromNs = values.from === undefined ? undefined : durationOption('--from', values.from, 0);
  const toNs = values.to === undefined ? undefined : durationOption('--to', values.to, 0);
  if (fromNs !== undefined && toNs !== undefined && toNs < fromNs) throw new UsageError(`--to (${values.to}) is before --from (${values.from})`);
  const tty = process.stderr.isTTY === true;
  const r = exportCapture(capture, {
    format,
    out: values.out,
    ...(values.filter !== undefined ? { filter: values.filter } : {}),
    ...(fromNs !== undefined ? { fromNs } : {}),
    ...(toNs !== undefined ? { toNs } : {}),
    ...(tty ? { onProgress: (done: number, total: number) => process.stderr.write(`\rexporting ${done} / ${total} records (${Math.floor((100 * done) / Math.max(1, total))}%)`) } : {}),
  });
  if (tty) process.stderr.write('\n');
  printNotes(capture);
  if (!r.ok) {
    process.stderr.write(r.error + '\n');
    return r.error.startsWith('filter:') ? 2 : 1;
  }
  out(`${r.value.written} of ${r.value.scanned} records → ${values.out} (${format}, ${(r.value.bytes / 1e6).toFixed(2)} MB)`);
  printCount(r.value.problems, r.value.findings, false);
  return 0;
}

export async function cmdStats(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' }, filter: { type: 'string' } } });
  const capture = openCaptureArg(positionals[0], 'stats');
  const startMonoNs = capture.meta.startMonoNs;
  let stats;
  if (values.filter === undefined) {
    stats = computeStats(capture.blocks(), { startMonoNs });
  } else {
    const f = compileFilter(values.filter, { startMonoNs });
    if (!f.ok) throw new UsageError(`filter: error at column ${f.column}:\n${renderFilterError(values.filter, f)}`);
    const acc = new StatsAccumulator({ startMonoNs });
    forEachRecord(capture.blocks(), (v) => {
      if (f.value.test(v)) acc.add(v);
    });
    stats = acc.result();
  }
  printNotes(capture);
  if (values.json) out(JSON.stringify({ capture: capture.path, board: capture.meta.board, notes: capture.notes, ...stats }, null, 2));
  else out(`${capture.meta.board}: ${capture.count} records${values.filter === undefined ? '' : `, ${stats.records} matching ${values.filter}`}\n${formatStats(stats)}`);
  printCount(sumCounts(stats.problems), sumCounts(stats.findings), values.json === true);
  return 0;
}

/** Findings shown per rule and severity in the text report (the JSON has them all). */
const SHOWN_PER_GROUP = 3;

/**
 * A rule the capture violated, as a farm's result: failed when the rule's findings are errors
 * (check's exit status 1), passed with them as output when they are warnings or infos. Each
 * finding is the text report's line for it.
 */
function ruleCase(group: readonly Finding[], section: string): ResultCase {
  const first = group[0]!;
  const lines = group.map((f) => `record ${f.seq}: ${f.message}`);
  const properties = { section, severity: first.severity, count: group.length };
  const name = `${first.rule} (${first.severity})`;
  return first.severity === 'error' ? { name, status: 'fail', message: lines.join('\n'), properties } : { name, status: 'pass', properties, output: lines };
}

export async function cmdCheck(argv: string[]): Promise<number> {
  const started = process.hrtime.bigint();
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...RESULT_OPTIONS, json: { type: 'boolean' }, peer: { type: 'string' } } });
  if (positionals.length > 1) throw new UsageError(`check takes one CAPTURE, saw ${positionals.length}: ${positionals.join(' ')}`);
  const peerArg = values.peer;
  if (peerArg !== undefined && peerArg !== 'none' && !PEERS.includes(peerArg as PeerName)) {
    throw new UsageError(`--peer expects one of ${PEERS.join(', ')} or none, saw "${peerArg}"`);
  }
  const sinks = resultSinks(values);
  const capture = openCaptureArg(positionals[0], 'check');
  const peer = peerArg === undefined ? (capture.meta.peer ?? null) : peerArg === 'none' ? null : (peerArg as PeerName);
  const report = checkRecords(capture.blocks(), { peer, ...(capture.meta.absent ? { absent: capture.meta.absent } : {}) });
  printNotes(capture);
  const section = new Map<string, string>(RULES.map((r) => [r.id, r.section]));
  const groups = new Map<string, Finding[]>();
  for (const f of report.findings) {
    const key = `${f.rule}\0${f.severity}`;
    const g = groups.get(key);
    if (g) g.push(f);
    else groups.set(key, [f]);
  }
  if (values.json) {
    const findings = report.findings.map((f) => ({ rule: f.rule, section: f.section, severity: f.severity, seq: f.seq, dev: f.devNum, message: f.message }));
    out(JSON.stringify({ capture: capture.path, board: capture.meta.board, peer, errors: report.errors, warnings: report.warnings, infos: report.infos, checked: report.checked, recorded: report.recorded, findings }, null, 2));
  } else {
    const lines = [`${capture.meta.board}: ${report.checked} records checked${peer ? ` with the ${peer} quirk profile` : ''}`];
    if (groups.size > 0) {
      lines.push(table([['RULE', 'SECTION', 'SEVERITY', 'COUNT'], ...[...groups.values()].map((g) => [g[0]!.rule, section.get(g[0]!.rule)!, g[0]!.severity, String(g.length)])]));
      for (const g of groups.values()) {
        lines.push(`${g[0]!.rule} (${g[0]!.severity}):`);
        for (const f of g.slice(0, SHOWN_PER_GROUP)) lines.push(`  record ${f.seq}: ${f.message}`);
        if (g.length > SHOWN_PER_GROUP) lines.push(`  … ${g.length - SHOWN_PER_GROUP} more (--json lists them all)`);
      }
    }
    lines.push(`${report.errors} errors, ${report.warnings} warnings, ${report.infos} infos`);
    out(lines.join('\n'));
  }
  const properties = { capture: capture.path, peer: peer ?? 'none', checked: report.checked, errors: report.errors, warnings: report.warnings, infos: report.infos };
  // A capture that violates no rule still reports that it was checked.
  const cases = groups.size > 0 ? [...groups.values()].map((g) => ruleCase(g, section.get(g[0]!.rule)!)) : [{ name: 'conformance', status: 'pass' as const, properties: { checked: report.checked } }];
  return publishResults(sinks, { command: 'check', board: capture.meta.board, timeS: Number(process.hrtime.bigint() - started) / 1e9, properties, cases }, report.errors > 0 ? 1 : 0);
}

export async function cmdWiresharkDissector(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { install: { type: 'boolean' }, print: { type: 'boolean' }, dir: { type: 'string' } } });
  if (values.install === values.print) throw new UsageError('wireshark-dissector needs exactly one of --install (into your Wireshark plugins folder) or --print (to stdout)');
  const r = installDissector({ print: values.print === true, ...(values.dir !== undefined ? { dir: values.dir } : {}) });
  if (r.printed) process.stdout.write(r.lua);
  else out(r.message);
  return 0;
}
