/**
 * Bring-up against firmware that misbehaves in one way at a time: the driver must come up when
 * the fault is harmless and, when it is not, say what the board did.
 */
import { afterEach, describe, expect, it } from 'vitest';

import type { EndpointProblem } from '../../../../src/bus/endpoint';
import { createDialect } from '../../../../src/roles/driver/dialect';
import { decodeHeader, encode, STATUS } from '../../../../src/protocol/index';
import { builtin, inThreadBoard, type InThreadBoard } from './harness';

let open: InThreadBoard | null = null;
afterEach(async () => {
  await open?.close();
  open = null;
});

/**
 * The board's responses pass through `fault` before they are sent: a firmware that replays a
 * stale buffer, or sends everything twice.
 */
function faulty(board: InThreadBoard, fault: (response: Uint8Array, previous: Uint8Array | undefined) => Uint8Array[]): void {
  const ep = board.board.endpoint;
  const send = ep.send.bind(ep);
  const last = new Map<string, Uint8Array>();
  ep.send = async (bytes) => {
    const h = decodeHeader(bytes, ep.revision);
    if (h?.kind !== 'response') return send(bytes);
    const key = `${h.bus}:${h.devNum}:${h.msgId}`;
    const out = fault(bytes, last.get(key));
    last.set(key, bytes);
    for (const m of out) {
      const r = await send(m);
      if (!r.ok) return r;
    }
    return { ok: true, value: undefined };
  };
}

describe.each([
  ['sim-versal', 'r3'],
  ['sim-qemu-amp-pci', 'r4'],
])('bring-up on %s (%s) against a misbehaving firmware', (id) => {
  it('comes up although a stale copy of the previous response of each kind precedes the real one', async () => {
    const problems: EndpointProblem[] = [];
    open = await inThreadBoard(builtin(id), { observer: { onProblem: (p) => problems.push(p) } });
    // Before each answer, the answer it gave last time to the same message for the same device:
    // SET_DEVICE_STATUS(FEATURES_OK) is preceded by the SET_DEVICE_STATUS(DRIVER) answer, status 3.
    faulty(open, (response, previous) => (previous ? [previous, response] : [response]));
    const r = await open.session.probe();
    expect(r.ok && r.value.map((d) => [d.phase, d.error ?? ''])).toEqual(r.ok ? r.value.map(() => ['ready', '']) : false);
    if (r.ok) for (const d of r.value) expect(d.status).toBe(STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK | STATUS.DRIVER_OK);
    const codes = new Set(problems.map((p) => (p.kind === 'message' ? p.problem.code : p.kind)));
    expect([...codes]).toEqual(['duplicate']);
  });

  it('comes up although every response is sent twice', async () => {
    const problems: EndpointProblem[] = [];
    open = await inThreadBoard(builtin(id), { observer: { onProblem: (p) => problems.push(p) } });
    faulty(open, (response) => [response, response]);
    const r = await open.session.probe();
    expect(r.ok && r.value.every((d) => d.phase === 'ready')).toBe(true);
    const codes = new Set(problems.map((p) => (p.kind === 'message' ? p.problem.code : p.kind)));
    expect([...codes]).toEqual(['duplicate']);
  });
});

describe('a response shorter than its layout', () => {
  it('GET_DEVICE_FEATURES with msg_size 20 for its 24-byte layout is malformed, never read as zeros', async () => {
    const sent: Uint8Array[] = [];
    const port = {
      request: async (bytes: Uint8Array) => {
        sent.push(bytes);
        // Both feature blocks offered, but msg_size 20 covers only the first one.
        const full = encode('r4', { name: 'GET_DEVICE_FEATURES', kind: 'response', devNum: 1, token: 4, fields: { block_index: 0, num_blocks: 2, features: [0x3000_0000, 0x101] } });
        full[6] = 20;
        return { ok: true as const, value: full.subarray(0, 20), latencyNs: 1 };
      },
      post: async () => ({ ok: true as const, value: undefined }),
      onEvent: () => () => undefined,
      poll: async () => undefined,
    };
    const findings: string[] = [];
    const dialect = createDialect(port, 'r4', { timeoutMs: 100, maxMessageSize: 64, onFinding: (t) => findings.push(t) });
    const r = await dialect.getFeatures(1, 64);
    expect(r).toEqual({
      ok: false,
      error: 'malformed GET_DEVICE_FEATURES response (dev_num 1, token 0x0004): msg_size 20, its layout needs 24 bytes (byte 6: expected ≥ 24, saw 20)',
      unanswered: false,
    });
    expect(findings).toEqual([]);
  });

  it('a msg_size larger than the layout stays readable, with a finding', async () => {
    const port = {
      request: async () => {
        const r = encode('r4', { name: 'GET_DEVICE_STATUS', kind: 'response', devNum: 1, token: 1, fields: { status: 3 } });
        const padded = new Uint8Array(16);
        padded.set(r);
        padded[6] = 16;
        return { ok: true as const, value: padded, latencyNs: 1 };
      },
      post: async () => ({ ok: true as const, value: undefined }),
      onEvent: () => () => undefined,
      poll: async () => undefined,
    };
    const findings: string[] = [];
    const dialect = createDialect(port, 'r4', { timeoutMs: 100, maxMessageSize: 64, onFinding: (t) => findings.push(t) });
    expect(await dialect.getStatus(1)).toEqual({ ok: true, value: 3 });
    expect(findings).toEqual(['GET_DEVICE_STATUS response: GET_DEVICE_STATUS response is 12 bytes but msg_size is 16 (tolerated)']);
  });
});
