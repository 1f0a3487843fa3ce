import { describe, expect, it } from 'vitest';
import { ConsoleDeviceModel, ConsoleReceiver, consoleEcho, consoleWrite, CONSOLE_RECEIVEQ, CONSOLE_TRANSMITQ, receiverFor, releaseReceiver } from '../../../src/devices/console';
import { DEVICE_ID, FEATURE } from '../../../src/protocol/names';
import { toHex } from '../../../src/util/hex';
import { ascii, fakeContextFor } from './fakeContext';

describe('virtio-console model', () => {
  it('offers VIRTIO_CONSOLE_F_SIZE with 80x25 in its config space', () => {
    const m = new ConsoleDeviceModel();
    expect(m.deviceId).toBe(DEVICE_ID.CONSOLE);
    expect(m.offeredFeatures).toBe((1n << BigInt(FEATURE.VERSION_1)) | 1n);
    expect(m.numQueues).toBe(2);
    expect(m.configSize).toBe(12);
    expect(toHex(m.readConfig(0, 12))).toBe('50 00 19 00 01 00 00 00 00 00 00 00');
    expect(toHex(m.readConfig(2, 2))).toBe('19 00');
    expect(m.writeConfig(0, Uint8Array.of(1, 0))).toBe(false);
    expect(m.acceptFeatures(1n << 32n)).toBe(true);
    expect(m.acceptFeatures((1n << 32n) | 2n)).toBe(false); // MULTIPORT not offered
  });
});

describe('virtio-console echo, driver against model', () => {
  it('echoes what the driver writes on transmitq into its receiveq buffers', async () => {
    const bench = await fakeContextFor(new ConsoleDeviceModel());
    const [rx, tx] = [bench.contexts[CONSOLE_RECEIVEQ]!, bench.contexts[CONSOLE_TRANSMITQ]!];
    expect(await consoleEcho(tx, rx, ascii('hello\n'))).toEqual({ ok: true, value: ascii('hello\n') });
    expect(await consoleEcho(tx, rx, ascii('again'))).toEqual({ ok: true, value: ascii('again') });
    // The receiver keeps its buffers posted across workloads; only those stay allocated.
    expect(bench.alloc.allocatedBlocks).toBe(bench.ringBlocks + receiverFor(rx).bufferCount);
    expect(rx.queue.inFlight).toBe(4);
    // After a reset the driver gives the posted buffers back.
    releaseReceiver(rx.queue);
    expect(bench.alloc.allocatedBlocks).toBe(bench.ringBlocks);
  });

  it('spreads a long echo over several receive buffers', async () => {
    const bench = await fakeContextFor(new ConsoleDeviceModel());
    const [rx, tx] = [bench.contexts[0]!, bench.contexts[1]!];
    const receiver = new ConsoleReceiver(rx, { buffers: 2, bufferSize: 16 });
    const text = ascii('The quick brown fox jumps over the lazy dog, twice over.');
    expect(await consoleEcho(tx, receiver, text)).toEqual({ ok: true, value: text });
  });

  it('keeps echo bytes pending until a receive buffer is posted', async () => {
    const model = new ConsoleDeviceModel();
    const bench = await fakeContextFor(model);
    const [rx, tx] = [bench.contexts[0]!, bench.contexts[1]!];
    expect(await consoleWrite(tx, ascii('early'))).toEqual({ ok: true });
    expect(model.pendingBytes).toBe(5);
    const receiver = new ConsoleReceiver(rx, { buffers: 1, bufferSize: 8 });
    expect(await receiver.post()).toEqual({ ok: true });
    expect(model.pendingBytes).toBe(0);
    expect(await receiver.receive(5)).toEqual({ ok: true, value: ascii('early') });
    // transmitq (nothing to echo into yet), receiveq post (delivers), receiveq repost (nothing pending).
    expect(bench.results.map((r) => [r.used, r.alsoUsed.length])).toEqual([[1, 0], [1, 0], [0, 0]]);
  });

  it('reports the receive queue staying silent as a timeout with what arrived', async () => {
    const model = new ConsoleDeviceModel();
    const bench = await fakeContextFor(model);
    const receiver = new ConsoleReceiver(bench.contexts[0]!, { buffers: 1, bufferSize: 4 });
    await receiver.post();
    const r = await receiver.receive(3, 20);
    expect(r).toEqual({ ok: false, error: 'no used entry for 1 request(s) within 20 ms (avail.idx 1, last used.idx 0); their buffers stay with the device until reset; received 0 of 3 bytes' });
  });

  it('reports an echo that differs from what was sent', async () => {
    const bench = await fakeContextFor(new ConsoleDeviceModel());
    const [rx, tx] = [bench.contexts[0]!, bench.contexts[1]!];
    bench.beforeProcess = async (q) => {
      // Corrupt the transmit buffer between publish and the device reading it.
      if (q !== CONSOLE_TRANSMITQ) return;
      const head = bench.window.loadSync(tx.queue.offsets.avail + 4, 16);
      const addr = bench.window.readSync(tx.queue.offsets.desc + 16 * head, 8);
      const offset = Number(new DataView(addr.buffer).getBigUint64(0, true) - 0x8000_0000n);
      bench.window.writeSync(offset + 1, ascii('X'));
    };
    expect(await consoleEcho(tx, rx, ascii('abc'))).toEqual({ ok: false, error: 'echo differs at byte 1: sent 0x62, received 0x58' });
  });

  it('forgets pending echo bytes on reset', async () => {
    const model = new ConsoleDeviceModel();
    const bench = await fakeContextFor(model);
    await consoleWrite(bench.contexts[1]!, ascii('zz'));
    expect(model.pendingBytes).toBe(2);
    model.reset();
    expect(model.pendingBytes).toBe(0);
  });

  it('releases receive buffers after a reset', async () => {
    const bench = await fakeContextFor(new ConsoleDeviceModel());
    const receiver = new ConsoleReceiver(bench.contexts[0]!, { buffers: 3 });
    await receiver.post();
    expect(bench.alloc.allocatedBlocks).toBe(bench.ringBlocks + 3);
    receiver.release();
    expect(bench.alloc.allocatedBlocks).toBe(bench.ringBlocks);
  });
});
