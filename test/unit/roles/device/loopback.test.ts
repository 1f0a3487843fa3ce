/**
 * The loopback bus's rules around the device server (src/roles/device/loopback.ts), byte-exact:
 * 44-byte writes, EVENT_AVAIL completed with a response-typed header, only EVENT_USED from the
 * device side, a late answer withheld, a wrong-sized message refused.
 */
import { describe, expect, it } from 'vitest';

import { BytesWindow } from '../../../../src/bus/window';
import { simulatedDevice } from '../../../../src/devices/registry';
import { encode } from '../../../../src/protocol/index';
import { availCompletion, LoopbackDeviceSide, VIRTIO_MSG_MIN_SIZE } from '../../../../src/roles/device/loopback';
import { DeviceServer } from '../../../../src/roles/device/server';
import { parseLinkSpec } from '../../../../main/host/links/spec';

function rig(clock = { ns: 0n }) {
  const written: Uint8Array[] = [];
  const problems: string[] = [];
  const recorded: [string, string][] = [];
  const notes: string[] = [];
  const side = new LoopbackDeviceSide({
    write: (b) => void written.push(b),
    monoNs: () => clock.ns,
    onMessage: (dir, b) => void recorded.push([dir, Buffer.from(b).toString('hex')]),
    onProblem: (t) => void problems.push(t),
    onCompleted: (t) => void notes.push(t),
  });
  const server = new DeviceServer({ revision: 'r2', memory: { window: new BytesWindow(new ArrayBuffer(0x10000)), peerBase: 0x1_0000_0000n }, maxMessageSize: 44, send: side.send });
  side.attach(server);
  return { side, server, written, problems, recorded, notes, clock };
}

const pad = (b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(VIRTIO_MSG_MIN_SIZE);
  out.set(b);
  return out;
};
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('the loopback device side', () => {
  it('answers a request with exactly 44 bytes: the response, zero-padded', async () => {
    const r = rig();
    await r.server.addDevice(1, simulatedDevice('rng', { seed: 1 }));
    expect(await r.side.transact(pad(encode('r2', { name: 'GET_DEVICE_STATUS', kind: 'request', devNum: 1 })), 0n)).toBe('answered');
    // type 1 (response), msg_id 0x07, dev_id 1, msg_size 10, status 0.
    expect(r.written.map(hex)).toEqual(['01070100' + '0a00' + '00000000' + '00'.repeat(34)]);
    // Recorded trimmed to msg_size, both ways.
    expect(r.recorded).toEqual([
      ['driver-to-device', '000701000600'],
      ['device-to-driver', '010701000a0000000000'],
    ]);
  });

  it('completes EVENT_AVAIL with a response-typed header once the queue is served, and refuses EVENT_CONFIG', async () => {
    const r = rig();
    await r.server.addDevice(2, simulatedDevice('rng', { seed: 1 }));
    // Before DRIVER_OK the server answers a kick with EVENT_CONFIG (§10.1): not for this bus.
    expect(await r.side.transact(pad(encode('r2', { name: 'EVENT_AVAIL', kind: 'event', devNum: 2, fields: { vq_index: 0, next_offset: 0 } })), 0n)).toBe('completed');
    expect(r.written.map(hex)).toEqual([hex(pad(availCompletion(2)))]);
    expect(hex(availCompletion(2))).toBe('014102000600');
    // Not a virtio-msg message: a note, not a recorded message (only the request is).
    expect(r.notes).toEqual(['EVENT_AVAIL transfer completed: wrote 01 41 02 00 06 00 (response bit, msg_id EVENT_AVAIL) as the loopback bus needs']);
    expect(r.recorded.map(([dir]) => dir)).toEqual(['driver-to-device']);
    expect(r.problems).toEqual(['message 0x40 not sent: the loopback bus takes only EVENT_USED from the device side (virtio_msg_lb_user_handle)']);
  });

  it('withholds an answer ready after the kernel gave up (1 s), which would complete its next transfer', async () => {
    const clock = { ns: 0n };
    const r = rig(clock);
    await r.server.addDevice(1, simulatedDevice('rng', { seed: 1 }));
    clock.ns = 1_000_000_001n;
    expect(await r.side.transact(pad(encode('r2', { name: 'GET_DEVICE_STATUS', kind: 'request', devNum: 1 })), 0n)).toBe('late');
    expect(r.written).toEqual([]);
    expect(r.problems[0]).toMatch(/^answer withheld: ready after 1000 ms, the kernel gave up after 1 s/);
  });

  it('refuses a message that is not 44 bytes, and leaves a dropped request unanswered', async () => {
    const r = rig();
    await r.server.addDevice(1, simulatedDevice('rng', { seed: 1 }));
    expect(await r.side.transact(encode('r2', { name: 'GET_DEVICE_STATUS', kind: 'request', devNum: 1 }), 0n)).toBe('refused');
    expect(await r.side.transact(pad(encode('r2', { name: 'GET_DEVICE_STATUS', kind: 'request', devNum: 9 })), 0n)).toBe('unanswered');
    expect(r.written).toEqual([]);
    expect(r.problems).toEqual([
      'refused a 6-byte message: the loopback bus carries 44-byte messages (VIRTIO_MSG_MIN_SIZE); the kernel times out in 1 s',
      'no answer: the kernel gives up on this transfer after 1 s (-ETIMEDOUT)',
    ]);
  });
});

describe('--link linux-loopback', () => {
  it('parses the control device and the injectable paths', () => {
    expect(parseLinkSpec('linux-loopback')).toEqual({ ok: true, value: { kind: 'linux-loopback' } });
    expect(parseLinkSpec('linux-loopback:/dev/virtio-msg-lb,msg=/dev/virtio-msg-1')).toEqual({ ok: true, value: { kind: 'linux-loopback', control: '/dev/virtio-msg-lb', messages: '/dev/virtio-msg-1' } });
    expect(parseLinkSpec('linux-loopback:/s,msg-in=/a,msg-out=/b,pool=/p,dt=/d')).toEqual({
      ok: true,
      value: { kind: 'linux-loopback', control: '/s', messagesIn: '/a', messagesOut: '/b', pool: '/p', deviceTree: '/d' },
    });
    const bad = parseLinkSpec('linux-loopback:/s,msg-in=/a');
    expect(bad.ok ? '' : bad.error).toMatch(/^--link "linux-loopback:\/s,msg-in=\/a": msg-in and msg-out name the two ends of a pair: give both; expected /);
    const unknown = parseLinkSpec('linux-loopback:/s,size=4');
    expect(unknown.ok ? '' : unknown.error).toContain('unknown linux-loopback option "size=4"');
  });
});
