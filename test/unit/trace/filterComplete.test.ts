/** Filter autocomplete (completeFilter) and the "did you mean" hints of compileFilter. */
import { describe, expect, it } from 'vitest';

import { compileFilter, completeFilter, FILTER_FIELDS } from '../../../src/trace/filter';

const texts = (text: string, cursor = text.length, extra = {}): string[] => completeFilter(text, cursor, extra).items.map((i) => i.text);

describe('completeFilter', () => {
  it('offers every field where an expression starts, and narrows them by the word typed', () => {
    expect(texts('')).toEqual(FILTER_FIELDS);
    expect(texts('la')).toEqual(['latency']);
    expect(texts('dev == 1 && (')).toEqual(FILTER_FIELDS);
    expect(texts('!si')).toEqual(['size']);
  });

  it('offers the operators after a field and && / || after a whole comparison', () => {
    expect(texts('dev ')).toEqual(['==', '!=', '<', '<=', '>', '>=', '~', 'in']);
    expect(texts('dev == 1 ')).toEqual(['&&', '||']);
    expect(texts('(msg == PING) ')).toEqual(['&&', '||']);
  });

  it("offers a field's values after an operator, in a set and after a range's '..'", () => {
    expect(texts('msg == GET_VQ')).toEqual(['GET_VQUEUE']);
    expect(texts('msg != event_u')).toEqual(['EVENT_USED']);
    // Names that contain the word follow the ones that start with it.
    expect(texts('msg == VQUEUE')).toEqual(['GET_VQUEUE', 'SET_VQUEUE', 'RESET_VQUEUE']);
    expect(texts('kind == ')).toEqual(['message', 'doorbell', 'queue-state', 'vq-index', 'marker', 'finding', 'buffer']);
    expect(texts('problem in {truncated, size')).toEqual(['size-mismatch', 'oversize']);
    expect(texts('finding == R4-token')).toEqual(['R4-token-echo']);
    expect(texts('time in 1s..')).toEqual(['10us', '10ms', '10s']);
    expect(texts('dir == to-d')).toEqual(['to-device', 'to-driver', 'driver-to-device', 'device-to-driver']);
  });

  it('says which part of the text a suggestion replaces, also in the middle of the text', () => {
    const text = 'msg == GET_VQ && dev == 1';
    expect(completeFilter(text, 13)).toMatchObject({ from: 7, to: 13 });
    expect(texts(text, 13)).toEqual(['GET_VQUEUE']);
    expect(texts('dev == 1 && la', 14)).toEqual(['latency']);
  });

  it("adds the caller's values first (the session's devices for dev)", () => {
    expect(texts('dev == ', 7, { dev: [{ text: '3', detail: 'virtio-rng' }] })).toEqual(['3']);
  });

  it('offers nothing inside a string or after text it cannot read', () => {
    expect(texts('msg ~ "EV')).toEqual([]);
    expect(texts('dev = ')).toEqual([]);
    // Reserved and implementation-defined ids filter when typed but are not offered.
    expect(texts('msg == IMPL')).toEqual([]);
  });
});

describe('did you mean', () => {
  it.each([
    ['lantency > 5us', 1, "unknown field 'lantency': did you mean latency? fields are"],
    ['msg == GET_VQEUE', 8, "unknown message name 'GET_VQEUE': did you mean GET_VQUEUE, SET_VQUEUE?"],
    ['dir == tu-device', 8, 'saw tu-device (did you mean to-device?)'],
    ['problem == truncatd', 12, "unknown problem 'truncatd': did you mean truncated? problems are"],
  ])('%s', (text, column, message) => {
    const r = compileFilter(text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.column).toBe(column);
    expect(r.error).toContain(message);
  });

  it('suggests nothing for a word far from every name', () => {
    const r = compileFilter('colour == 1');
    expect(!r.ok && r.error).toBe(`unknown field 'colour': fields are ${FILTER_FIELDS.join(', ')}`);
  });
});
