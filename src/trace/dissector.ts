/**
 * Generates the Wireshark Lua dissector for trace records (record.ts) carried in our pcapng
 * (pcapng.ts; docs/formats.md §1 "Shipping the Lua dissector"). Every layout comes from the codec's
 * message table (src/protocol/messages.ts MESSAGES / HEADERS) and every record constant from
 * record.ts, so the dissector cannot drift from the codec: change the table, regenerate.
 *
 * `Proto("virtio_msg")` registers the dissector under that name, which the exported-PDU tag 12
 * in our packets names, so Wireshark routes packets to it with no configuration. The Lua is
 * 5.1-compatible (Wireshark ≤ 4.2 embeds 5.1/5.2, later 5.4): the BitOp `bit` library, no
 * integer operators, no goto.
 *
 * Field names: the record header under `virtio_msg.record.*`; the message header as
 * `virtio_msg.msg_id`, `.name`, `.kind`, `.type`, `.dev_num`, `.token`, `.msg_size`; payload
 * fields as `virtio_msg.field.<protocol name>` (an integer when every use is ≤ 32 bits, else a
 * 64-bit integer; u32 arrays as one item per word; byte runs as bytes — a name that is a byte run
 * in one message and an integer in another gives the integer form an `_int` suffix), bit ranges
 * as `virtio_msg.field.<field>.<bits>`; `virtio_msg.summary` is the line describeRecord gives.
 * Conformance findings (conformance.ts) show as `virtio_msg.finding.rule`, `.severity`, `.section`
 * and `.record` (the offending frame), with expert info of the finding's severity.
 */
import { HEADERS, MAX_MSG_SIZE, MESSAGES, R0_FRAME_SIZE, type FieldDef, type Layout, type MessageDef } from '../protocol/messages';
import { STATUS } from '../protocol/names';
import { PROBLEM_CODES, REVISIONS, type ProblemCode } from '../protocol/types';
import { RULES, SEVERITIES } from './conformance';
import { MAX_SUMMARY_FIELDS, MAX_SUMMARY_WORDS } from './describe';
import { DISSECTOR_NAME, LINKTYPE_USER0 } from './pcapng';
import {
  DIRECTION_CODES,
  MARKER_KINDS,
  NO_DEV,
  RECORD_FIELDS,
  RECORD_FLAGS,
  RECORD_HEADER_SIZE,
  RECORD_KINDS,
  RECORD_VERSION,
  REVISION_CODES,
  VQ_INDEX_DATA_SIZE,
  BUFFER_HEADER_SIZE,
  type RecordFieldName,
} from './record';

/** The Lua value-name table of each enumerated record field (declared from RECORD_KINDS, DIRECTION_CODES, REVISION_CODES below). */
const RECORD_VALUE_NAMES: Partial<Record<RecordFieldName, string>> = { kind: 'KINDS', dir: 'DIRS', rev: 'REVS' };

/** Expert info per problem code: group, severity and the default text (recorded-only problems show it). */
const EXPERT: Readonly<Record<ProblemCode, [group: string, severity: string, text: string]>> = {
  truncated: ['MALFORMED', 'ERROR', 'message is shorter than its header or fixed payload'],
  'size-mismatch': ['MALFORMED', 'WARN', 'msg_size disagrees with the bytes or the message\'s counts'],
  oversize: ['MALFORMED', 'WARN', 'message exceeds the maximum size'],
  'reserved-bits': ['PROTOCOL', 'WARN', 'reserved bits or bytes are not zero'],
  'unknown-id': ['PROTOCOL', 'WARN', 'msg_id is not defined for this revision'],
  'bad-field': ['PROTOCOL', 'WARN', 'a field holds a value the protocol forbids'],
  'event-response': ['PROTOCOL', 'WARN', 'an event has the response bit set'],
  'trailing-bytes': ['PROTOCOL', 'NOTE', 'non-zero bytes after msg_size'],
  'unmatched-response': ['SEQUENCE', 'WARN', 'response answers no outstanding request'],
  'no-response': ['SEQUENCE', 'WARN', 'request was not answered before its timeout'],
  'token-mismatch': ['SEQUENCE', 'WARN', 'response token differs from the request; matched by (dev_num, msg_id)'],
  duplicate: ['SEQUENCE', 'WARN', 'response repeats the answer to a request already answered; ignored'],
  late: ['SEQUENCE', 'WARN', 'response to a request that had timed out; ignored'],
  'wrong-dev-num': ['SEQUENCE', 'ERROR', 'response carries its request\'s token but another dev_num; the request failed'],
  'malformed-response': ['MALFORMED', 'ERROR', 'response to a request is malformed; the request failed'],
  'wrong-msg-id': ['SEQUENCE', 'ERROR', 'response carries its request\'s token and dev_num but another msg_id; the request failed'],
  'wrong-token': ['SEQUENCE', 'ERROR', 'response to the request by dev_num and msg_id carries another token; the request failed'],
};

/** Expert severity of each finding severity (SEVERITIES order). */
const FINDING_EXPERT: Readonly<Record<(typeof SEVERITIES)[number], string>> = { error: 'ERROR', warning: 'WARN', info: 'NOTE' };

const FIELD_TYPES = ['u8', 'u16', 'u24', 'u32', 'u64', 'uuid', 'u32[]', 'bytes', 'bitmap'] as const;
/** Lua type codes: 1..4 integers ≤ 32 bits, then 64-bit, uuid, words, bytes, bitmap. */
const typeCode = (t: FieldDef['type']): number => FIELD_TYPES.indexOf(t) + 1;

const isRun = (f: FieldDef): boolean => f.type === 'uuid' || f.type === 'bytes' || f.type === 'bitmap';

const lua = (s: string): string => JSON.stringify(s); // JSON string escapes are valid Lua for our ASCII names

function luaValues(values: Readonly<Record<number, string>>): string {
  return `{${Object.entries(values).map(([k, v]) => `[${k}]=${lua(v)}`).join(', ')}}`;
}

const fieldBits = (size: number): number => (size >= 4 ? 0xffffffff : 2 ** (8 * size) - 1);

/** Bits that must be zero: the whole word for a reserved word, else the bits no named range covers. */
function reservedMask(f: FieldDef): number {
  if (f.mbz) return fieldBits(f.size);
  if (!f.bits) return 0;
  let used = 0;
  for (const b of f.bits) used += (2 ** b.width - 1) * 2 ** b.shift;
  return fieldBits(f.size) - used;
}

interface FieldKind {
  abbr: string;
  ctor: 'uint32' | 'uint64' | 'bytes';
  /** Shown in hex: addresses, handles and other 64-bit-only values. */
  hex: boolean;
}

/** One ProtoField per (name, wire class) over every revision's table. */
function fieldKinds(): Map<string, FieldKind> {
  type Use = 'int32' | 'int64' | 'run';
  const uses = new Map<string, Set<Use>>();
  for (const rev of REVISIONS) {
    for (const d of MESSAGES[rev]) {
      for (const l of Object.values(d.layouts) as Layout[]) {
        for (const f of l.fields) {
          const set = uses.get(f.name) ?? new Set();
          set.add(isRun(f) ? 'run' : f.type === 'u64' ? 'int64' : 'int32');
          uses.set(f.name, set);
        }
      }
    }
  }
  const kinds = new Map<string, FieldKind>();
  for (const [name, set] of uses) {
    if (set.has('run')) kinds.set(`run:${name}`, { abbr: name, ctor: 'bytes', hex: false });
    const suffix = set.has('run') ? '_int' : '';
    const hex = /addr(ess)?$/.test(name) || (set.has('int64') && !set.has('int32'));
    if (set.has('int64')) kinds.set(`int:${name}`, { abbr: name + suffix, ctor: 'uint64', hex });
    else if (set.has('int32')) kinds.set(`int:${name}`, { abbr: name + suffix, ctor: 'uint32', hex });
  }
  return kinds;
}

const kindKey = (f: FieldDef): string => `${isRun(f) ? 'run' : 'int'}:${f.name}`;

const FIELD_KINDS = fieldKinds();

/** The display-filter field a payload field is shown as, e.g. `virtio_msg.field.index`. */
export function payloadFieldFilter(f: FieldDef): string {
  return `virtio_msg.field.${FIELD_KINDS.get(kindKey(f))!.abbr}`;
}

function layoutLua(l: Layout, kinds: Map<string, FieldKind>, bitFields: Map<string, string>): string {
  const fields = l.fields.map((f) => {
    const parts = [`n=${lua(f.name)}`, `t=${typeCode(f.type)}`, `o=${f.offset}`, `s=${f.size}`, `k=${lua(kinds.get(kindKey(f))!.abbr)}`];
    if (f.count !== undefined) parts.push(`c=${lua(f.count)}`);
    if (f.optional) parts.push('opt=true');
    if (f.mbz) parts.push('mbz=true');
    const rsv = reservedMask(f);
    if (rsv !== 0) parts.push(`rsv=${rsv}`);
    if (f.values) parts.push(`vals=${luaValues(f.values)}`);
    if (f.implFrom !== undefined) parts.push(`impl=${f.implFrom}`);
    if (f.multipleOf !== undefined) parts.push(`mul=${f.multipleOf}`);
    if (f.deviceStatus) parts.push('st=true');
    if (f.bits) {
      const bits = f.bits.map((b) => {
        const key = `${f.name}.${b.name}`;
        const mask = (2 ** b.width - 1) * 2 ** b.shift;
        const prev = bitFields.get(key);
        const decl = `ProtoField.uint32(${lua(`virtio_msg.field.${key}`)}, ${lua(b.name)}, base.DEC, nil, ${mask})`;
        if (prev !== undefined && prev !== decl) throw new Error(`dissector: bit range ${key} has two layouts`);
        bitFields.set(key, decl);
        return `{k=${lua(key)}, shift=${b.shift}, width=${b.width}${b.values ? `, vals=${luaValues(b.values)}` : ''}}`;
      });
      parts.push(`bits={${bits.join(', ')}}`);
    }
    return `{${parts.join(', ')}}`;
  });
  const tail = l.fields.length > 0 && l.fields[l.fields.length - 1]!.size === 0;
  return `{fixed=${l.fixedSize}, ext=${l.extensible}, tail=${tail}, f={${fields.join(', ')}}}`;
}

function messageLua(d: MessageDef, layoutRef: (l: Layout) => string): string {
  const parts = [`name=${lua(d.name)}`, `ev=${d.kinds[0] === 'event'}`, `reserved=${d.family === 'reserved'}`];
  for (const [kind, key] of [['request', 'req'], ['response', 'resp'], ['event', 'evt']] as const) {
    const l = d.layouts[kind];
    if (l) parts.push(`${key}=${layoutRef(l)}`);
  }
  // MessageDef.seen: a known peer's other request layout, told by its msg_size (codec.ts decode).
  const seen = d.seen?.request;
  if (seen) parts.push(`seen_req=${layoutRef(seen.layout)}`, `seen_who=${lua(seen.who)}`);
  return `[${(d.bus ? 256 : 0) + d.msgId}]={${parts.join(', ')}}`;
}

/** The whole dissector as Lua source. */
export function generateDissector(): string {
  const kinds = FIELD_KINDS;
  const bitFields = new Map<string, string>();
  const layouts: string[] = [];
  const layoutIndex = new Map<string, number>();
  const layoutRef = (l: Layout): string => {
    const text = layoutLua(l, kinds, bitFields);
    let i = layoutIndex.get(text);
    if (i === undefined) {
      i = layouts.length + 1;
      layouts.push(text);
      layoutIndex.set(text, i);
    }
    return `L[${i}]`;
  };
  const revBlocks = REVISIONS.map((rev) => {
    const code = REVISION_CODES.indexOf(rev);
    const h = HEADERS[rev];
    const typeField = h.fields[0]!;
    const head = `HEAD[${code}] = {name=${lua(rev)}, size=${h.size}, token=${h.tokenOffset}, msg_size=${h.msgSizeOffset}, type_rsv=${reservedMask(typeField)}, max=${MAX_MSG_SIZE[rev]}}`;
    const msgs = MESSAGES[rev].map((d) => '  ' + messageLua(d, layoutRef));
    return `${head}\nMSG[${code}] = {\n${msgs.join(',\n')},\n}`;
  });

  const fieldDecls = [...kinds.values()].map((k) => {
    const base = k.ctor === 'bytes' ? 'base.NONE' : k.hex ? 'base.HEX' : 'base.DEC';
    return `FLD[${lua(k.abbr)}] = ProtoField.${k.ctor}(${lua(`virtio_msg.field.${k.abbr}`)}, ${lua(k.abbr)}, ${base})`;
  });
  const bitDecls = [...bitFields].map(([key, decl]) => `BITF[${lua(key)}] = ${decl}`);
  const problemBits = PROBLEM_CODES.map(
    (c, i) => `PF.problem_${i} = ProtoField.bool(${lua(`virtio_msg.record.problem.${c.replaceAll('-', '_')}`)}, ${lua(c)}, 32, nil, ${2 ** i})`,
  );
  const flagBits = Object.entries(RECORD_FLAGS).map(([name, mask]) => `  {${lua(name)}, ProtoField.bool(${lua(`virtio_msg.record.flags.${name}`)}, ${lua(name)}, 32, nil, ${mask})}`);
  const experts = PROBLEM_CODES.map((c) => {
    const [group, severity, text] = EXPERT[c];
    return `EX[${lua(c)}] = ProtoExpert.new(${lua(`virtio_msg.expert.${c.replaceAll('-', '_')}`)}, ${lua(text)}, expert.group.${group}, expert.severity.${severity})`;
  });
  const recordFieldDecls = RECORD_FIELDS.map((f) => {
    const base = f.hex ? 'base.HEX' : 'base.DEC';
    const values = f.codes ? `, ${RECORD_VALUE_NAMES[f.name]}` : '';
    return `RF.${f.name} = ProtoField.uint${f.size * 8}(${lua(`virtio_msg.record.${f.filter}`)}, ${lua(f.label)}, ${base}${values})`;
  });
  const luaList = (xs: readonly (string | null)[], zero: string): string => `{[0]=${xs.map((x) => lua(x ?? zero)).join(', ')}}`;

  return `-- virtio_msg.lua: Wireshark dissector for AMP Workbench trace records (virtio-msg over the
-- virtio-msg-amp bus, every revision: r0, r2, r3, r4).
-- GENERATED from the codec's message table (src/protocol/messages.ts) and the trace record
-- layout (src/trace/record.ts). Do not edit: regenerate with
--   amp-workbench wireshark-dissector --print > virtio_msg.lua
-- Packets reach it by name from exported-PDU captures (link type 252, tag 12 "${DISSECTOR_NAME}");
-- raw-record captures (link type ${LINKTYPE_USER0}, DLT_USER0) with the "Decode USER0" preference on.
-- Filter fields: virtio_msg.name, .msg_id, .dev_num, .token, .msg_size, .kind, .summary,
-- virtio_msg.field.<protocol field name>, virtio_msg.record.* (seq, dir, rev, latency_ns, problems),
-- virtio_msg.finding.* (rule, severity, section, record) on conformance findings.

local proto = Proto(${lua(DISSECTOR_NAME)}, "virtio-msg trace record (AMP Workbench)")

-- ---- record.ts -----------------------------------------------------------------------------
local RECORD_HEADER_SIZE = ${RECORD_HEADER_SIZE}
local RECORD_VERSION = ${RECORD_VERSION}
local NO_DEV = ${NO_DEV}
local VQ_INDEX_DATA_SIZE = ${VQ_INDEX_DATA_SIZE}
local BUFFER_HEADER_SIZE = ${BUFFER_HEADER_SIZE}
local R0_FRAME_SIZE = ${R0_FRAME_SIZE}
local AT = {${RECORD_FIELDS.map((f) => `${f.name}=${f.offset}`).join(', ')}}
local RECORD_FIELDS = {${RECORD_FIELDS.map((f) => `{k=${lua(f.name)}, o=${f.offset}, s=${f.size}${f.type === 'u64' && f.none !== undefined ? ', omit=true' : ''}}`).join(', ')}}
local KINDS = ${luaList(RECORD_KINDS, '')}
local DIRS = ${luaList(DIRECTION_CODES, 'none')}
local REVS = ${luaList(REVISION_CODES, 'unknown')}
local MARKERS = ${luaList(MARKER_KINDS, '')}
local RULES = {[0]=${RULES.map((r) => `{id=${lua(r.id)}, section=${lua(r.section)}}`).join(', ')}}
local SEVERITIES = ${luaList(SEVERITIES, '')}
local PROBLEMS = {${PROBLEM_CODES.map(lua).join(', ')}}

-- ---- messages.ts: headers and layouts per revision code ---------------------------------------
-- field types: 1 u8, 2 u16, 3 u24, 4 u32, 5 u64, 6 uuid, 7 u32[], 8 bytes, 9 bitmap
local U32, U64, UUID, WORDS, BYTES, BITMAP = 4, 5, 6, 7, 8, 9
local L = {
${layouts.map((l, i) => `  [${i + 1}] = ${l},`).join('\n')}
}
local HEAD, MSG = {}, {}
${revBlocks.join('\n')}

-- ---- fields -----------------------------------------------------------------------------------
local PF, RF, FLD, BITF, EX = {}, {}, {}, {}, {}
${recordFieldDecls.join('\n')}
PF.request_in = ProtoField.framenum("virtio_msg.request_in", "Request in", base.NONE, frametype and frametype.REQUEST)
PF.response_in = ProtoField.framenum("virtio_msg.response_in", "Response in", base.NONE, frametype and frametype.RESPONSE)
PF.summary = ProtoField.string("virtio_msg.summary", "Summary")
PF.name = ProtoField.string("virtio_msg.name", "Message")
PF.kind = ProtoField.string("virtio_msg.kind", "Message kind")
PF.type = ProtoField.uint8("virtio_msg.type", "type", base.HEX)
PF.type_response = ProtoField.bool("virtio_msg.type.response", "response", 8, nil, 1)
PF.type_bus = ProtoField.bool("virtio_msg.type.bus", "bus", 8, nil, 2)
PF.msg_id = ProtoField.uint8("virtio_msg.msg_id", "msg_id", base.HEX)
PF.dev_num = ProtoField.uint16("virtio_msg.dev_num", "dev_num", base.DEC)
PF.token = ProtoField.uint16("virtio_msg.token", "token", base.HEX)
PF.msg_size = ProtoField.uint16("virtio_msg.msg_size", "msg_size", base.DEC)
PF.text = ProtoField.string("virtio_msg.text", "Text")
PF.avail_idx = ProtoField.uint16("virtio_msg.vq.avail_idx", "avail.idx", base.DEC)
PF.used_idx = ProtoField.uint16("virtio_msg.vq.used_idx", "used.idx", base.DEC)
PF.last_seen_used = ProtoField.uint16("virtio_msg.vq.last_seen_used", "last seen used.idx", base.DEC)
PF.in_flight = ProtoField.uint16("virtio_msg.vq.in_flight", "in flight", base.DEC)
PF.buffer_length = ProtoField.uint32("virtio_msg.buffer.length", "Buffer length (in full)", base.DEC)
PF.buffer_head = ProtoField.uint16("virtio_msg.buffer.head", "Head descriptor", base.DEC)
PF.buffer_bytes = ProtoField.bytes("virtio_msg.buffer.bytes", "Buffer bytes (kept)")
PF.finding_rule = ProtoField.string("virtio_msg.finding.rule", "Rule")
PF.finding_severity = ProtoField.string("virtio_msg.finding.severity", "Severity")
PF.finding_section = ProtoField.string("virtio_msg.finding.section", "Reference")
PF.finding_record = ProtoField.framenum("virtio_msg.finding.record", "Offending record in", base.NONE)
${problemBits.join('\n')}
local FLAG_BITS = {
${flagBits.join(',\n')},
}
${fieldDecls.join('\n')}
${bitDecls.join('\n')}
${experts.join('\n')}
EX.record = ProtoExpert.new("virtio_msg.expert.record", "damaged trace record", expert.group.MALFORMED, expert.severity.ERROR)
${SEVERITIES.map((sv) => `EX.finding_${sv} = ProtoExpert.new("virtio_msg.expert.finding_${sv}", "conformance finding (${sv})", expert.group.PROTOCOL, expert.severity.${FINDING_EXPERT[sv]})`).join('\n')}

local all = {}
for _, f in pairs(PF) do all[#all + 1] = f end
for _, f in pairs(RF) do all[#all + 1] = f end
for _, f in pairs(FLD) do all[#all + 1] = f end
for _, f in pairs(BITF) do all[#all + 1] = f end
for _, b in ipairs(FLAG_BITS) do all[#all + 1] = b[2] end
proto.fields = all
local experts = {}
for _, e in pairs(EX) do experts[#experts + 1] = e end
proto.experts = experts

proto.prefs.user0 = Pref.bool("Decode USER0 (DLT 147) as trace records", false,
  "Claim link type 147 (DLT_USER0) for captures holding bare trace records")

-- ---- helpers ----------------------------------------------------------------------------------
local function hex(v, digits) return string.format("0x%0" .. digits .. "x", v) end
local function sized(v) return string.format("0x%04x (%d)", v, v) end
local function num_text(v) if v > 0xffff then return string.format("0x%x", v) end return string.format("%d", v) end
-- names.ts statusNames: device status bits lowest first, an undefined bit as hex; describe.ts fieldText
local STATUS_BITS = {${Object.entries(STATUS).map(([name, bit]) => `[${bit}]=${lua(name)}`).join(', ')}}
local function status_text(v)
  local names = {}
  for i = 0, 31 do
    local b = 2 ^ i
    if math.floor(v / b) % 2 == 1 then names[#names + 1] = STATUS_BITS[b] or string.format("0x%x", b) end
  end
  return hex(v, 2) .. "(" .. (#names > 0 and table.concat(names, "|") or "reset") .. ")"
end
local function u64_text(v)
  local s = string.lower(v:tohex()):gsub("^0+", "")
  if s == "" then s = "0" end
  return "0x" .. s
end
local function bytes_text(tvb, at, n)
  if n == 0 then return "" end
  if n > 8 then return n .. " bytes" end
  return string.lower(tvb(at, n):bytes():tohex())
end
-- messages.ts flagNames: set one-bit ranges by name, wider ranges as name=value, uncovered bits as bit<i>
local function flag_names(f, v)
  local out = {}
  for _, b in ipairs(f.bits) do
    local sub = math.floor(v / 2 ^ b.shift) % 2 ^ b.width
    if sub ~= 0 then
      local name = b.k:match("[^.]+$")
      if b.width == 1 and not b.vals then out[#out + 1] = name
      else out[#out + 1] = name .. "=" .. ((b.vals and b.vals[sub]) or tostring(sub)) end
    end
  end
  if f.rsv then
    for i = 0, 31 do
      local m = 2 ^ i
      if math.floor(v / m) % 2 == 1 and math.floor(f.rsv / m) % 2 == 1 then out[#out + 1] = "bit" .. i end
    end
  end
  return table.concat(out, "|")
end
local function defined(values)
  local keys, out = {}, {}
  for k in pairs(values) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do out[#out + 1] = k .. " " .. values[k] end
  return table.concat(out, ", ")
end

-- messages.ts unlistedName / isEventId: ids the table does not define
local function unlisted(rev, bus, id)
  local event = (rev == 1) and (not bus and id >= 0x10 and id <= 0x12) or (rev ~= 1 and bit.band(id, 0x40) ~= 0)
  local name
  if rev == 1 or id < 0x80 then
    name = "RESERVED_" .. hex(id, 2)
  else
    name = (bus and "BUS_" or "") .. "IMPL_" .. (bit.band(id, 0x40) ~= 0 and "EVENT_" or "REQUEST_") .. hex(id, 2)
  end
  local opaque = {fixed=HEAD[rev].size, ext=false, tail=true, f={{n="payload", t=BYTES, o=HEAD[rev].size, s=0, k="payload"}}}
  return {name=name, ev=event, reserved=(rev == 1 or id < 0x80), req=opaque, resp=opaque, evt=opaque}
end

-- one decode pass: the tree, where problems go, and which problem codes were found
local function problem(ctx, code, reason, range)
  ctx.found[code] = true
  if range then ctx.tree:add_tvb_expert_info(EX[code], range, reason)
  else ctx.tree:add_proto_expert_info(EX[code], reason) end
end

local function first_non_zero(tvb, from, to)
  for i = from, to - 1 do if tvb(i, 1):uint() ~= 0 then return i end end
  return -1
end

local function zero_run(ctx, from, to, code, what)
  local at = first_non_zero(ctx.tvb, ctx.off + from, ctx.off + to)
  if at >= 0 then
    problem(ctx, code, string.format("%s must be zero, byte %d is %s", what, at - ctx.off, hex(ctx.tvb(at, 1):uint(), 2)), ctx.tvb(at, 1))
  end
end

local function check_value(ctx, f, v, item)
  local digits = 2 * math.min(f.s, 4)
  if f.rsv and bit.band(v, f.rsv) ~= 0 then
    local what = f.mbz and f.n or (f.n .. " reserved bits " .. hex(f.rsv, digits))
    problem(ctx, "reserved-bits", string.format("%s must be 0, saw %s", what, hex(v, digits)), nil)
  end
  if f.bits then
    for _, b in ipairs(f.bits) do
      if b.vals then
        local sub = math.floor(v / 2 ^ b.shift) % 2 ^ b.width
        if not b.vals[sub] then
          problem(ctx, "bad-field", string.format("%s.%s %d is reserved (defined: %s)", f.n, b.k:match("[^.]+$"), sub, defined(b.vals)), nil)
        end
      end
    end
  end
  if f.vals then
    if f.vals[v] then item:append_text(" (" .. f.vals[v] .. ")")
    elseif not (f.impl and v >= f.impl) then
      local impl = f.impl and (", >= " .. hex(f.impl, digits) .. " implementation-defined") or ""
      problem(ctx, "bad-field", string.format("%s %s is reserved (defined: %s%s)", f.n, hex(v, digits), defined(f.vals), impl), nil)
    end
  end
  if f.mul and v % f.mul ~= 0 then
    problem(ctx, "bad-field", string.format("%s must be a multiple of %d, saw %d", f.n, f.mul, v), nil)
  end
end

-- codec.ts decodeRun: arrays, byte runs and bitmaps, checked against msg_size
local function decode_run(ctx, L, f, vals)
  local tvb, off, o = ctx.tvb, ctx.off, f.o
  local take, text
  if not f.c then
    local stop = f.s > 0 and (o + f.s) or ctx.len
    take = stop - o
    if f.t == WORDS then take = math.floor(take / 4) end
  elseif f.s > 0 then
    local count = vals[f.c]
    if count > f.s then problem(ctx, "bad-field", string.format("%s %d exceeds the %d-byte %s field", f.c, count, f.s, f.n), nil) end
    take = math.min(count, f.s)
    zero_run(ctx, o + take, o + f.s, "reserved-bits", string.format("%s bytes past %s %d", f.n, f.c, count))
  else
    local count = vals[f.c]
    local need = count
    if f.t == WORDS then need = 4 * count elseif f.t == BITMAP then need = math.ceil(count / 8) end
    if ctx.size_checks then
      local full = L.fixed + need
      local absent = f.opt and ctx.declared == L.fixed
      if ctx.declared ~= full and not absent then
        local alt = f.opt and string.format(" (or %d without %s)", L.fixed, f.n) or ""
        problem(ctx, "size-mismatch", string.format("%s %d needs msg_size %d%s but msg_size is %d", f.c, count, full, alt, ctx.declared), nil)
      end
    end
    local avail = ctx.len - o
    if f.t == WORDS then
      take = math.min(count, math.floor(avail / 4))
    else
      take = math.min(need, avail)
      if f.t == BITMAP and count % 8 ~= 0 and take == need then
        local last = tvb(off + o + need - 1, 1):uint()
        local unused = 0xff - (2 ^ (count % 8) - 1)
        if bit.band(last, unused) ~= 0 then
          problem(ctx, "reserved-bits", string.format("%s bits past %s %d must be 0, saw %s in the last byte", f.n, f.c, count, hex(last, 2)), tvb(off + o + need - 1, 1))
        end
      end
    end
  end
  if f.t == WORDS then
    local sub = ctx.tree:add(tvb(off + o, math.max(4 * take, 0)), string.format("%s [%d]", f.n, take))
    local words = {}
    for i = 0, take - 1 do
      local r = tvb(off + o + 4 * i, 4)
      sub:add_le(FLD[f.k], r)
      if i < ${MAX_SUMMARY_WORDS} then words[#words + 1] = hex(r:le_uint(), 8) end
    end
    text = "[" .. table.concat(words, ",") .. (take > ${MAX_SUMMARY_WORDS} and ",…" or "") .. "]"
  else
    if take > 0 then ctx.tree:add(FLD[f.k], tvb(off + o, take))
    else ctx.tree:add(tvb(off + o, 0), f.n .. ": (empty)") end
    text = bytes_text(tvb, off + o, take)
  end
  return text
end

-- a layout's field names, as the codec's size-mismatch reason lists them
local function field_names(L)
  local names = {}
  for _, f in ipairs(L.f) do names[#names + 1] = f.n end
  return table.concat(names, ", ")
end

-- codec.ts decodeFields: every field the bytes reach; the first four go into the summary
local function decode_fields(ctx, L, label)
  local tvb, off = ctx.tvb, ctx.off
  local vals, shown = {}, {}
  for _, f in ipairs(L.f) do
    local o = f.o
    if o + f.s > ctx.len then
      if not ctx.short then
        problem(ctx, "truncated", string.format("%s needs %d bytes, only %d available (msg_size %d, %d received)", label, L.fixed, ctx.len, ctx.declared, ctx.n), nil)
      end
      break
    end
    local text
    if f.t <= U32 then
      local r = tvb(off + o, f.s)
      local v = r:le_uint()
      vals[f.n] = v
      local item = ctx.tree:add_le(FLD[f.k], r)
      if f.bits then
        for _, b in ipairs(f.bits) do
          local bi = item:add_le(BITF[b.k], r)
          local sub = math.floor(v / 2 ^ b.shift) % 2 ^ b.width
          if b.vals and b.vals[sub] then bi:append_text(" (" .. b.vals[sub] .. ")") end
        end
      end
      check_value(ctx, f, v, item)
      text = f.st and status_text(v) or num_text(v)
      if f.bits then
        local names = flag_names(f, v)
        if names ~= "" then text = text .. "(" .. names .. ")" end
      end
    elseif f.t == U64 then
      local r = tvb(off + o, 8)
      ctx.tree:add_le(FLD[f.k], r)
      text = u64_text(r:le_uint64())
    elseif f.t == UUID then
      ctx.tree:add(FLD[f.k], tvb(off + o, f.s))
      text = bytes_text(tvb, off + o, f.s)
    else
      text = decode_run(ctx, L, f, vals)
    end
    if #shown < ${MAX_SUMMARY_FIELDS} then shown[#shown + 1] = f.n .. "=" .. text end
  end
  if ctx.size_checks and not L.tail and ctx.declared > L.fixed and not L.ext then
    problem(ctx, "size-mismatch", string.format("%s is %d bytes but msg_size is %d", label, L.fixed, ctx.declared), nil)
  end
  return shown
end

-- codec.ts decode: one message of any revision; returns its name and summary line (describe.ts)
local function dissect_message(tvb, off, n, rev, dir, tree, found)
  local h = HEAD[rev]
  local ctx = {tvb=tvb, off=off, n=n, tree=tree, found=found}
  if n < h.size then
    local reason = string.format("%s header is %d bytes but %d received", h.name, h.size, n)
    problem(ctx, "truncated", reason, nil)
    return "MALFORMED", string.format("MALFORMED %d bytes: %s", n, reason)
  end
  local t = tvb(off, 1):uint()
  local id = tvb(off + 1, 1):uint()
  local dev = tvb(off + 2, 2):le_uint()
  local token = h.token >= 0 and tvb(off + h.token, 2):le_uint() or 0
  local bus = bit.band(t, 2) ~= 0
  local def = MSG[rev][(bus and 256 or 0) + id] or unlisted(rev, bus, id)
  local kind = def.ev and "event" or ((bit.band(t, 1) ~= 0 or (rev == 1 and dir == 2)) and "response" or "request")
  local msg = tree:add(tvb(off, n), string.format("%s %s (%s)", def.name, kind, h.name))
  ctx.tree = msg
  msg:add(PF.kind, kind):set_generated()
  local ti = msg:add(PF.type, tvb(off, 1))
  ti:add(PF.type_response, tvb(off, 1))
  ti:add(PF.type_bus, tvb(off, 1))
  msg:add(PF.msg_id, tvb(off + 1, 1)):append_text(" (" .. def.name .. ")")
  msg:add_le(PF.dev_num, tvb(off + 2, 2))
  if h.token >= 0 then msg:add_le(PF.token, tvb(off + h.token, 2)) end

  if bit.band(t, h.type_rsv) ~= 0 then
    problem(ctx, "reserved-bits", string.format("type %s: reserved bits 2-7 must be 0, saw %s", hex(t, 2), hex(bit.band(t, h.type_rsv), 2)), tvb(off, 1))
  end
  if def.ev and bit.band(t, 1) ~= 0 then
    problem(ctx, "event-response", string.format("%s (%s) is an event but type %s has the response bit set", def.name, hex(id, 2), hex(t, 2)), tvb(off, 1))
  end
  if def.reserved then
    problem(ctx, "unknown-id", string.format("msg_id %s is reserved in the %s %s namespace", hex(id, 2), h.name, bus and "bus" or "transport"), tvb(off + 1, 1))
  end
  if bus and dev ~= 0 then problem(ctx, "bad-field", string.format("bus message must have dev_num 0, saw %d", dev), tvb(off + 2, 2)) end

  local msg_size
  ctx.short, ctx.size_checks = false, false
  if h.msg_size < 0 then
    msg_size = R0_FRAME_SIZE
    ctx.declared, ctx.len = R0_FRAME_SIZE, math.min(n, R0_FRAME_SIZE)
    msg:add(PF.msg_size, R0_FRAME_SIZE):set_generated()
    if n < R0_FRAME_SIZE then
      ctx.short = true
      problem(ctx, "truncated", string.format("R0 frame is %d bytes but %d received", R0_FRAME_SIZE, n), nil)
    end
  else
    local sr = tvb(off + h.msg_size, 2)
    msg_size = sr:le_uint()
    msg:add_le(PF.msg_size, sr)
    if msg_size < h.size then
      problem(ctx, "size-mismatch", string.format("msg_size %s is smaller than the %d-byte header", sized(msg_size), h.size), sr)
      ctx.declared, ctx.len = n, n
    else
      ctx.declared, ctx.len, ctx.size_checks = msg_size, math.min(n, msg_size), true
      if n < msg_size then problem(ctx, "size-mismatch", string.format("msg_size %s but %d bytes received", sized(msg_size), n), sr) end
    end
  end
  if n > msg_size and ctx.declared == msg_size then
    zero_run(ctx, msg_size, n, "trailing-bytes", string.format("%d bytes after msg_size %s", n - msg_size, sized(msg_size)))
  end
  if msg_size > h.max then
    problem(ctx, "oversize", string.format("msg_size %s exceeds the %s maximum %d", sized(msg_size), h.name, h.max), nil)
  end

  local L = def.ev and def.evt or (kind == "response" and def.resp or def.req)
  local seen = kind == "request" and def.seen_req or nil
  if seen and ctx.size_checks and ctx.declared == seen.fixed and ctx.declared ~= L.fixed then
    problem(ctx, "size-mismatch", string.format("%s request is %d bytes in %s (%s), but msg_size is %d: the %d-byte layout of %s (%s), decoded as such",
      def.name, L.fixed, h.name, field_names(L), ctx.declared, seen.fixed, def.seen_who, field_names(seen)), tvb(off + h.msg_size, 2))
    L = seen
  end
  local shown = decode_fields(ctx, L, def.name .. " " .. kind)
  if h.msg_size < 0 and ctx.len > L.fixed then zero_run(ctx, L.fixed, ctx.len, "reserved-bits", "R0 unused payload bytes") end

  local parts = {def.name}
  if not bus then parts[#parts + 1] = "dev " .. dev end
  if token ~= 0 then parts[#parts + 1] = "token " .. hex(token, 4) end
  for _, s in ipairs(shown) do parts[#parts + 1] = s end
  return def.name, table.concat(parts, " ")
end

-- ---- request/response links (first pass records, later passes show) ----------------------------
local frame_of_seq, response_of_seq = {}, {}
function proto.init()
  frame_of_seq, response_of_seq = {}, {}
end

local function text_of(tvb, n)
  if n <= 0 then return "" end
  return tvb(RECORD_HEADER_SIZE, n):string(ENC_UTF_8)
end

local function all_ones64(tvb, o)
  return tvb(o, 4):le_uint() == 0xffffffff and tvb(o + 4, 4):le_uint() == 0xffffffff
end

function proto.dissector(tvb, pinfo, tree)
  local n = tvb:len()
  pinfo.cols.protocol:set("virtio-msg")
  local root = tree:add(proto, tvb())
  local found = {}
  if n < RECORD_HEADER_SIZE then
    root:add_proto_expert_info(EX.record, string.format("trace record header needs %d bytes, %d captured", RECORD_HEADER_SIZE, n))
    return
  end
  local length = tvb(AT.length, 4):le_uint()
  local version = tvb(AT.version, 1):uint()
  local kind, dir, rev = tvb(AT.kind, 1):uint(), tvb(AT.dir, 1):uint(), tvb(AT.rev, 1):uint()
  local seq = tvb(AT.seq, 8):le_uint64()
  local dev = tvb(AT.devNum, 2):le_uint()
  local problems = tvb(AT.problems, 4):le_uint()
  local flags = tvb(AT.flags, 4):le_uint()
  local pair_range = tvb(AT.pairSeq, 8)
  local has_pair = not all_ones64(tvb, AT.pairSeq)

  local rt = root:add(tvb(0, RECORD_HEADER_SIZE), "Trace record " .. tostring(seq))
  for _, f in ipairs(RECORD_FIELDS) do
    local r = tvb(f.o, f.s)
    -- a sequence number that is absent (~0) is left out; devNum shows its 65535
    if not (f.omit and all_ones64(tvb, f.o)) then
      local item = rt:add_le(RF[f.k], r)
      if f.k == "problems" then
        for i = 1, #PROBLEMS do
          if bit.band(problems, 2 ^ (i - 1)) ~= 0 then item:add_le(PF["problem_" .. (i - 1)], r) end
        end
      elseif f.k == "flags" then
        for _, b in ipairs(FLAG_BITS) do item:add_le(b[2], r) end
      end
    end
  end

  if version ~= RECORD_VERSION or length < RECORD_HEADER_SIZE or length > n or not KINDS[kind] or not DIRS[dir] or not REVS[rev] then
    root:add_proto_expert_info(EX.record, string.format("record version %d, length 64..%d, kind 0..%d expected; saw version %d, length %d, kind %d, dir %d, rev %d",
      RECORD_VERSION, n, #KINDS, version, length, kind, dir, rev))
    pinfo.cols.info:set("damaged trace record")
    return
  end
  local data_len = length - RECORD_HEADER_SIZE
  local devtxt = dev == NO_DEV and "" or (" dev " .. dev)
  local name, summary
  local kname = KINDS[kind]
  if kname == "message" then
    if rev == 0 then
      name, summary = "UNKNOWN", string.format("UNKNOWN %d bytes, revision unknown", data_len)
    else
      name, summary = dissect_message(tvb, RECORD_HEADER_SIZE, data_len, rev, dir, root, found)
    end
  elseif kname == "doorbell" then
    name = "DOORBELL"
    summary = "DOORBELL " .. (dir == 1 and "driver rang device" or dir == 2 and "device rang driver" or "doorbell")
  elseif kname == "vq-index" then
    name = "VQ_INDEX"
    local q = tvb(AT.channel, 2):le_uint()
    if data_len >= VQ_INDEX_DATA_SIZE then
      local d = RECORD_HEADER_SIZE
      local vt = root:add(tvb(d, VQ_INDEX_DATA_SIZE), "Virtqueue " .. q)
      vt:add_le(PF.avail_idx, tvb(d, 2))
      vt:add_le(PF.used_idx, tvb(d + 2, 2))
      vt:add_le(PF.last_seen_used, tvb(d + 4, 2))
      vt:add_le(PF.in_flight, tvb(d + 6, 2))
      summary = string.format("VQ_INDEX%s q%d avail.idx %d used.idx %d last seen %d in flight %d", devtxt, q,
        tvb(d, 2):le_uint(), tvb(d + 2, 2):le_uint(), tvb(d + 4, 2):le_uint(), tvb(d + 6, 2):le_uint())
    else
      summary = string.format("VQ_INDEX%s q%d (damaged)", devtxt, q)
    end
  elseif kname == "buffer" then
    name = "BUFFER"
    local q = tvb(AT.channel, 2):le_uint()
    if data_len >= BUFFER_HEADER_SIZE then
      local d = RECORD_HEADER_SIZE
      local full, head, kept = tvb(d, 4):le_uint(), tvb(d + 4, 2):le_uint(), data_len - BUFFER_HEADER_SIZE
      local bt = root:add(tvb(d, data_len), "Buffer of virtqueue " .. q)
      bt:add_le(PF.buffer_length, tvb(d, 4))
      bt:add_le(PF.buffer_head, tvb(d + 4, 2))
      if kept > 0 then bt:add(PF.buffer_bytes, tvb(d + BUFFER_HEADER_SIZE, kept)) end
      summary = string.format("BUFFER%s q%d head %d %s: %d bytes%s", devtxt, q, head, dir == 1 and "published" or "used", full,
        kept < full and string.format(" (first %d kept)", kept) or "")
    else
      summary = string.format("BUFFER%s q%d (damaged)", devtxt, q)
    end
  else
    local text = text_of(tvb, data_len)
    if data_len > 0 then root:add(PF.text, tvb(RECORD_HEADER_SIZE, data_len), text) end
    if kname == "finding" then
      local rule, sev = RULES[tvb(AT.msgId, 1):uint()], SEVERITIES[tvb(AT.msgType, 1):uint()]
      local rid, stxt = rule and rule.id or ("rule " .. tvb(AT.msgId, 1):uint()), sev or ("severity " .. tvb(AT.msgType, 1):uint())
      local ft = root:add(tvb(0, length), "Conformance finding: " .. rid .. " (" .. stxt .. ")")
      ft:add(PF.finding_rule, tvb(AT.msgId, 1), rid)
      ft:add(PF.finding_severity, tvb(AT.msgType, 1), stxt)
      if rule then ft:add(PF.finding_section, rule.section):set_generated() end
      if has_pair then
        local at = frame_of_seq[tostring(pair_range:le_uint64())]
        if at then ft:add(PF.finding_record, at):set_generated() end
      end
      local ex = EX["finding_" .. (sev or "warning")]
      ft:add_proto_expert_info(ex, rid .. ": " .. text)
      name = "FINDING"
      summary = string.format("FINDING%s %s %s (record %s): %s", devtxt, stxt, rid, has_pair and tostring(pair_range:le_uint64()) or "?", text)
    elseif kname == "queue-state" then
      name, summary = "QUEUE_STATE", "QUEUE_STATE " .. text
    else
      local m = MARKERS[tvb(AT.msgId, 1):uint()]
      name = m and string.upper(m):gsub("-", "_") or "MARKER"
      summary = (name .. devtxt .. " " .. text):gsub("%s+$", "")
    end
  end

  for i, code in ipairs(PROBLEMS) do
    if bit.band(problems, 2 ^ (i - 1)) ~= 0 and not found[code] then root:add_proto_expert_info(EX[code]) end
  end

  local key = tostring(seq)
  if not pinfo.visited then
    frame_of_seq[key] = pinfo.number
    if has_pair and bit.band(flags, ${RECORD_FLAGS.response}) ~= 0 then response_of_seq[tostring(pair_range:le_uint64())] = pinfo.number end
  end
  if has_pair and kname ~= "finding" then
    local req = frame_of_seq[tostring(pair_range:le_uint64())]
    if req then root:add(PF.request_in, req):set_generated() end
  end
  local resp = response_of_seq[key]
  if resp and bit.band(flags, ${RECORD_FLAGS.request}) ~= 0 then root:add(PF.response_in, resp):set_generated() end

  root:add(PF.name, name):set_generated()
  root:add(PF.summary, summary):set_generated()
  root:append_text(": " .. summary)
  pinfo.cols.info:set(summary)
end

-- raw records on DLT_USER0, when the preference says so
local user0 = wtap_encaps and wtap_encaps.USER0 or (wtap and wtap.USER0)
local user0_added = false
function proto.prefs_changed()
  if not user0 then return end
  local t = DissectorTable.get("wtap_encap")
  if proto.prefs.user0 and not user0_added then t:add(user0, proto); user0_added = true
  elseif not proto.prefs.user0 and user0_added then t:remove(user0, proto); user0_added = false end
end
`;
}
