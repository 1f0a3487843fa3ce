/** Canned answers of the analysis methods, and a ViewNav that records what a view asked of the shell. */
import type { TraceRow, WorkbenchResult } from '../../src/api/workbench';
import type { ExportScope, ViewNav } from '../../renderer/src/ui/nav';

export interface NavLog extends ViewNav {
  jumps: number[];
  follows: string[];
  exports: ExportScope[];
}

export function navLog(): NavLog {
  const log: NavLog = {
    jumps: [],
    follows: [],
    exports: [],
    jump: (seq) => void log.jumps.push(seq),
    follow: (filter) => void log.follows.push(filter),
    exportScope: (scope) => void log.exports.push(scope),
  };
  return log;
}

export function traceRow(seq: number, over: Partial<TraceRow> = {}): TraceRow {
  return {
    index: seq,
    seq,
    timeNs: seq * 1000,
    kind: 'message',
    dir: 'driver-to-device',
    dev: 1,
    channel: 0,
    name: 'GET_CONFIG',
    token: 5,
    size: 16,
    summary: 'offset=0 length=4',
    latencyNs: null,
    pairSeq: null,
    problems: [],
    ...over,
  };
}

export const expertReport: WorkbenchResult<'trace.expert'> = {
  checked: 1234,
  errors: 3,
  warnings: 1,
  infos: 0,
  groups: [
    {
      rule: 'request-answered',
      severity: 'error',
      description: 'every request is answered before its timeout',
      docs: 'docs/protocol.md §11, §17.2',
      count: 3,
      items: [
        { seq: 41, dev: 1, message: 'GET_SHM dev 1 (record 40) got no response before its timeout' },
        { seq: 77, dev: 2, message: 'GET_SHM dev 2 (record 76) got no response before its timeout' },
      ],
    },
    {
      rule: 'records-dropped',
      severity: 'warning',
      description: 'records were lost: the capture has a gap',
      docs: 'docs/formats.md §6',
      count: 1,
      items: [{ seq: 900, dev: null, message: '12 records lost while the trace sink failed' }],
    },
  ],
};
