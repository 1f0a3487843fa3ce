/**
 * The trace filter language, one for the CLI and the UI:
 *
 *   dev == 1 && msg == GET_VQUEUE && latency > 50us
 *   (problem || msg ~ "EVENT") && time in 1.5s..2s
 *   finding == R4-token-echo || (finding ~ "queue" && severity == error)
 *
 * parseFilter() gives a tree or a located error; compileFilter() type-checks the tree against
 * the fields below and builds a closure over RecordView getters (no eval: the renderer's CSP
 * forbids it), which allocates nothing per record. formatFilter() prints a tree back as text that
 * parses to the same tree. The user reference is the README's "Trace filters" section.
 *
 * Semantics: a comparison on a record that lacks the field (dev on a doorbell, latency on a
 * request) is false whatever the operator, so `!(dev == 1)` and `dev != 1` differ on such
 * records. Names compare case-insensitively; `msg == NAME` matches the name in every revision
 * (the MESSAGES table via names.ts), whatever its msg_id there.
 */
import { decode, lookupMessage } from '../protocol/index';
import { PROBLEM_CODES } from '../protocol/types';
import { RULES, SEVERITIES } from './conformance';
import { NAME_SLOTS, nameSlot } from './names';
import { ok, type Fail, type Ok } from '../util/result';
import { dirCode, NO_DEV, RECORD_FLAGS, RECORD_KINDS, REVISION_CODES, timeBase, type RecordView, type TimeBase } from './record';
import { errorText } from '../util/errorText';

export type RecordPredicate = (view: RecordView) => boolean;

export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | '~';

/** A literal as written. `text` keeps a number's spelling (0x0c, 1.5) so formatFilter reproduces it. */
export type FilterValue =
  | { kind: 'number'; value: number; text: string; unit: DurationUnit | null; column: number }
  | { kind: 'name'; value: string; column: number }
  | { kind: 'string'; value: string; column: number };

/** Parse tree; `column` (1-based) locates the field name, `opColumn` the operator. */
export type FilterNode =
  | { type: 'or' | 'and'; left: FilterNode; right: FilterNode }
  | { type: 'not'; operand: FilterNode }
  | { type: 'field'; field: string; column: number }
  | { type: 'compare'; field: string; column: number; op: CompareOp; opColumn: number; value: FilterValue }
  | { type: 'range'; field: string; column: number; from: FilterValue; to: FilterValue }
  | { type: 'set'; field: string; column: number; values: FilterValue[] };

/** What is wrong, and where: the 1-based column in the filter text. */
export type FilterError = Fail & { column: number };
export type FilterParse = Ok<FilterNode> | FilterError;
export interface CompiledFilter {
  tree: FilterNode;
  test: RecordPredicate;
}
export type FilterCompile = Ok<CompiledFilter> | FilterError;

export interface FilterOptions {
  /** `time` is relative to this monotonic instant (CaptureMeta.startMonoNs); default 0. */
  startMonoNs?: bigint;
}

// ---- durations ----------------------------------------------------------------------------------

export type DurationUnit = 'ns' | 'us' | 'µs' | 'μs' | 'ms' | 's';
const UNIT_NS: Readonly<Record<DurationUnit, number>> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9 };
const UNIT_LIST = 'ns, us (µs), ms, s';

function isUnit(s: string): s is DurationUnit {
  return Object.hasOwn(UNIT_NS, s);
}

/** "1.5s", "250us", "10 ms" → nanoseconds; null when not a decimal number with a unit. For CLI options such as --from. */
export function parseDurationNs(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zµμ]+)\s*$/i.exec(text);
  if (!m || !isUnit(m[2]!)) return null;
  return Math.round(Number(m[1]) * UNIT_NS[m[2]]);
}

// ---- lexer --------------------------------------------------------------------------------------

type Token =
  | { t: 'ident'; text: string; column: number }
  | { t: 'number'; text: string; value: number; unit: DurationUnit | null; column: number }
  | { t: 'string'; text: string; value: string; column: number }
  | { t: 'punct'; text: string; column: number }
  | { t: 'end'; text: ''; column: number };

const PUNCT = ['==', '!=', '<=', '>=', '&&', '||', '..', '<', '>', '!', '~', '(', ')', '{', '}', ','] as const;
const KEYWORD: Readonly<Record<string, string>> = { and: '&&', or: '||', not: '!' };
const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_-]/;

/** A located error inside the lexer, parser or compiler; the entry points turn it into a FilterError value. */
class Located {
  constructor(
    readonly column: number,
    readonly message: string,
  ) {}
}

function lex(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    const column = i + 1;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (/[0-9]/.test(c)) {
      const hex = /^0[xX][0-9a-fA-F]+/.exec(src.slice(i));
      const text = hex ? hex[0] : /^\d+(?:\.\d+)?/.exec(src.slice(i))![0];
      i += text.length;
      let unit: DurationUnit | null = null;
      const u = /^[A-Za-z0-9_µμ]+/.exec(src.slice(i));
      if (u) {
        if (hex || !isUnit(u[0])) {
          const why = hex ? `a hex number takes no unit` : `units are ${UNIT_LIST}`;
          throw new Located(i + 1, `unexpected '${u[0]}' after the number ${text}: ${why}`);
        }
        unit = u[0];
        i += u[0].length;
      }
      const value = hex ? parseInt(text.slice(2), 16) : Number(text);
      if (!Number.isSafeInteger(Math.floor(value))) throw new Located(column, `number ${text} is too large (at most 2^53 − 1)`);
      out.push({ t: 'number', text, value, unit, column });
      continue;
    }
    if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < src.length && IDENT_PART.test(src[j]!)) j++;
      const text = src.slice(i, j);
      i = j;
      const kw = KEYWORD[text];
      out.push(kw === undefined ? { t: 'ident', text, column } : { t: 'punct', text: kw, column });
      continue;
    }
    if (c === '"') {
      let value = '';
      let j = i + 1;
      for (;;) {
        if (j >= src.length) throw new Located(column, `unterminated string: expected a closing '"' before the end of the filter`);
        const d = src[j]!;
        if (d === '"') break;
        if (d === '\\' && j + 1 < src.length) {
          value += src[j + 1];
          j += 2;
        } else {
          value += d;
          j++;
        }
      }
      out.push({ t: 'string', text: src.slice(i, j + 1), value, column });
      i = j + 1;
      continue;
    }
    const p = PUNCT.find((q) => src.startsWith(q, i));
    if (p === undefined) {
      const hint = c === '=' ? " (comparisons use '==')" : c === '&' || c === '|' ? ` (use '${c}${c}')` : '';
      throw new Located(column, `unexpected character '${c}'${hint}`);
    }
    out.push({ t: 'punct', text: p, column });
    i += p.length;
  }
  out.push({ t: 'end', text: '', column: src.length + 1 });
  return out;
}

// ---- parser -------------------------------------------------------------------------------------

const COMPARE_OPS: readonly string[] = ['==', '!=', '<', '<=', '>', '>=', '~'];

function seen(tok: Token): string {
  return tok.t === 'end' ? 'the end of the filter' : `'${tok.text}'`;
}

class Parser {
  private pos = 0;
  constructor(private readonly toks: Token[]) {}

  private peek(): Token {
    return this.toks[this.pos]!;
  }
  private next(): Token {
    return this.toks[this.pos++]!;
  }
  private isPunct(text: string): boolean {
    const t = this.peek();
    return t.t === 'punct' && t.text === text;
  }
  private fail(tok: Token, expected: string): never {
    throw new Located(tok.column, `expected ${expected}, saw ${seen(tok)}`);
  }

  parse(): FilterNode {
    if (this.peek().t === 'end') this.fail(this.peek(), 'a filter expression');
    const tree = this.or();
    if (this.peek().t !== 'end') this.fail(this.peek(), `'&&', '||' or the end of the filter`);
    return tree;
  }

  private or(): FilterNode {
    let left = this.and();
    while (this.isPunct('||')) {
      this.next();
      left = { type: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): FilterNode {
    let left = this.unary();
    while (this.isPunct('&&')) {
      this.next();
      left = { type: 'and', left, right: this.unary() };
    }
    return left;
  }

  private unary(): FilterNode {
    if (this.isPunct('!')) {
      this.next();
      return { type: 'not', operand: this.unary() };
    }
    if (this.isPunct('(')) {
      this.next();
      const inner = this.or();
      if (!this.isPunct(')')) this.fail(this.peek(), `')' or an operator ('&&', '||')`);
      this.next();
      return inner;
    }
    const tok = this.next();
    if (tok.t !== 'ident') this.fail(tok, `a field name, '(' or '!'`);
    const field = tok.text;
    const column = tok.column;
    const op = this.peek();
    if (op.t === 'punct' && COMPARE_OPS.includes(op.text)) {
      this.next();
      return { type: 'compare', field, column, op: op.text as CompareOp, opColumn: op.column, value: this.value(`a value after '${op.text}'`) };
    }
    if (op.t === 'ident' && op.text === 'in') {
      this.next();
      if (this.isPunct('{')) {
        this.next();
        const values = [this.value(`a value in the set`)];
        while (this.isPunct(',')) {
          this.next();
          values.push(this.value(`a value after ','`));
        }
        if (!this.isPunct('}')) this.fail(this.peek(), `',' or '}'`);
        this.next();
        return { type: 'set', field, column, values };
      }
      const from = this.value(`a range (from..to) or a set ({a, b}) after 'in'`);
      if (!this.isPunct('..')) this.fail(this.peek(), `'..' in the range`);
      this.next();
      return { type: 'range', field, column, from, to: this.value(`the end of the range after '..'`) };
    }
    return { type: 'field', field, column };
  }

  private value(expected: string): FilterValue {
    const tok = this.next();
    switch (tok.t) {
      case 'number':
        return { kind: 'number', value: tok.value, text: tok.text, unit: tok.unit, column: tok.column };
      case 'ident':
        return { kind: 'name', value: tok.text, column: tok.column };
      case 'string':
        return { kind: 'string', value: tok.value, column: tok.column };
      default:
        return this.fail(tok, expected);
    }
  }
}

/** Parses filter text into a tree; a syntax error says what was expected, what was seen and at which column. */
export function parseFilter(text: string): FilterParse {
  try {
    return { ok: true, value: new Parser(lex(text)).parse() };
  } catch (e) {
    if (e instanceof Located) return { ok: false, column: e.column, error: e.message };
    throw e;
  }
}

// ---- printer ------------------------------------------------------------------------------------

function formatValue(v: FilterValue): string {
  if (v.kind === 'number') return v.text + (v.unit ?? '');
  if (v.kind === 'name') return v.value;
  return `"${v.value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

const PRECEDENCE = { or: 1, and: 2, not: 3, field: 4, compare: 4, range: 4, set: 4 } as const;

/** The tree as filter text, with parentheses only where precedence needs them; parses back to the same tree. */
export function formatFilter(node: FilterNode): string {
  const wrap = (child: FilterNode, min: number): string => {
    const s = formatFilter(child);
    return PRECEDENCE[child.type] < min ? `(${s})` : s;
  };
  switch (node.type) {
    case 'or':
      return `${wrap(node.left, 1)} || ${wrap(node.right, 2)}`;
    case 'and':
      return `${wrap(node.left, 2)} && ${wrap(node.right, 3)}`;
    case 'not':
      return `!${wrap(node.operand, 3)}`;
    case 'field':
      return node.field;
    case 'compare':
      return `${node.field} ${node.op} ${formatValue(node.value)}`;
    case 'range':
      return `${node.field} in ${formatValue(node.from)}..${formatValue(node.to)}`;
    case 'set':
      return `${node.field} in {${node.values.map(formatValue).join(', ')}}`;
  }
}

/** A caret under the error's column, for terminals: the filter text, then "   ^ message". */
export function renderFilterError(text: string, failure: Pick<FilterError, 'column' | 'error'>): string {
  return `${text}\n${' '.repeat(Math.max(0, failure.column - 1))}^ ${failure.error}`;
}

// ---- fields -------------------------------------------------------------------------------------

const ALWAYS = (): boolean => true;
const KIND_MESSAGE = RECORD_KINDS.indexOf('message');
const KIND_VQ_INDEX = RECORD_KINDS.indexOf('vq-index');
const KIND_FINDING = RECORD_KINDS.indexOf('finding');
const isFinding = (v: RecordView): boolean => v.kindCode === KIND_FINDING;
const TYPE_MASK = RECORD_FLAGS.request | RECORD_FLAGS.response | RECORD_FLAGS.event;

const hasHeader = (v: RecordView): boolean => v.kindCode === KIND_MESSAGE && (v.flags & RECORD_FLAGS.noHeader) === 0;

/**
 * A numeric field: `get` reads it, `has` says whether the record has it (a comparison on a
 * record without the field is false, whatever the operator). `values` names the field's values
 * (enumerations); `ordered` allows < <= > >= and ranges; `duration` wants a unit. A bare field
 * tests `has`, and for `zeroIsFalse` fields (counts, sizes) also that the value is not 0.
 */
interface NumericField {
  type: 'number' | 'duration' | 'enum';
  get: (v: RecordView, base: TimeBase) => number;
  has: (v: RecordView) => boolean;
  ordered: boolean;
  zeroIsFalse: boolean;
  values?: Readonly<Record<string, number>>;
  describe: string;
}

/** msg, problem and finding: names and codes rather than numbers. */
type Field = NumericField | { type: 'msg' } | { type: 'problem' } | { type: 'finding' };

const count = (get: (v: RecordView) => number, has: (v: RecordView) => boolean, describe: string): NumericField => ({ type: 'number', get, has, ordered: true, zeroIsFalse: true, describe });
/** Each name of a code list by its code (index); null (no value) has no name. */
function codesOf(list: readonly (string | null)[]): Record<string, number> {
  return Object.fromEntries(list.flatMap((name, code) => (name === null ? [] : [[name, code]])));
}
const TO_DEVICE = dirCode('driver-to-device');
const TO_DRIVER = dirCode('device-to-driver');

const enumField = (get: (v: RecordView) => number, has: (v: RecordView) => boolean, values: Record<string, number>, ordered: boolean, describe: string): NumericField => ({
  type: 'enum',
  get,
  has,
  values,
  ordered,
  zeroIsFalse: false,
  describe,
});

const queueField = count(
  (v) => v.channel,
  (v) => v.kindCode === KIND_MESSAGE || v.kindCode === KIND_VQ_INDEX,
  'message: the bus queue; vq-index: the virtqueue',
);

/** An FF-A bus message's payload field (docs/protocol.md §12.4), read by decoding the record: only filters naming it pay. */
function ffaField(name: string, zeroIsFalse: boolean, describe: string): NumericField {
  const value = (v: RecordView): number | undefined => {
    if (!hasHeader(v) || (v.flags & RECORD_FLAGS.bus) === 0 || v.rev === null || lookupMessage(v.rev, true, v.msgId).family !== 'ff-a') return undefined;
    const f = decode(v.data(), v.rev).msg?.fields[name];
    return typeof f === 'number' ? f : undefined;
  };
  return { ...count((v) => value(v) ?? 0, (v) => value(v) !== undefined, describe), zeroIsFalse };
}

const FIELDS: Readonly<Record<string, Field>> = {
  dev: { ...count((v) => v.devNum, (v) => v.devNum !== NO_DEV, 'dev_num'), zeroIsFalse: false },
  msg: { type: 'msg' },
  dir: enumField(
    (v) => v.dirCode,
    (v) => v.dirCode !== 0,
    { 'to-device': TO_DEVICE, out: TO_DEVICE, 'driver-to-device': TO_DEVICE, 'to-driver': TO_DRIVER, in: TO_DRIVER, 'device-to-driver': TO_DRIVER },
    false,
    'direction',
  ),
  token: count((v) => v.token, hasHeader, 'token'),
  latency: {
    type: 'duration',
    get: (v) => v.latencyNs,
    has: (v) => v.kindCode === KIND_MESSAGE && v.pairSeq !== -1,
    ordered: true,
    zeroIsFalse: false,
    describe: "a response's time from its request",
  },
  size: count((v) => v.dataLength, ALWAYS, 'data bytes'),
  problem: { type: 'problem' },
  finding: { type: 'finding' },
  severity: enumField((v) => v.msgType, isFinding, codesOf(SEVERITIES), false, "a finding's severity"),
  rev: enumField((v) => v.revCode, (v) => v.revCode !== 0, codesOf(REVISION_CODES), true, 'revision'),
  kind: enumField((v) => v.kindCode, ALWAYS, codesOf(RECORD_KINDS), false, 'record kind'),
  type: enumField(
    (v) => v.flags & TYPE_MASK,
    (v) => (v.flags & TYPE_MASK) !== 0,
    { request: RECORD_FLAGS.request, response: RECORD_FLAGS.response, event: RECORD_FLAGS.event },
    false,
    'message type',
  ),
  seq: count((v) => v.seq, ALWAYS, 'record number'),
  queue: queueField,
  channel: queueField,
  time: { type: 'duration', get: (v, base) => v.relNs(base), has: ALWAYS, ordered: true, zeroIsFalse: true, describe: 'time since capture start' },
  area: ffaField('area_id', false, 'FF-A area_id'),
  result: ffaField('result', true, 'FF-A result bits (1 error, 2 busy)'),
};

/** Field names the language knows, for completion and error messages. */
export const FILTER_FIELDS: readonly string[] = Object.keys(FIELDS);

// ---- compiler -----------------------------------------------------------------------------------

/** A comparison, range, set or bare field: the nodes that name a field. */
type Leaf = Exclude<FilterNode, { type: 'or' | 'and' | 'not' }>;

const NAME_INDEX = new Map<string, number[]>();
NAME_SLOTS.forEach((name, slot) => {
  const key = name.toUpperCase();
  const slots = NAME_INDEX.get(key);
  if (slots) slots.push(slot);
  else NAME_INDEX.set(key, [slot]);
});

/** A case-insensitive regular expression from `~`'s operand; a bad one is a located error. */
function pattern(v: FilterValue): RegExp {
  if (v.kind === 'number') throw new Located(v.column, `'~' needs a pattern (a name or "quoted text"), saw ${formatValue(v)}`);
  try {
    return new RegExp(v.value, 'i');
  } catch (e) {
    throw new Located(v.column, `bad pattern ${formatValue(v)}: ${errorText(e)}`);
  }
}

function opNotAllowed(field: string, op: string, column: number, allowed: string): never {
  throw new Located(column, `'${op}' does not apply to ${field}; ${field} takes ${allowed}`);
}

/** Slots whose name is `v` (case-insensitive); an unknown name lists near matches. */
function slotsNamed(v: FilterValue): number[] {
  const name = v.value.toString().toUpperCase();
  const slots = NAME_INDEX.get(name);
  if (slots) return slots;
  const contained = [...NAME_INDEX.keys()].filter((n) => n.includes(name));
  const near = (contained.length > 0 ? contained : nearest(name, [...NAME_INDEX.keys()])).slice(0, 8);
  const hint = near.length > 0 ? `did you mean ${near.join(', ')}?` : `names are as the protocol spells them (GET_VQUEUE, EVENT_USED, DOORBELL…); msg ~ "text" matches part of a name`;
  throw new Located(v.column, `unknown message name '${v.value}': ${hint}`);
}

function slotTable(slots: Iterable<number>): Uint8Array {
  const t = new Uint8Array(NAME_SLOTS.length);
  for (const s of slots) t[s] = 1;
  return t;
}

/** A msg literal as a msg_id, or null for a name. */
function msgIdOf(v: FilterValue): number | null {
  if (v.kind !== 'number') return null;
  if (v.unit !== null || !Number.isInteger(v.value)) throw new Located(v.column, `msg takes a name or a whole msg_id, saw ${formatValue(v)}`);
  return v.value;
}

const msgIdGet = (v: RecordView): number => v.msgId;

function compileMsg(node: Leaf): RecordPredicate {
  switch (node.type) {
    case 'field':
      return hasHeader;
    case 'compare': {
      const v = node.value;
      if (node.op === '~') {
        const re = pattern(v);
        const table = slotTable(NAME_SLOTS.flatMap((name, slot) => (re.test(name) ? [slot] : [])));
        return (r) => table[nameSlot(r)] === 1;
      }
      const id = msgIdOf(v);
      if (id !== null) return numberCompare(node.op, msgIdGet, hasHeader, id);
      if (node.op !== '==' && node.op !== '!=') opNotAllowed('msg', node.op, node.opColumn, `==, != and ~ with a name, or any comparison with a msg_id`);
      const table = slotTable(slotsNamed(v));
      return node.op === '==' ? (r) => table[nameSlot(r)] === 1 : (r) => table[nameSlot(r)] === 0;
    }
    case 'range': {
      const [from, to] = [node.from, node.to].map((v) => {
        const id = msgIdOf(v);
        if (id === null) throw new Located(v.column, `a msg range takes msg_ids, saw ${formatValue(v)}`);
        return id;
      });
      return numberRange(msgIdGet, hasHeader, from!, to!, node.to.column);
    }
    case 'set': {
      const ids = new Uint8Array(256);
      const slots: number[] = [];
      for (const v of node.values) {
        const id = msgIdOf(v);
        if (id === null) slots.push(...slotsNamed(v));
        else if (id < 256) ids[id] = 1;
      }
      const table = slotTable(slots);
      return (r) => table[nameSlot(r)] === 1 || (hasHeader(r) && ids[r.msgId] === 1);
    }
  }
}

function problemBit(v: FilterValue): number {
  const i = v.kind === 'number' ? -1 : PROBLEM_CODES.indexOf(v.value.toLowerCase() as (typeof PROBLEM_CODES)[number]);
  if (i < 0) {
    const near = v.kind === 'number' ? [] : nearest(v.value.toLowerCase(), PROBLEM_CODES);
    throw new Located(v.column, `unknown problem '${formatValue(v)}': ${near.length > 0 ? `did you mean ${near.join(', ')}? ` : ''}problems are ${PROBLEM_CODES.join(', ')}`);
  }
  return (1 << i) >>> 0;
}

function compileProblem(node: Leaf): RecordPredicate {
  let mask: number;
  switch (node.type) {
    case 'field':
      return (r) => r.problems !== 0;
    case 'range':
      throw new Located(node.from.column, `problem takes no range; use problem in {a, b} or problem == code`);
    case 'set':
      mask = node.values.reduce((m, v) => (m | problemBit(v)) >>> 0, 0);
      break;
    case 'compare':
      if (node.op === '~') {
        const re = pattern(node.value);
        mask = PROBLEM_CODES.reduce((m, code, i) => (re.test(code) ? (m | (1 << i)) >>> 0 : m), 0);
      } else if (node.op === '==' || node.op === '!=') {
        mask = problemBit(node.value);
        if (node.op === '!=') return (r) => (r.problems & mask) === 0;
      } else {
        opNotAllowed('problem', node.op, node.opColumn, `==, != (has / has not) and ~`);
      }
  }
  return (r) => (r.problems & mask) !== 0;
}

const RULE_IDS: readonly string[] = RULES.map((r) => r.id.toLowerCase());

/** The RULES index named by `v` (case-insensitive); an unknown id lists near matches. */
function ruleNamed(v: FilterValue): number {
  const id = v.value.toString().toLowerCase();
  const i = v.kind === 'number' ? -1 : RULE_IDS.indexOf(id);
  if (i >= 0) return i;
  const near = RULES.filter((r) => r.id.toLowerCase().includes(id)).map((r) => r.id);
  const hint = near.length > 0 ? `did you mean ${near.join(', ')}?` : `rules are ${RULES.map((r) => r.id).join(', ')}`;
  throw new Located(v.column, `unknown rule '${formatValue(v)}': ${hint}`);
}

/** finding: a finding record, or one about the named rules (`amp-workbench check` lists them). */
function compileFinding(node: Leaf): RecordPredicate {
  const table = new Uint8Array(256);
  switch (node.type) {
    case 'field':
      return isFinding;
    case 'range':
      throw new Located(node.from.column, `finding takes no range; use finding in {a, b} or finding == rule`);
    case 'set':
      for (const v of node.values) table[ruleNamed(v)] = 1;
      break;
    case 'compare':
      if (node.op === '~') {
        const re = pattern(node.value);
        RULES.forEach((r, i) => {
          if (re.test(r.id)) table[i] = 1;
        });
      } else if (node.op === '==' || node.op === '!=') {
        table[ruleNamed(node.value)] = 1;
        if (node.op === '!=') return (r) => isFinding(r) && table[r.msgId] === 0;
      } else {
        opNotAllowed('finding', node.op, node.opColumn, `==, !=, ~ and in {…} with rule ids`);
      }
  }
  return (r) => isFinding(r) && table[r.msgId] === 1;
}

function numberCompare(op: Exclude<CompareOp, '~'>, get: (v: RecordView) => number, has: (v: RecordView) => boolean, k: number): RecordPredicate {
  switch (op) {
    case '==':
      return (v) => has(v) && get(v) === k;
    case '!=':
      return (v) => has(v) && get(v) !== k;
    case '<':
      return (v) => has(v) && get(v) < k;
    case '<=':
      return (v) => has(v) && get(v) <= k;
    case '>':
      return (v) => has(v) && get(v) > k;
    case '>=':
      return (v) => has(v) && get(v) >= k;
  }
}

/** from..to is half-open, like a time range: from ≤ x < to. */
function numberRange(get: (v: RecordView) => number, has: (v: RecordView) => boolean, from: number, to: number, toColumn: number): RecordPredicate {
  if (to < from) throw new Located(toColumn, `the range ends (${to}) before it starts (${from})`);
  return (v) => {
    if (!has(v)) return false;
    const x = get(v);
    return x >= from && x < to;
  };
}

/** A literal of a numeric field as a number: an enumeration name, a duration in ns or a whole number. */
function numericValue(field: string, f: NumericField, v: FilterValue): number {
  if (f.type === 'enum') {
    const names = f.values!;
    const key = Object.keys(names).find((n) => n === v.value.toString().toLowerCase());
    if (v.kind === 'number' || key === undefined) {
      const near = v.kind === 'number' ? [] : nearest(v.value.toLowerCase(), Object.keys(names));
      throw new Located(v.column, `${field} is one of ${Object.keys(names).join(', ')}; saw ${formatValue(v)}${near.length > 0 ? ` (did you mean ${near.join(', ')}?)` : ''}`);
    }
    return names[key]!;
  }
  if (v.kind !== 'number') throw new Located(v.column, `${field} (${f.describe}) takes a ${f.type === 'duration' ? 'duration' : 'number'}, saw ${formatValue(v)}`);
  if (f.type === 'duration') {
    if (v.unit === null) throw new Located(v.column, `${field} takes a duration with a unit (${UNIT_LIST}), e.g. ${v.text}us; saw ${v.text}`);
    return Math.round(v.value * UNIT_NS[v.unit]);
  }
  if (v.unit !== null || !Number.isInteger(v.value)) throw new Located(v.column, `${field} (${f.describe}) takes a whole number, saw ${formatValue(v)}`);
  return v.value;
}

function compileNumeric(node: Leaf, f: NumericField, base: TimeBase): RecordPredicate {
  const get = (v: RecordView): number => f.get(v, base);
  const allowed = f.ordered ? '==, !=, <, <=, >, >=, in from..to and in {…}' : '==, != and in {…}';
  switch (node.type) {
    case 'field':
      return f.zeroIsFalse ? (v) => f.has(v) && get(v) !== 0 : f.has;
    case 'compare':
      if (node.op === '~') throw new Located(node.opColumn, `'~' applies to msg, problem and finding only; ${node.field} takes ${allowed}`);
      if (!f.ordered && node.op !== '==' && node.op !== '!=') opNotAllowed(node.field, node.op, node.opColumn, allowed);
      return numberCompare(node.op, get, f.has, numericValue(node.field, f, node.value));
    case 'range':
      if (!f.ordered) throw new Located(node.from.column, `${node.field} has no order, so no range; it takes ${allowed}`);
      return numberRange(get, f.has, numericValue(node.field, f, node.from), numericValue(node.field, f, node.to), node.to.column);
    case 'set': {
      const ks = node.values.map((x) => numericValue(node.field, f, x));
      return (v) => {
        if (!f.has(v)) return false;
        const x = get(v);
        for (let i = 0; i < ks.length; i++) if (ks[i] === x) return true;
        return false;
      };
    }
  }
}

function compileNode(node: FilterNode, base: TimeBase): RecordPredicate {
  switch (node.type) {
    case 'or': {
      const a = compileNode(node.left, base);
      const b = compileNode(node.right, base);
      return (v) => a(v) || b(v);
    }
    case 'and': {
      const a = compileNode(node.left, base);
      const b = compileNode(node.right, base);
      return (v) => a(v) && b(v);
    }
    case 'not': {
      const a = compileNode(node.operand, base);
      return (v) => !a(v);
    }
    default: {
      const f = FIELDS[node.field];
      if (f === undefined) {
        const near = nearest(node.field, FILTER_FIELDS);
        throw new Located(node.column, `unknown field '${node.field}': ${near.length > 0 ? `did you mean ${near.join(', ')}? ` : ''}fields are ${FILTER_FIELDS.join(', ')}`);
      }
      if (f.type === 'msg') return compileMsg(node);
      if (f.type === 'problem') return compileProblem(node);
      if (f.type === 'finding') return compileFinding(node);
      return compileNumeric(node, f, base);
    }
  }
}

/**
 * Compiles filter text (or a parsed tree) into a predicate over records. Syntax errors, unknown
 * fields, names and problem codes, and comparisons a field does not take (`dir > 3`,
 * `latency > 5` without a unit) are errors here, with the column of the offending token.
 */
export function compileFilter(source: string | FilterNode, opts: FilterOptions = {}): FilterCompile {
  const parsed = typeof source === 'string' ? parseFilter(source) : ok(source);
  if (!parsed.ok) return parsed;
  try {
    return ok({ tree: parsed.value, test: compileNode(parsed.value, timeBase(opts.startMonoNs ?? 0n)) });
  } catch (e) {
    if (e instanceof Located) return { ok: false, column: e.column, error: e.message };
    throw e;
  }
}

// ---- did you mean -------------------------------------------------------------------------------

/** Edit distance with transpositions (optimal string alignment), case-insensitive; stops counting past `max`. */
function editDistance(a: string, b: string, max: number): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (Math.abs(x.length - y.length) > max) return max + 1;
  let prev2: number[] = [];
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) d = Math.min(d, prev2[j - 2]! + 1);
      cur.push(d);
    }
    prev2 = prev;
    prev = cur;
  }
  return prev[y.length]!;
}

/** The candidates within a typo or two of `word` (one per three letters), closest first; none for words too short to tell. */
function nearest(word: string, candidates: readonly string[]): string[] {
  if (word.length < 4) return [];
  const max = Math.max(1, Math.floor(word.length / 3));
  return candidates
    .map((c) => ({ c, d: editDistance(word, c, max) }))
    .filter((x) => x.d <= max)
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map((x) => x.c);
}

// ---- completion ---------------------------------------------------------------------------------

export interface FilterSuggestion {
  /** What replaces the word at the cursor. */
  text: string;
  /** Why it fits: a field's meaning, an operator's, "message name". */
  detail: string;
}

export interface FilterCompletion {
  /** The 0-based range of the text the chosen suggestion replaces (the word being typed). */
  from: number;
  to: number;
  items: FilterSuggestion[];
}

/** What each field is, for completion (the numeric fields' own descriptions, the name fields here). */
const FIELD_DETAIL: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(FIELDS).map(([name, f]) => [
    name,
    'describe' in f ? f.describe : f.type === 'msg' ? 'message or record name' : f.type === 'problem' ? 'a problem found in the bytes' : 'a conformance finding (rule id)',
  ]),
);

const OPERATOR_DETAIL: readonly (readonly [string, string])[] = [
  ['==', 'equals'],
  ['!=', 'differs'],
  ['<', 'less than'],
  ['<=', 'at most'],
  ['>', 'greater than'],
  ['>=', 'at least'],
  ['~', 'matches a pattern'],
  ['in', 'a range from..to or a set {a, b}'],
];
/** Names worth offering: the reserved and implementation-defined ids (RESERVED_0x.., IMPL_REQUEST_0x..) still filter when typed. */
const NAMES_ONCE: readonly string[] = [...new Set(NAME_SLOTS)].filter((n) => n !== 'UNKNOWN' && !n.includes('_0x'));
const MAX_SUGGESTIONS = 50;

/** The values a field takes by name (none for plain numbers and durations). */
function valuesOf(field: string): FilterSuggestion[] {
  const f = FIELDS[field.toLowerCase()];
  if (f === undefined) return [];
  if (f.type === 'msg') return NAMES_ONCE.map((text) => ({ text, detail: 'name' }));
  if (f.type === 'problem') return PROBLEM_CODES.map((text) => ({ text, detail: 'problem' }));
  if (f.type === 'finding') return RULES.map((r) => ({ text: r.id, detail: `${r.severity}: ${r.description}` }));
  if (f.type === 'duration') return ['us', 'ms', 's'].map((u) => ({ text: `10${u}`, detail: `a duration (${UNIT_LIST})` }));
  return f.values ? Object.keys(f.values).map((text) => ({ text, detail: f.describe })) : [];
}

/** Suggestions that start with `word` first, then those that contain it, case-insensitively. */
function matching(items: readonly FilterSuggestion[], word: string): FilterSuggestion[] {
  const w = word.toLowerCase();
  const starts = items.filter((i) => i.text.toLowerCase().startsWith(w));
  const inside = w === '' ? [] : items.filter((i) => !i.text.toLowerCase().startsWith(w) && i.text.toLowerCase().includes(w));
  return [...starts, ...inside].slice(0, MAX_SUGGESTIONS);
}

/**
 * What may come at `cursor` in `text`: field names where an expression starts, the operators a
 * field takes after it, the field's values after an operator or inside `in {…}` (message names,
 * problem codes, rule ids, enumeration names), and `&&`/`||` after a whole comparison. Works on
 * text that does not parse yet, from the tokens before the word being typed; `extra` adds values
 * the caller knows (the devices of the session for dev).
 */
export function completeFilter(text: string, cursor: number, extra: Readonly<Record<string, readonly FilterSuggestion[]>> = {}): FilterCompletion {
  const at = Math.max(0, Math.min(cursor, text.length));
  let from = at;
  while (from > 0 && /[A-Za-z0-9_µμ-]/.test(text[from - 1]!)) from--;
  const word = text.slice(from, at);
  const none = { from, to: at, items: [] };
  let toks: Token[];
  try {
    toks = lex(text.slice(0, from)).slice(0, -1);
  } catch {
    return none;
  }
  // Inside a string nothing is offered.
  if ((text.slice(0, from).match(/"/g)?.length ?? 0) % 2 === 1) return none;
  const last = toks[toks.length - 1];
  const fields = FILTER_FIELDS.map((name) => ({ text: name, detail: FIELD_DETAIL[name]! }));
  const valuesFor = (field: string): FilterSuggestion[] => [...(extra[field] ?? []), ...valuesOf(field)];
  const isOp = (t: Token | undefined): boolean => t !== undefined && t.t === 'punct' && COMPARE_OPS.includes(t.text);
  let items: FilterSuggestion[];
  if (last === undefined || (last.t === 'punct' && ['&&', '||', '!', '('].includes(last.text))) items = fields;
  else if (isOp(last) || (last.t === 'ident' && last.text === 'in') || (last.t === 'punct' && last.text === '..')) {
    // The field is the token before the operator (or before `in`, `from..`).
    let k = toks.length - 2;
    while (k > 0 && !(toks[k]!.t === 'ident' && toks[k + 1] !== undefined && (isOp(toks[k + 1]) || (toks[k + 1]!.t === 'ident' && toks[k + 1]!.text === 'in')))) k--;
    items = valuesFor(toks[k]?.t === 'ident' ? toks[k]!.text : '');
  } else if (last.t === 'punct' && (last.text === '{' || last.text === ',')) {
    let k = toks.length - 1;
    while (k >= 0 && !(toks[k]!.t === 'punct' && toks[k]!.text === '{')) k--;
    items = valuesFor(toks[k - 2]?.t === 'ident' ? toks[k - 2]!.text : '');
  } else if (last.t === 'ident' && FIELDS[last.text] !== undefined && !isOp(toks[toks.length - 2])) {
    items = OPERATOR_DETAIL.map(([text, detail]) => ({ text, detail }));
  } else {
    items = [
      { text: '&&', detail: 'and' },
      { text: '||', detail: 'or' },
    ];
  }
  return { from, to: at, items: matching(items, word) };
}
