/**
 * Which tap a monitor follows the rings with (main/host/monitorSession.ts monitorTap, the one
 * place the CLI and the service both use): the native watcher thread wherever the addon maps
 * the memory, the bridge agent's ring taps over a serial link, the JavaScript polling tap only
 * without a mapping or when --poll-ms asks for it; the words name the tap in use.
 */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import type { BoardProfile } from '../../src/api/boardProfile';
import { findBuiltinProfile } from '../../src/boards/builtin';
import { BytesWindow } from '../../src/bus/window';
import type { BridgeClient } from '../../src/serialBridge/client';
import { BridgeRingTap } from '../../src/serialBridge/tap';
import { PollingTap } from '../../src/roles/monitor/pollTap';
import type { PassiveLink, TapSource } from '../../main/host/links/passive';
import { createShmFile } from '../../main/host/links/shmFile';
import { monitorTap, openMonitorSession } from '../../main/host/monitorSession';
import { nodeRuntime } from '../../main/host/runtime';
import { loadNative, NativeRingTap } from '../../main/native/index';

function link(tapSource: TapSource): PassiveLink {
  const w = new BytesWindow(new ArrayBuffer(4096));
  return { description: 'test', busWindow: w, dataWindow: w, dataPeerBase: 0n, notices: [], lost: new Promise(() => undefined), tapSource, close: () => Promise.resolve() };
}
const opts = { runtime: nodeRuntime, onGone: () => undefined };
const native = loadNative();

describe('monitorTap', () => {
  it.skipIf(!native.ok)('follows mapped memory with the native watcher thread, and with the JS polling tap when --poll-ms asks', () => {
    const file = `/tmp/monitorTap-${process.pid}`;
    writeFileSync(file, new Uint8Array(4096));
    const mapping = native.ok ? native.value.map(file, 0, 4096, { readOnly: true }) : null!;
    try {
      const chosen = monitorTap(link({ kind: 'mapped', mapping, base: 0 }), opts);
      expect(chosen.tap).toBeInstanceOf(NativeRingTap);
      expect(chosen.describe()).toMatch(/^rings followed by the native watcher thread at (real-time|ordinary) priority/);
      const polled = monitorTap(link({ kind: 'mapped', mapping, base: 0 }), { ...opts, pollMs: 2 });
      expect(polled.tap).toBeInstanceOf(PollingTap);
      expect(polled.describe()).toBe('rings followed by the JavaScript polling tap every 2 ms (asked for with --poll-ms)');
    } finally {
      mapping.unmap();
      rmSync(file);
    }
  });

  it('follows a serial link with the bridge agent\'s ring taps', () => {
    const chosen = monitorTap(link({ kind: 'bridge', client: {} as BridgeClient, base: 0x10040000n }), opts);
    expect(chosen.tap).toBeInstanceOf(BridgeRingTap);
    expect(chosen.describe()).toMatch(/^rings followed by the bridge agent on the board/);
  });

  it('polls from JavaScript only where no mapping exists', () => {
    const chosen = monitorTap(link({ kind: 'window' }), opts);
    expect(chosen.tap).toBeInstanceOf(PollingTap);
    expect(chosen.describe()).toBe('rings followed by the JavaScript polling tap every 1 ms (the link maps no memory the native watcher could follow)');
  });
});

describe.skipIf(!native.ok)('a monitor session on the native tap', () => {
  it('ends, saying why, when the shm file shrinks under it (spsc: only the native thread reads the memory)', { timeout: 30_000 }, async () => {
    const base = findBuiltinProfile('sim-qemu-amp-pci')!;
    const profile = { ...base, id: 'spsc-truncated', bus: { ...base.bus, format: 'spsc-v1', handshake: 'none' } } as BoardProfile;
    const dir = mkdtempSync(join(tmpdir(), 'monitor-gone-'));
    const file = join(dir, 'amp');
    try {
      createShmFile(profile, file);
      const session = await openMonitorSession(profile, { link: { kind: 'shm-file', file }, capture: { dir: join(dir, 'mon') } });
      try {
        expect(session.notices.at(-1)).toMatch(/^rings followed by the native watcher thread/);
        truncateSync(file, 0);
        const why = await Promise.race([session.lost, new Promise((r) => setTimeout(() => r('not lost within 5 s'), 5000))]);
        expect(why).toMatch(/shrank/);
        await new Promise((r) => setTimeout(r, 50));
        expect(session.endedBecause).toBe(why);
      } finally {
        await session.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
