/** What benchmarks record: a device at work on an R4 bus, and the journal it is recorded into. */
import { nodeRuntime } from '../../main/host/runtime';
import { JournalWriter } from '../../main/host/trace/journal';
import { encode, type Direction } from '../../src/protocol/index';
import { CAPTURE_FORMAT } from '../../src/trace/meta';
import { Recorder } from '../../src/trace/recorder';

/**
 * EVENT_AVAIL → EVENT_USED, then a config read with the next of `tokens` tokens: half the
 * messages are new bytes the recorder must decode, as on a real bus.
 */
export function workingDevice(tokens: number): (readonly [Direction, Uint8Array])[] {
  const msgs: (readonly [Direction, Uint8Array])[] = [];
  for (let token = 1; token <= tokens; token++) {
    msgs.push(
      ['driver-to-device', encode('r4', { name: 'EVENT_AVAIL', kind: 'event', devNum: 1, fields: { vq_index: 0, next_offset: 0 } })],
      ['device-to-driver', encode('r4', { name: 'EVENT_USED', kind: 'event', devNum: 1, fields: { vq_index: 0 } })],
      ['driver-to-device', encode('r4', { name: 'GET_CONFIG', kind: 'request', devNum: 1, token, fields: { offset: 0, length: 8 } })],
      ['device-to-driver', encode('r4', { name: 'GET_CONFIG', kind: 'response', devNum: 1, token, fields: { generation: 3, offset: 0, length: 8, data: new Uint8Array(8) } })],
    );
  }
  return msgs;
}

/** A journal in `dir` with a recorder writing into it (R4, 64-byte messages), the conformance rules live when `rules`. */
export function benchRecorder(dir: string, rules = false): { journal: JournalWriter; rec: Recorder } {
  const journal = new JournalWriter({
    dir,
    meta: { format: CAPTURE_FORMAT, app: 'bench', board: 'bench', boardDescription: '', revision: 'r4', queueFormat: null, link: 'none', startWallNs: 0n, startMonoNs: 0n, notes: [] },
  });
  return { journal, rec: new Recorder({ runtime: nodeRuntime, sink: journal, revision: 'r4', maxMessageSize: 64, ...(rules ? { conformance: { peer: null } } : {}) }) };
}
