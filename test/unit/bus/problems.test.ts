/**
 * The board's bus faults a session tells the user: each kind once with its count, named by
 * message (a torn slot's header still names it), and never what is said elsewhere (responses,
 * the peer stopping, our own handlers, timeouts).
 */
import { describe, expect, it } from 'vitest';

import type { EndpointProblem } from '../../../src/bus/endpoint';
import { BusProblemTally, endpointProblemText } from '../../../src/bus/problems';
import { encode } from '../../../src/protocol/index';

/** A 64-byte slot whose first 4 bytes are EVENT_USED's header and the rest what the slot held before (msg_size 0 here). */
function tornEventUsed(devNum: number, staleToken: number): Uint8Array {
  const slot = new Uint8Array(64);
  slot.set(encode('r3', { name: 'EVENT_USED', kind: 'event', devNum, fields: { vq_index: 0 } }).subarray(0, 4));
  slot[4] = staleToken & 0xff;
  slot[5] = staleToken >> 8;
  return slot;
}

const framing = (bytes: Uint8Array): Extract<EndpointProblem, { kind: 'message' }> => ({
  kind: 'message',
  direction: 'device-to-driver',
  bytes,
  monoNs: 0n,
  problem: { code: 'size-mismatch', offset: 6, reason: 'msg_size 0 is smaller than the 8-byte header (expected ≥ 8, saw 0); recorded the whole slot' },
});

describe('the board’s bus faults, as the session tells them', () => {
  it('a torn slot names its message, the byte, expected vs seen; repeats are counted, not repeated', () => {
    const tally = new BusProblemTally('r3');
    for (let token = 0; token < 40; token++) tally.add(framing(tornEventUsed(0, token)));
    tally.add(framing(tornEventUsed(1, 7)));
    expect(tally.lines()).toEqual([
      'device-to-driver EVENT_USED (dev_num 0) at byte 6: msg_size 0 is smaller than the 8-byte header (expected ≥ 8, saw 0); recorded the whole slot (seen 40 times, the first shown)',
      'device-to-driver EVENT_USED (dev_num 1) at byte 6: msg_size 0 is smaller than the 8-byte header (expected ≥ 8, saw 0); recorded the whole slot',
    ]);
    // The capture's ERROR marker says the same.
    expect(endpointProblemText(framing(tornEventUsed(1, 7)), 'r3')).toBe(tally.lines()[1]);
  });

  it('a queue index fault is told in the queue’s words; a peer that stopped, responses, timeouts and our handlers are not counted here', () => {
    const tally = new BusProblemTally('r3');
    const index: EndpointProblem = { kind: 'queue', monoNs: 0n, problem: { code: 'peer-index', offset: 0x44, reason: 'peer producer index 68 at 0x0044 is outside 0..62 (N = 63); not using it' } };
    tally.add(index);
    tally.add(index);
    tally.add({ kind: 'queue', monoNs: 0n, problem: { code: 'peer-state', offset: 0x40, reason: 'peer queue head status SHUTDOWN' } });
    const response = encode('r3', { name: 'GET_DEVICE_STATUS', kind: 'response', devNum: 0, token: 3, fields: { status: 0 } });
    tally.add({ ...framing(response), problem: { code: 'oversize', offset: 6, reason: 'msg_size 200 exceeds the 64-byte slot' } });
    tally.add({ kind: 'message', direction: 'driver-to-device', bytes: response, monoNs: 0n, problem: { code: 'no-response', offset: 0, reason: 'no response' } });
    tally.add({ kind: 'handler', monoNs: 0n, reason: 'event handler threw' });
    expect(tally.lines()).toEqual(['peer producer index 68 at 0x0044 is outside 0..62 (N = 63); not using it (seen 2 times, the first shown)']);
  });

  it('a slot too short for any header is a "message"', () => {
    expect(endpointProblemText({ ...framing(new Uint8Array(3)), problem: { code: 'truncated', offset: 3, reason: 'a 3-byte slot cannot hold the 8-byte r3 header' } }, 'r3')).toBe(
      'device-to-driver message at byte 3: a 3-byte slot cannot hold the 8-byte r3 header',
    );
  });
});
