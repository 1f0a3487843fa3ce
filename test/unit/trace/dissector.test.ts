import { describe, expect, it } from 'vitest';

import { MESSAGES, PROBLEM_CODES, REVISIONS, type Layout } from '../../../src/protocol/index';
import { RULES, SEVERITIES } from '../../../src/trace/conformance';
import { generateDissector, payloadFieldFilter } from '../../../src/trace/dissector';
import { MARKER_KINDS, RECORD_FIELDS, RECORD_FLAGS, REVISION_CODES } from '../../../src/trace/record';

const lua = generateDissector();

/** The Lua with string literals and comments removed, for syntax checks. */
const code = lua.replace(/--[^\n]*/g, '').replace(/"(?:[^"\\]|\\.)*"/g, '""');

describe('generated Wireshark dissector', () => {
  it('is deterministic and registers the virtio_msg protocol', () => {
    expect(generateDissector()).toBe(lua);
    expect(lua).toContain('local proto = Proto("virtio_msg", ');
    expect(lua).toMatch(/^-- virtio_msg\.lua: .*\n-- .*\n-- GENERATED from/);
  });

  it('lists every message of every revision from the table, under its namespace key', () => {
    for (const rev of REVISIONS) {
      const block = lua.slice(lua.indexOf(`MSG[${REVISION_CODES.indexOf(rev)}] = {`));
      const mine = block.slice(0, block.indexOf('\n}'));
      expect(mine.split('\n').length - 1, rev).toBe(MESSAGES[rev].length);
      for (const d of MESSAGES[rev]) expect(mine, `${rev} ${d.name}`).toContain(`[${(d.bus ? 256 : 0) + d.msgId}]={name="${d.name}", ev=${d.kinds[0] === 'event'}`);
    }
  });

  it('declares a ProtoField for every payload field, an expert per problem code, every marker and flag', () => {
    for (const rev of REVISIONS) {
      for (const d of MESSAGES[rev]) {
        for (const l of Object.values(d.layouts) as Layout[]) {
          for (const f of l.fields) expect(lua, `${rev} ${d.name} ${f.name}`).toContain(`("${payloadFieldFilter(f)}", `);
        }
      }
    }
    for (const c of PROBLEM_CODES) expect(lua).toContain(`ProtoExpert.new("virtio_msg.expert.${c.replaceAll('-', '_')}"`);
    for (const m of MARKER_KINDS) expect(lua).toContain(`"${m}"`);
    for (const f of Object.keys(RECORD_FLAGS)) expect(lua).toContain(`"virtio_msg.record.flags.${f}"`);
    // Conformance findings: the rule table in RULES order (a finding record's msg_id), one expert per severity.
    expect(lua).toContain(`local RULES = {[0]=${RULES.map((r) => `{id=${JSON.stringify(r.id)}, section=${JSON.stringify(r.section)}}`).join(', ')}}`);
    for (const sv of SEVERITIES) expect(lua).toContain(`ProtoExpert.new("virtio_msg.expert.finding_${sv}"`);
  });

  it('declares and reads the record header from the layout table', () => {
    for (const f of RECORD_FIELDS) {
      expect(lua, f.name).toContain(`RF.${f.name} = ProtoField.uint${f.size * 8}("virtio_msg.record.${f.filter}", "${f.label}", base.${f.hex ? 'HEX' : 'DEC'}`);
      expect(lua, f.name).toContain(`{k="${f.name}", o=${f.offset}, s=${f.size}`);
    }
    // No record offset is written by hand in the dissector body.
    expect(code).not.toMatch(/tvb\((?!0, )[0-9]+, /);
  });

  it('names a byte run and an integer of the same protocol name apart', () => {
    expect(lua).toContain('ProtoField.bytes("virtio_msg.field.data", "data", base.NONE)');
    expect(lua).toContain('ProtoField.uint32("virtio_msg.field.data_int", "data_int", base.DEC)');
    expect(lua).toContain('ProtoField.uint64("virtio_msg.field.desc_addr", "desc_addr", base.HEX)');
  });

  it('is Lua 5.1 compatible: no integer operators, no goto, bit library for masks', () => {
    expect(code).not.toMatch(/\/\/|<<|>>|&|\||(?<![~<>=])~(?!=)|\bgoto\b|::/);
    expect(code).toContain('bit.band(');
  });
});
