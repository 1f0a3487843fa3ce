/** The matching rule itself (docs/protocol.md §7), revision by revision. */
import { describe, expect, it } from 'vitest';

import { checkFraming, framingText, Matcher, type MatchEntry, type MatchHeader } from '../../../src/bus/matcher';
import type { Revision } from '../../../src/protocol/types';

const GET_DEVICE_STATUS = 0x07;
const SET_DEVICE_STATUS = 0x08;

const req = (devNum: number, token: number, msgId = GET_DEVICE_STATUS, bus = false): MatchEntry => ({ type: bus ? 2 : 0, bus, msgId, devNum, token, id: 0 });
const resp = (devNum: number, token: number, msgId = GET_DEVICE_STATUS, bus = false): MatchHeader => ({ type: bus ? 3 : 1, bus, msgId, devNum, token });

function verdict(m: Matcher<MatchEntry>, h: MatchHeader): string {
  const v = m.response(h);
  return `${v.kind}${v.request ? ` #${v.request.id}` : ''}${v.fallback ? ' fallback' : ''}`;
}

describe('Matcher, R3/R4 (tokens)', () => {
  for (const rev of ['r3', 'r4'] as Revision[]) {
    it(`${rev}: pairs by token, never by (dev_num, msg_id) for a non-zero token that is not the pending one`, () => {
      const m = new Matcher<MatchEntry>(rev);
      m.request(req(1, 1)); // #1
      expect(verdict(m, resp(1, 1))).toBe('answer #1');
      m.request(req(1, 2)); // #2
      expect(verdict(m, resp(1, 1))).toBe('duplicate #1'); // a stale copy of #1's answer
      expect(verdict(m, resp(1, 2))).toBe('answer #2');
      expect(verdict(m, resp(1, 2))).toBe('duplicate #2'); // sent twice
    });

    it(`${rev}: a token nobody used, by (dev_num, msg_id) of a pending request, is that request's wrong-token answer`, () => {
      const m = new Matcher<MatchEntry>(rev);
      expect(verdict(m, resp(1, 9))).toBe('unmatched'); // nothing pending on the lane
      m.request(req(1, 2)); // #1
      expect(verdict(m, resp(1, 9, SET_DEVICE_STATUS))).toBe('unmatched'); // nor of that msg_id
      expect(verdict(m, resp(2, 9))).toBe('unmatched'); // nor on that dev_num
      expect(verdict(m, resp(1, 0x8002))).toBe('wrong-token #1');
      expect(verdict(m, resp(1, 2))).toBe('duplicate #1'); // the echoing answer after it: never paired with a later request
      m.request(req(1, 3)); // #2
      expect(verdict(m, resp(1, 2))).toBe('duplicate #1');
      const late = m.request(req(2, 4)); // #3
      m.expire(late);
      m.request(req(2, 5)); // #4
      expect(verdict(m, resp(2, 4))).toBe('late #3'); // a timed-out token is late, not wrong
      expect(verdict(m, resp(2, 3))).toBe('wrong-dev-num #2'); // another lane's token names that request
      m.request(req(3, 6)); // #5
      m.request(req(3, 7)); // #6: several outstanding on a lane (R4 allows it): the oldest
      expect(verdict(m, resp(3, 9))).toBe('wrong-token #5');
      expect(verdict(m, resp(3, 7))).toBe('answer #6');
      expect(verdict(m, resp(2, 5))).toBe('answer #4');
    });

    it(`${rev}: token 0 is a peer that does not echo tokens: (dev_num, msg_id), flagged`, () => {
      const m = new Matcher<MatchEntry>(rev);
      m.request(req(0, 5, 0x02, true)); // GET_DEVICES #1
      expect(verdict(m, resp(0, 0, 0x02, true))).toBe('answer #1 fallback');
      expect(verdict(m, resp(0, 0, 0x02, true))).toBe('duplicate #1');
      m.request(req(1, 6, GET_DEVICE_STATUS)); // #2
      expect(verdict(m, resp(1, 0, SET_DEVICE_STATUS))).toBe('unmatched'); // another msg_id
    });

    it(`${rev}: an answer after the timeout is late, once; a further copy is a duplicate`, () => {
      const m = new Matcher<MatchEntry>(rev);
      const first = m.request(req(1, 1));
      expect(m.expire(first)).toBe(true);
      expect(m.expire(first)).toBe(false);
      m.request(req(1, 2)); // #2 pending on the same lane
      expect(verdict(m, resp(1, 1))).toBe('late #1');
      expect(verdict(m, resp(1, 1))).toBe('duplicate #1');
      expect(verdict(m, resp(1, 2))).toBe('answer #2');
    });

    it(`${rev}: the right token with another dev_num answers that request as wrong-dev-num`, () => {
      const m = new Matcher<MatchEntry>(rev);
      m.request(req(1, 3)); // #1
      m.request(req(0, 4, 0x03, true)); // bus PING #2
      m.request(req(7, 5)); // #3, another token on dev 7
      expect(verdict(m, resp(7, 3))).toBe('wrong-dev-num #1');
      expect(verdict(m, { ...resp(0, 4, 0x03, true), devNum: 2 })).toBe('wrong-dev-num #2');
      expect(verdict(m, resp(7, 5))).toBe('answer #3');
    });

    it(`${rev}: the right token and dev_num with another msg_id answers that request as wrong-msg-id`, () => {
      const m = new Matcher<MatchEntry>(rev);
      m.request(req(1, 3)); // GET_DEVICE_STATUS #1
      expect(verdict(m, resp(1, 3, SET_DEVICE_STATUS))).toBe('wrong-msg-id #1');
      m.request(req(1, 4)); // #2
      expect(verdict(m, resp(2, 4, SET_DEVICE_STATUS))).toBe('unmatched'); // two fields wrong: not that request's
    });

    it(`${rev}: a cancelled request takes no answer; sweep expires oldest first per lane`, () => {
      const m = new Matcher<MatchEntry>(rev);
      const a = m.request(req(1, 1));
      m.cancel(a);
      expect(verdict(m, resp(1, 1))).toBe('unmatched');
      const b = m.request(req(1, 2));
      const c = m.request(req(2, 3));
      m.request(req(2, 4));
      expect(m.sweep((e) => e.token !== 4).map((e) => e.id)).toEqual([b.id, c.id]);
      expect(verdict(m, resp(2, 3))).toBe('late #3');
      expect(verdict(m, resp(2, 4))).toBe('answer #4');
    });
  }
});

describe('Matcher, R0/R2 (no token)', () => {
  it('r2: by (dev_num, msg_id), oldest first, without a fallback flag; then late or duplicate', () => {
    const m = new Matcher<MatchEntry>('r2');
    const a = m.request(req(1, 0));
    expect(verdict(m, resp(1, 0))).toBe(`answer #${a.id}`);
    expect(verdict(m, resp(1, 0))).toBe('duplicate #1');
    m.expire(m.request(req(1, 0, SET_DEVICE_STATUS)));
    expect(verdict(m, resp(1, 0, SET_DEVICE_STATUS))).toBe('late #2');
    expect(verdict(m, resp(2, 0))).toBe('unmatched');
  });

  it('r0: the OpenAMP echo (no response bit) answers the request', () => {
    const m = new Matcher<MatchEntry>('r0');
    m.request(req(0, 0, 0x03));
    expect(verdict(m, { ...resp(0, 0, 0x03), type: 0 })).toBe('answer #1');
  });
});

describe('checkFraming', () => {
  it('says where msg_size is, what it should be and what it is', () => {
    expect(framingText(checkFraming('r3', 300, 64)!)).toBe('msg_size 300 at byte 6 exceeds the 64-byte slot (expected ≤ 64, saw 300)');
    expect(framingText(checkFraming('r2', 3, 64)!)).toBe('msg_size 3 at byte 4 is smaller than the 6-byte header (expected ≥ 6, saw 3)');
    expect(checkFraming('r4', 64, 64)).toBeNull();
    expect(checkFraming('r0', 0, 40)).toBeNull();
  });
});
