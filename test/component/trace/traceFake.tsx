/**
 * A trace for component tests (a .tsx file so it is type-checked with the renderer's DOM types):
 * rows made on demand from their index (so a million cost nothing), served by a fake WorkbenchApi through trace.rows / trace.record with a small filter evaluator
 * covering what the Trace view sends (problem, msg, seq, token, type, dev, kind; ==, !=, <, >; &&, ||, !, parentheses).
 * Anything else is a bad-filter error with the column of the token it could not read, as the
 * engine reports one. Also the jsdom layout the virtualizer needs (docs/stack.md §11 pitfall 11).
 */
import type { RecordDetail, TraceRow, WorkbenchError } from '../../../src/api/workbench';
import { fakeApi, type FakeApi, type Handlers } from '../fakeApi';

/** Seq = index + SEQ_OFFSET, so a mix-up of the two shows. */
export const SEQ_OFFSET = 10;
/** The fake capture's wall-clock start (trace.info startWallNs): 2025-11-21 04:40:00.123456789 UTC. */
export const FAKE_START_WALL_NS = 1_763_700_000_123_456_789n;
/** Every PROBLEM_EVERY-th record is malformed. */
export const PROBLEM_EVERY = 97;

/** Repeating pattern: GET_CONFIG request, its response, EVENT_AVAIL, EVENT_USED. */
export function makeRow(index: number): TraceRow {
  const phase = index % 4;
  const token = Math.floor(index / 4) % 4096;
  const base = { index, seq: index + SEQ_OFFSET, timeNs: index * 1000, kind: 'message' as const, channel: 0, size: 16, ...(index > 0 ? { deltaNs: 1000 } : {}) };
  const problems: TraceRow['problems'] = index % PROBLEM_EVERY === 5 ? ['truncated'] : [];
  if (phase === 0) return { ...base, dir: 'driver-to-device', dev: 1, name: 'GET_CONFIG', token, summary: `offset 0 length 8`, latencyNs: null, pairSeq: null, problems };
  if (phase === 1)
    return { ...base, dir: 'device-to-driver', dev: 1, name: 'GET_CONFIG', token, summary: 'generation 3', latencyNs: 1500, pairSeq: index - 1 + SEQ_OFFSET, problems };
  return { ...base, dir: phase === 2 ? 'driver-to-device' : 'device-to-driver', dev: 1, name: phase === 2 ? 'EVENT_AVAIL' : 'EVENT_USED', token: 0, summary: 'vq 0', latencyNs: null, pairSeq: null, problems };
}

export function makeDetail(row: TraceRow): RecordDetail {
  const data = Array.from({ length: 16 }, (_, i) => ((row.seq + i) & 0xff).toString(16).padStart(2, '0')).join('');
  return {
    row,
    fields: [
      { name: 'msg_type', offset: 0, size: 1, value: 1, part: 'header' },
      { name: 'msg_id', offset: 1, size: 1, value: 0x12, part: 'header' },
      { name: 'dev_num', offset: 2, size: 2, value: 1, part: 'header' },
      { name: 'token', offset: 4, size: 2, value: row.token, part: 'header' },
      { name: 'msg_size', offset: 6, size: 2, value: 16, part: 'header' },
      { name: 'offset', offset: 8, size: 4, value: 0, part: 'payload' },
      { name: 'length', offset: 12, size: 4, value: 8, part: 'payload' },
    ],
    problems: row.problems.length > 0 ? [{ offset: 14, code: 'truncated', reason: 'expected 24 bytes for GET_CONFIG, saw 16' }] : [],
    data,
    text: null,
    vqIndex: null,
    buffer: null,
    flags: row.name.startsWith('EVENT') ? ['event'] : row.pairSeq === null ? ['request'] : ['response'],
    revision: 'r4',
    unheld: null,
    wallNs: (FAKE_START_WALL_NS + BigInt(row.timeNs)).toString(),
  };
}

// ---- a filter evaluator for the fake ------------------------------------------------------------

type Pred = (r: TraceRow) => boolean;
class BadFilter extends Error {
  constructor(
    readonly column: number,
    message: string,
  ) {
    super(message);
  }
}

function compile(text: string): Pred {
  const toks = [...text.matchAll(/\s*(\(|\)|&&|\|\||==|!=|>|<|!|[A-Za-z_][A-Za-z_0-9-]*|\d+|\S)/g)].map((m) => ({ t: m[1]!, col: m.index + m[0].indexOf(m[1]!) + 1 }));
  let i = 0;
  const peek = (): string | undefined => toks[i]?.t;
  const fail = (): never => {
    const tok = toks[i];
    throw new BadFilter(tok?.col ?? text.length + 1, tok ? `unexpected "${tok.t}"` : 'unexpected end');
  };
  const atom = (): Pred => {
    if (peek() === '!') {
      i++;
      const inner = atom();
      return (r) => !inner(r);
    }
    if (peek() === '(') {
      i++;
      const e = or();
      if (peek() !== ')') fail();
      i++;
      return e;
    }
    const field = peek();
    if (field === 'problem') {
      i++;
      return (r) => r.problems.length > 0;
    }
    if (!field || !['seq', 'token', 'dev', 'msg', 'type', 'kind'].includes(field)) return fail();
    i++;
    const op = peek();
    // A bare dev: the record has a device.
    if (field === 'dev' && op !== '==' && op !== '!=' && op !== '>' && op !== '<') return (r) => r.dev !== null;
    if (op !== '==' && op !== '!=' && op !== '>' && op !== '<') return fail();
    i++;
    const value = peek() ?? fail();
    i++;
    const get = (r: TraceRow): string | number | null =>
      field === 'seq'
        ? r.seq
        : field === 'token'
          ? r.token
          : field === 'dev'
            ? r.dev
            : field === 'msg'
              ? r.name
              : field === 'kind'
                ? r.kind
                : r.pairSeq !== null
                  ? 'response'
                  : r.name.startsWith('EVENT')
                    ? 'event'
                    : 'request';
    const n = Number(value);
    return (r) => {
      const v = get(r);
      if (op === '==') return String(v) === value;
      if (op === '!=') return String(v) !== value;
      return typeof v === 'number' && (op === '>' ? v > n : v < n);
    };
  };
  const and = (): Pred => {
    let left = atom();
    while (peek() === '&&') {
      i++;
      const l = left;
      const r = atom();
      left = (x) => l(x) && r(x);
    }
    return left;
  };
  const or = (): Pred => {
    let left = and();
    while (peek() === '||') {
      i++;
      const l = left;
      const r = and();
      left = (x) => l(x) || r(x);
    }
    return left;
  };
  const e = or();
  if (i < toks.length) fail();
  return e;
}

export interface FakeTrace extends FakeApi {
  /** Records in the trace now; `grow` adds some and says so with trace.appended. */
  total: number;
  grow(n: number): void;
}

/**
 * A fake engine holding `total` records of makeRow (`rowAt` to change some). `noMatches`: every
 * filter matches nothing, for traces too big for this evaluator's full scans.
 */
export function fakeTrace(total: number, extra: Handlers = {}, rowAt: (i: number) => TraceRow = makeRow, noMatches = false): FakeTrace {
  const views = new Map<string, number[]>();
  const state = { total };
  /** Positions of a filter's matches; computed once per filter and size (the fake stays small when filtered). */
  const view = (filter: string): number[] | WorkbenchError => {
    let pred: Pred;
    try {
      pred = compile(filter);
    } catch (e) {
      if (!(e instanceof BadFilter)) throw e;
      return { code: 'bad-filter', message: `filter "${filter}": error at column ${e.column}: ${e.message}`, field: 'params.filter', column: e.column };
    }
    if (noMatches) return [];
    const key = `${filter}#${state.total}`;
    let v = views.get(key);
    if (!v) {
      v = [];
      for (let p = 0; p < state.total; p++) if (pred(rowAt(p))) v.push(p);
      views.set(key, v);
    }
    return v;
  };
  const api = fakeApi({
    'trace.rows': ({ from, count, filter, colourRules, sort }) => {
      // Colour rules as the engine applies them: the index of the first that matches.
      const rules = (colourRules ?? []).map(compile);
      const coloured = (r: TraceRow): TraceRow => {
        const colour = rules.findIndex((test) => test(r));
        return colour < 0 ? r : { ...r, colour };
      };
      if (sort) {
        // Sorted as the engine does: by the column, ties in trace order, rows without the value last.
        const v = filter ? view(filter) : Array.from({ length: state.total }, (_, p) => p);
        if (!Array.isArray(v)) return { ok: false, error: v };
        const key = (r: TraceRow): number | string | null =>
          ({ seq: r.seq, time: r.timeNs, dir: r.dir, dev: r.dev, msg: r.name, token: r.token, queue: r.channel, size: r.size, latency: r.latencyNs })[sort.column];
        const order = v.map(rowAt).sort((a, b) => {
          const [x, y] = [key(a), key(b)];
          if (x === y) return a.index - b.index;
          if (x === null) return 1;
          if (y === null) return -1;
          return (x < y ? -1 : 1) * (sort.descending ? -1 : 1);
        });
        return { ok: true, result: { total: order.length, from, rows: order.slice(from, from + count).map(coloured) } };
      }
      if (!filter) {
        const rows: TraceRow[] = [];
        for (let p = from; p < Math.min(state.total, from + count); p++) rows.push(coloured(rowAt(p)));
        return { ok: true, result: { total: state.total, from, rows } };
      }
      const v = view(filter);
      if (!Array.isArray(v)) return { ok: false, error: v };
      return { ok: true, result: { total: v.length, from, rows: v.slice(from, from + count).map((p) => coloured(rowAt(p))) } };
    },
    'trace.record': ({ seq }) => {
      const p = seq - SEQ_OFFSET;
      if (p < 0 || p >= state.total) return { ok: false, error: { code: 'not-found', message: `no record with seq ${seq}` } };
      return { ok: true, result: makeDetail(rowAt(p)) };
    },
    ...extra,
  });
  return Object.assign(api, {
    get total() {
      return state.total;
    },
    set total(n: number) {
      state.total = n;
    },
    grow(n: number) {
      state.total += n;
      api.emit({ event: 'trace.appended', data: { count: n, total: state.total } });
    },
  });
}

/** jsdom has no layout: give every element the box of a 1000×440 px scroller (20 rows of 22 px). */
export function stubLayout(): () => void {
  const proto = HTMLElement.prototype;
  const saved = ['clientHeight', 'clientWidth', 'offsetHeight', 'offsetWidth'].map((k) => [k, Object.getOwnPropertyDescriptor(proto, k)] as const);
  Object.defineProperty(proto, 'clientHeight', { configurable: true, get: () => 440 });
  Object.defineProperty(proto, 'clientWidth', { configurable: true, get: () => 1000 });
  Object.defineProperty(proto, 'offsetHeight', { configurable: true, get: () => 440 });
  Object.defineProperty(proto, 'offsetWidth', { configurable: true, get: () => 1000 });
  return () => {
    for (const [k, d] of saved) {
      if (d) Object.defineProperty(proto, k, d);
      else delete (proto as unknown as Record<string, unknown>)[k];
    }
  };
}
