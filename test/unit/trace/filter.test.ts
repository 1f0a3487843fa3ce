/**
 * The filter language: golden parse trees, located errors, every field and operator checked
 * against an independent predicate over plain records (names from describeRecord, which
 * decodes), and properties: printed trees parse back to themselves, garbage never throws.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PROBLEM_CODES } from '../../../src/protocol/types';
import { forEachRecord, fromRecords } from '../../../src/trace/block';
import { RULES } from '../../../src/trace/conformance';
import { describeRecord } from '../../../src/trace/describe';
import { compileFilter, formatFilter, parseDurationNs, parseFilter, renderFilterError, type FilterNode, type FilterValue } from '../../../src/trace/filter';
import { recordName } from '../../../src/trace/names';
import { problemCodes, RECORD_FLAGS, type TraceRecord } from '../../../src/trace/record';
import { sampleRecords, START_MONO_NS } from './sample';

const records = sampleRecords();
const blocks = fromRecords(records);

/** Seqs of the records the filter accepts. */
function select(text: string): number[] {
  const c = compileFilter(text, { startMonoNs: START_MONO_NS });
  if (!c.ok) throw new Error(renderFilterError(text, c));
  const out: number[] = [];
  forEachRecord(blocks, (v) => {
    if (c.value.test(v)) out.push(v.seq);
  });
  return out;
}
const expected = (p: (r: TraceRecord) => boolean): number[] => records.filter(p).map((r) => r.seq);

const name = (r: TraceRecord): string => describeRecord(r).name;
const ruleOf = (r: TraceRecord): string => RULES[r.msgId]!.id;
const isMsg = (r: TraceRecord): boolean => r.kind === 'message' && (r.flags & RECORD_FLAGS.noHeader) === 0;
const t = (r: TraceRecord): number => Number(r.monoNs - START_MONO_NS);
const lat = (r: TraceRecord): number | null => (r.kind === 'message' && r.pairSeq !== null ? Number(r.latencyNs) : null);

/** Drops columns so trees written by hand and re-parsed trees compare by structure. */
function shape(tree: FilterNode): unknown {
  return JSON.parse(JSON.stringify(tree, (k: string, v: unknown) => (k === 'column' || k === 'opColumn' ? undefined : v)));
}

describe('names', () => {
  it('recordName gives the name describeRecord decodes, for every sample record', () => {
    forEachRecord(blocks, (v) => {
      expect(recordName(v)).toBe(describeRecord(v).name);
    });
  });
});

describe('parseFilter', () => {
  it('builds the golden tree with columns', () => {
    expect(parseFilter('dev == 1 && msg == GET_VQUEUE || !problem')).toEqual({
      ok: true,
      value: {
        type: 'or',
        left: {
          type: 'and',
          left: { type: 'compare', field: 'dev', column: 1, op: '==', opColumn: 5, value: { kind: 'number', value: 1, text: '1', unit: null, column: 8 } },
          right: { type: 'compare', field: 'msg', column: 13, op: '==', opColumn: 17, value: { kind: 'name', value: 'GET_VQUEUE', column: 20 } },
        },
        right: { type: 'not', operand: { type: 'field', field: 'problem', column: 35 } },
      },
    });
  });

  it('reads hex, durations, strings, ranges and sets', () => {
    expect(parseFilter('time in 1.5s..2s')).toEqual({
      ok: true,
      value: {
        type: 'range',
        field: 'time',
        column: 1,
        from: { kind: 'number', value: 1.5, text: '1.5', unit: 's', column: 9 },
        to: { kind: 'number', value: 2, text: '2', unit: 's', column: 15 },
      },
    });
    expect(parseFilter('msg in {GET_VQUEUE, 0x0c}')).toEqual({
      ok: true,
      value: {
        type: 'set',
        field: 'msg',
        column: 1,
        values: [
          { kind: 'name', value: 'GET_VQUEUE', column: 9 },
          { kind: 'number', value: 12, text: '0x0c', unit: null, column: 21 },
        ],
      },
    });
    expect(parseFilter('msg ~ "a \\"b\\" \\\\"')).toMatchObject({ ok: true, value: { type: 'compare', op: '~', value: { kind: 'string', value: 'a "b" \\' } } });
    expect(parseFilter('latency >= 250µs')).toMatchObject({ ok: true, value: { value: { value: 250, unit: 'µs' } } });
  });

  it('binds ! tighter than && tighter than ||, left to right, and honours parentheses', () => {
    const s = (text: string): string => {
      const p = parseFilter(text);
      if (!p.ok) throw new Error(p.error);
      const go = (n: FilterNode): string =>
        n.type === 'or' || n.type === 'and' ? `(${n.type} ${go(n.left)} ${go(n.right)})` : n.type === 'not' ? `(not ${go(n.operand)})` : n.type === 'field' ? n.field : 'cmp';
      return go(p.value);
    };
    expect(s('dev || dir && rev')).toBe('(or dev (and dir rev))');
    expect(s('dev && dir || rev')).toBe('(or (and dev dir) rev)');
    expect(s('!dev && dir')).toBe('(and (not dev) dir)');
    expect(s('!(dev && dir)')).toBe('(not (and dev dir))');
    expect(s('dev || dir || rev')).toBe('(or (or dev dir) rev)');
    expect(s('(dev || dir) && !!rev')).toBe('(and (or dev dir) (not (not rev)))');
    expect(s('dev and dir or not rev')).toBe('(or (and dev dir) (not rev))');
    expect(s('dev == 1 && size > 8')).toBe('(and cmp cmp)');
  });

  it('says what it expected, what it saw, and where', () => {
    const cases: [string, number, string][] = [
      ['', 1, 'expected a filter expression, saw the end of the filter'],
      ['dev ==', 7, "expected a value after '==', saw the end of the filter"],
      ['dev == 1 2', 10, "expected '&&', '||' or the end of the filter, saw '2'"],
      ['(dev == 1', 10, "expected ')' or an operator ('&&', '||'), saw the end of the filter"],
      ['dev = 1', 5, "unexpected character '=' (comparisons use '==')"],
      ['dev == 1 & dir', 10, "unexpected character '&' (use '&&')"],
      ['&& dev', 1, "expected a field name, '(' or '!', saw '&&'"],
      ['msg ~ "GET', 7, `unterminated string: expected a closing '"' before the end of the filter`],
      ['latency > 10xs', 13, "unexpected 'xs' after the number 10: units are ns, us (µs), ms, s"],
      ['msg == 0x0cms', 12, "unexpected 'ms' after the number 0x0c: a hex number takes no unit"],
      ['time in 1s 2s', 12, "expected '..' in the range, saw '2'"],
      ['dev in {1, 2', 13, "expected ',' or '}', saw the end of the filter"],
      ['dev == 99999999999999999999', 8, 'number 99999999999999999999 is too large (at most 2^53 − 1)'],
    ];
    for (const [text, column, message] of cases) expect(parseFilter(text), text).toEqual({ ok: false, column, error: message });
  });

  it('renders a caret under the column', () => {
    const text = 'dev == 1 &&';
    const err = parseFilter(text);
    expect(err.ok).toBe(false);
    if (!err.ok) expect(renderFilterError(text, err)).toBe("dev == 1 &&\n           ^ expected a field name, '(' or '!', saw the end of the filter");
  });
});

describe('compileFilter errors', () => {
  it('rejects unknown fields, names and codes, and comparisons a field does not take', () => {
    const cases: [string, number, string][] = [
      ['foo == 1', 1, 'unknown field \'foo\': fields are dev, msg, dir, token, latency, size, problem, finding, severity, rev, kind, type, seq, queue, channel, time, area, result'],
      ['dir > 3', 5, "'>' does not apply to dir; dir takes ==, != and in {…}"],
      ['dir == 3', 8, 'dir is one of to-device, out, driver-to-device, to-driver, in, device-to-driver; saw 3'],
      ['latency > 5', 11, 'latency takes a duration with a unit (ns, us (µs), ms, s), e.g. 5us; saw 5'],
      ['time < fast', 8, 'time (time since capture start) takes a duration, saw fast'],
      ['dev == 1ms', 8, 'dev (dev_num) takes a whole number, saw 1ms'],
      ['size == 1.5', 9, 'size (data bytes) takes a whole number, saw 1.5'],
      ['dev ~ "1"', 5, "'~' applies to msg, problem and finding only; dev takes ==, !=, <, <=, >, >=, in from..to and in {…}"],
      ['msg == GET_VQUEU', 8, "unknown message name 'GET_VQUEU': did you mean GET_VQUEUE?"],
      ['msg == XYZZY', 8, 'unknown message name \'XYZZY\': names are as the protocol spells them (GET_VQUEUE, EVENT_USED, DOORBELL…); msg ~ "text" matches part of a name'],
      ['msg < GET_VQUEUE', 5, "'<' does not apply to msg; msg takes ==, != and ~ with a name, or any comparison with a msg_id"],
      ['msg ~ "("', 7, 'bad pattern "(": Invalid regular expression: /(/i: Unterminated group'],
      ['msg ~ 3', 7, "'~' needs a pattern (a name or \"quoted text\"), saw 3"],
      ['msg in 1..GET_VQUEUE', 11, 'a msg range takes msg_ids, saw GET_VQUEUE'],
      ['problem == truncatd', 12, `unknown problem 'truncatd': did you mean truncated? problems are ${PROBLEM_CODES.join(', ')}`],
      ['problem > truncated', 9, "'>' does not apply to problem; problem takes ==, != (has / has not) and ~"],
      ['problem in 1..2', 12, 'problem takes no range; use problem in {a, b} or problem == code'],
      ['kind in message..marker', 9, 'kind has no order, so no range; it takes ==, != and in {…}'],
      ['time in 2s..1s', 13, 'the range ends (1000000000) before it starts (2000000000)'],
      ['dev == 1 && rev == r1', 20, 'rev is one of r0, r2, r3, r4; saw r1'],
      ['finding == token-echo', 12, "unknown rule 'token-echo': did you mean R4-token-echo, R3-token-echo?"],
      ['finding > R4-token-echo', 9, "'>' does not apply to finding; finding takes ==, !=, ~ and in {…} with rule ids"],
      ['finding in 1..2', 12, 'finding takes no range; use finding in {a, b} or finding == rule'],
      ['severity == fatal', 13, 'severity is one of error, warning, info; saw fatal'],
    ];
    for (const [text, column, message] of cases) expect(compileFilter(text), text).toEqual({ ok: false, column, error: message });
  });
});

describe('every field and operator', () => {
  const cases: [string, (r: TraceRecord) => boolean][] = [
    // dev: a comparison on a record without the field is false, whatever the operator
    ['dev == 1', (r) => r.devNum === 1],
    ['dev != 1', (r) => r.devNum !== null && r.devNum !== 1],
    ['!(dev == 1)', (r) => r.devNum !== 1],
    ['dev < 2', (r) => r.devNum !== null && r.devNum < 2],
    ['dev <= 0x1', (r) => r.devNum !== null && r.devNum <= 1],
    ['dev > 1', (r) => r.devNum !== null && r.devNum > 1],
    ['dev >= 2', (r) => r.devNum !== null && r.devNum >= 2],
    ['dev in 1..3', (r) => r.devNum !== null && r.devNum >= 1 && r.devNum < 3],
    ['dev in {0, 2}', (r) => r.devNum === 0 || r.devNum === 2],
    ['dev', (r) => r.devNum !== null],
    // msg: by name across revisions, by id, by pattern; markers and doorbells by their names
    ['msg == GET_VQUEUE', (r) => name(r) === 'GET_VQUEUE'],
    ['msg == get_vqueue', (r) => name(r) === 'GET_VQUEUE'],
    ['msg == "GET_VQUEUE"', (r) => name(r) === 'GET_VQUEUE'],
    ['msg != GET_VQUEUE', (r) => name(r) !== 'GET_VQUEUE'],
    ['msg == 0x0b', (r) => isMsg(r) && r.msgId === 0x0b],
    ['msg >= 0x40', (r) => isMsg(r) && r.msgId >= 0x40],
    ['msg in 0x40..0x80', (r) => isMsg(r) && r.msgId >= 0x40 && r.msgId < 0x80],
    ['msg ~ "VQUEUE"', (r) => name(r).includes('VQUEUE')],
    ['msg ~ "^event_"', (r) => name(r).startsWith('EVENT_')],
    ['msg in {GET_CONFIG, PING, 0x85}', (r) => ['GET_CONFIG', 'PING'].includes(name(r)) || (isMsg(r) && r.msgId === 0x85)],
    ['msg == IMPL_REQUEST_0x85', (r) => name(r) === 'IMPL_REQUEST_0x85'],
    ['msg == RESERVED_0x0d', (r) => name(r) === 'RESERVED_0x0d'],
    ['msg == DOORBELL', (r) => r.kind === 'doorbell'],
    ['msg == NO_RESPONSE', (r) => r.kind === 'marker' && name(r) === 'NO_RESPONSE'],
    ['msg == MALFORMED', (r) => name(r) === 'MALFORMED'],
    ['msg', isMsg],
    // dir and its aliases
    ['dir == to-device', (r) => r.dir === 'driver-to-device'],
    ['dir == out', (r) => r.dir === 'driver-to-device'],
    ['dir == driver-to-device', (r) => r.dir === 'driver-to-device'],
    ['dir == to-driver', (r) => r.dir === 'device-to-driver'],
    ['dir != in', (r) => r.dir === 'driver-to-device'],
    ['dir == IN', (r) => r.dir === 'device-to-driver'],
    ['dir in {in, out}', (r) => r.dir !== null],
    ['dir', (r) => r.dir !== null],
    ['!dir', (r) => r.dir === null],
    // token
    ['token == 0x1234', (r) => isMsg(r) && r.token === 0x1234],
    ['token > 4', (r) => isMsg(r) && r.token > 4],
    ['token', (r) => isMsg(r) && r.token !== 0],
    // latency with every unit
    ['latency > 10us', (r) => (lat(r) ?? -1) > 10_000],
    ['latency >= 24690ns', (r) => (lat(r) ?? -1) >= 24_690],
    ['latency < 0.05ms', (r) => lat(r) !== null && lat(r)! < 50_000],
    ['latency <= 1s', (r) => lat(r) !== null && lat(r)! <= 1e9],
    ['latency == 24.69µs', (r) => lat(r) === 24_690],
    ['latency in 24μs..25μs', (r) => lat(r) !== null && lat(r)! >= 24_000 && lat(r)! < 25_000],
    ['latency', (r) => lat(r) !== null],
    // size
    ['size == 40', (r) => r.data.length === 40],
    ['size > 32', (r) => r.data.length > 32],
    ['size', (r) => r.data.length > 0],
    // problem: bare, by code, not, pattern, set
    ['problem', (r) => r.problems !== 0],
    ['!problem', (r) => r.problems === 0],
    ['problem == truncated', (r) => problemCodes(r.problems).includes('truncated')],
    ['problem == no-response', (r) => problemCodes(r.problems).includes('no-response')],
    ['problem != truncated', (r) => !problemCodes(r.problems).includes('truncated')],
    ['problem ~ "size|id"', (r) => problemCodes(r.problems).some((c) => c === 'size-mismatch' || c === 'unknown-id')],
    ['problem in {event-response, truncated}', (r) => problemCodes(r.problems).some((c) => c === 'event-response' || c === 'truncated')],
    // finding: bare, by rule id, not, pattern, set; severity
    ['finding', (r) => r.kind === 'finding'],
    ['finding == request-answered', (r) => r.kind === 'finding' && ruleOf(r) === 'request-answered'],
    ['finding == REQUEST-ANSWERED', (r) => r.kind === 'finding' && ruleOf(r) === 'request-answered'],
    ['finding != request-answered', (r) => r.kind === 'finding' && ruleOf(r) !== 'request-answered'],
    ['finding ~ "vqueue"', (r) => r.kind === 'finding' && ruleOf(r).includes('vqueue')],
    ['finding in {R4-token-echo, vqueue-unconfigured-size}', (r) => r.kind === 'finding' && ruleOf(r) === 'vqueue-unconfigured-size'],
    ['severity == error', (r) => r.kind === 'finding' && r.msgType === 0],
    ['severity in {warning, info}', (r) => r.kind === 'finding' && r.msgType !== 0],
    ['msg == FINDING', (r) => r.kind === 'finding'],
    // rev is ordered
    ['rev == r0', (r) => r.rev === 'r0'],
    ['rev >= r3', (r) => r.rev === 'r3' || r.rev === 'r4'],
    ['rev < r3', (r) => r.rev === 'r0' || r.rev === 'r2'],
    ['rev in r2..r4', (r) => r.rev === 'r2' || r.rev === 'r3'],
    ['rev', (r) => r.rev !== null],
    // kind and type
    ['kind == vq-index', (r) => r.kind === 'vq-index'],
    ['kind != message', (r) => r.kind !== 'message'],
    ['kind in {marker, queue-state}', (r) => r.kind === 'marker' || r.kind === 'queue-state'],
    ['type == request', (r) => (r.flags & RECORD_FLAGS.request) !== 0],
    ['type == response', (r) => (r.flags & RECORD_FLAGS.response) !== 0],
    ['type == event', (r) => (r.flags & RECORD_FLAGS.event) !== 0],
    ['type != event', (r) => (r.flags & (RECORD_FLAGS.request | RECORD_FLAGS.response)) !== 0],
    ['type', (r) => (r.flags & 7) !== 0],
    // seq, queue/channel, time
    ['seq < 5', (r) => r.seq < 5],
    ['seq in 10..12', (r) => r.seq === 10 || r.seq === 11],
    ['seq', (r) => r.seq !== 0],
    ['queue == 1', (r) => (r.kind === 'message' || r.kind === 'vq-index') && r.channel === 1],
    ['channel == 0', (r) => (r.kind === 'message' || r.kind === 'vq-index') && r.channel === 0],
    ['time >= 100us && time < 0.2ms', (r) => t(r) >= 100_000 && t(r) < 200_000],
    ['time in 100us..200us', (r) => t(r) >= 100_000 && t(r) < 200_000],
    ['time > 0.5ms', (r) => t(r) > 500_000],
    ['time', (r) => t(r) !== 0],
    // compounds
    ['dev == 1 && msg == GET_CONFIG && latency > 10us', (r) => r.devNum === 1 && name(r) === 'GET_CONFIG' && (lat(r) ?? 0) > 10_000],
    ['(rev == r0 || rev == r2) && dir == in && !problem', (r) => (r.rev === 'r0' || r.rev === 'r2') && r.dir === 'device-to-driver' && r.problems === 0],
    ['kind == marker or dev == 2 and type == event', (r) => r.kind === 'marker' || (r.devNum === 2 && (r.flags & RECORD_FLAGS.event) !== 0)],
  ];
  for (const [text, oracle] of cases) {
    it(text, () => {
      const want = expected(oracle);
      expect(select(text)).toEqual(want);
    });
  }

  it('the sample exercises each case (no case is vacuous)', () => {
    for (const [text] of cases) {
      const n = select(text).length;
      if (!text.startsWith('!') && text !== 'msg == 0x0b') expect(n, text).toBeGreaterThan(0);
      if (!['time', 'seq', 'kind != message', 'msg != GET_VQUEUE', 'problem != truncated', '!(dev == 1)'].includes(text)) expect(n, text).toBeLessThan(records.length);
    }
  });
});

describe('parseDurationNs', () => {
  it('reads durations with units', () => {
    expect(parseDurationNs('1.5s')).toBe(1_500_000_000);
    expect(parseDurationNs('250 us')).toBe(250_000);
    expect(parseDurationNs('3µs')).toBe(3_000);
    expect(parseDurationNs('10ms')).toBe(10_000_000);
    expect(parseDurationNs('7ns')).toBe(7);
    expect(parseDurationNs('7')).toBeNull();
    expect(parseDurationNs('7 min')).toBeNull();
  });
});

// ---- properties ---------------------------------------------------------------------------------

const num = (n: number, hex = false): FilterValue => ({ kind: 'number', value: n, text: hex ? '0x' + n.toString(16) : String(n), unit: null, column: 0 });
const nameV = (s: string): FilterValue => ({ kind: 'name', value: s, column: 0 });
const strV = (s: string): FilterValue => ({ kind: 'string', value: s, column: 0 });

const intValue = (max: number): fc.Arbitrary<FilterValue> => fc.tuple(fc.nat({ max }), fc.boolean()).map(([n, hex]) => num(n, hex));
const duration: fc.Arbitrary<FilterValue> = fc
  .tuple(fc.nat({ max: 999 }), fc.option(fc.nat({ max: 99 }), { nil: null }), fc.constantFrom('ns', 'us', 'µs', 'ms', 's' as const))
  .map(([i, f, unit]) => {
    const text = f === null ? String(i) : `${i}.${f}`;
    return { kind: 'number', value: Number(text), text, unit, column: 0 };
  });
const named = (...names: string[]): fc.Arbitrary<FilterValue> => fc.constantFrom(...names).map((s) => (s.includes('-') ? strV(s) : nameV(s)));

/** For each field: the values it takes with == (and sets), and whether it takes < <= > >= and ranges. */
const FIELD_VALUES: Record<string, { value: fc.Arbitrary<FilterValue>; ordered: boolean; pattern?: boolean }> = {
  dev: { value: intValue(3), ordered: true },
  msg: { value: fc.oneof(named('GET_VQUEUE', 'get_config', 'EVENT_USED', 'DOORBELL', 'MALFORMED', 'NO_RESPONSE', 'PING'), intValue(0x90)), ordered: false, pattern: true },
  dir: { value: named('to-device', 'to-driver', 'in', 'out', 'driver-to-device'), ordered: false },
  token: { value: intValue(10), ordered: true },
  latency: { value: duration, ordered: true },
  size: { value: intValue(60), ordered: true },
  problem: { value: named('truncated', 'no-response', 'size-mismatch', 'unknown-id'), ordered: false, pattern: true },
  rev: { value: named('r0', 'r2', 'r3', 'r4'), ordered: true },
  kind: { value: named('message', 'doorbell', 'marker', 'vq-index'), ordered: false },
  type: { value: named('request', 'response', 'event'), ordered: false },
  seq: { value: intValue(50), ordered: true },
  queue: { value: intValue(2), ordered: true },
  channel: { value: intValue(2), ordered: true },
  time: { value: duration, ordered: true },
};

const leaf: fc.Arbitrary<FilterNode> = fc.constantFrom(...Object.keys(FIELD_VALUES)).chain((field) => {
  const f = FIELD_VALUES[field]!;
  const ops = f.ordered ? (['==', '!=', '<', '<=', '>', '>='] as const) : (['==', '!='] as const);
  const forms: fc.Arbitrary<FilterNode>[] = [
    fc.constant({ type: 'field', field, column: 0 }),
    fc.tuple(fc.constantFrom(...ops), f.value).map(([op, value]) => ({ type: 'compare', field, column: 0, op, opColumn: 0, value })),
    fc.array(f.value, { minLength: 1, maxLength: 3 }).map((values) => ({ type: 'set', field, column: 0, values })),
  ];
  if (f.pattern) forms.push(fc.constantFrom('VQUEUE', '^get', 'o', 'size|trunc', '').map((p) => ({ type: 'compare', field, column: 0, op: '~', opColumn: 0, value: strV(p) })));
  if (field === 'msg') forms.push(fc.constantFrom(0x02, 0x40).map((n) => ({ type: 'compare', field, column: 0, op: '>=', opColumn: 0, value: num(n) })));
  return fc.oneof(...forms);
});

const tree: fc.Arbitrary<FilterNode> = fc.letrec<{ node: FilterNode }>((rec) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    rec('node').map((operand): FilterNode => ({ type: 'not', operand })),
    fc.tuple(fc.constantFrom('and' as const, 'or' as const), rec('node'), rec('node')).map(([type, left, right]): FilterNode => ({ type, left, right })),
  ),
})).node;

describe('properties', () => {
  it('a printed tree parses back to the same tree and selects the same records', () => {
    fc.assert(
      fc.property(tree, (t) => {
        const text = formatFilter(t);
        const p = parseFilter(text);
        expect(p.ok, text).toBe(true);
        if (!p.ok) return;
        expect(shape(p.value)).toEqual(shape(t));
        const direct = compileFilter(t, { startMonoNs: START_MONO_NS });
        const reparsed = compileFilter(text, { startMonoNs: START_MONO_NS });
        if (!direct.ok || !reparsed.ok) {
          // Ranges and some values can be invalid (an empty range); both must then fail alike.
          expect(reparsed.ok).toBe(direct.ok);
          return;
        }
        forEachRecord(blocks, (v) => {
          expect(reparsed.value.test(v)).toBe(direct.value.test(v));
        });
      }),
      { numRuns: 300 },
    );
  });

  it('!, && and || mean not, and, or', () => {
    fc.assert(
      fc.property(tree, tree, (a, b) => {
        const pa = compileFilter(a, { startMonoNs: START_MONO_NS });
        const pb = compileFilter(b, { startMonoNs: START_MONO_NS });
        if (!pa.ok || !pb.ok) return;
        const and = compileFilter(`(${formatFilter(a)}) && (${formatFilter(b)})`, { startMonoNs: START_MONO_NS });
        const or = compileFilter(`(${formatFilter(a)}) || (${formatFilter(b)})`, { startMonoNs: START_MONO_NS });
        const not = compileFilter(`!(${formatFilter(a)})`, { startMonoNs: START_MONO_NS });
        if (!and.ok || !or.ok || !not.ok) throw new Error('compound of valid filters failed');
        forEachRecord(blocks, (v) => {
          expect(and.value.test(v)).toBe(pa.value.test(v) && pb.value.test(v));
          expect(or.value.test(v)).toBe(pa.value.test(v) || pb.value.test(v));
          expect(not.value.test(v)).toBe(!pa.value.test(v));
        });
      }),
      { numRuns: 100 },
    );
  });

  it('any string value survives printing (quotes and backslashes escaped)', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const t: FilterNode = { type: 'compare', field: 'msg', column: 1, op: '~', opColumn: 5, value: strV(s) };
        const p = parseFilter(formatFilter(t));
        expect(p.ok && p.value.type === 'compare' && p.value.value.value).toBe(s);
      }),
    );
  });

  it('garbage never throws: always a filter or an error located inside the text', () => {
    const alphabet = fc.constantFrom(...'dev msg time latency problem in == != < > <= >= ~ && || ! ( ) { } , .. 0x1f 12 1.5s "x" \\ & | = µs _ -'.split(' '), 'a', ' ', '"', '.', '0');
    const garbage = fc.oneof(fc.string({ maxLength: 40 }), fc.array(alphabet, { maxLength: 14 }).map((xs) => xs.join(' ')), fc.array(alphabet, { maxLength: 14 }).map((xs) => xs.join('')));
    fc.assert(
      fc.property(garbage, (text) => {
        const c = compileFilter(text);
        if (!c.ok) {
          expect(c.column).toBeGreaterThanOrEqual(1);
          expect(c.column).toBeLessThanOrEqual(text.length + 1);
          expect(c.error.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
