import { describe, expect, it } from 'vitest';

import type { Link } from '../../../../src/bus/link';
import { BytesWindow, SubWindow } from '../../../../src/bus/window';
import { attachSession, SessionError } from '../../../../main/host/session';
import { Bell } from '../../bus/helpers';
import { builtin } from './harness';

/** A link to a board whose device side never runs: only the memory is there. */
function silentLink(profileId: string, fill?: (bus: BytesWindow) => void): { link: Link; closed: () => boolean } {
  const p = builtin(profileId);
  const bus = new BytesWindow(new ArrayBuffer(0x8000));
  fill?.(bus);
  let closed = false;
  return {
    closed: () => closed,
    link: {
      description: 'silent test board',
      busWindow: new SubWindow(bus, 0, p.bus.size),
      dataWindow: new BytesWindow(new ArrayBuffer(p.dataMemory.size)),
      dataPeerBase: p.dataMemory.peerBase,
      doorbellOut: new Bell(),
      doorbellIn: new Bell(),
      close: () => {
        closed = true;
        return Promise.resolve();
      },
    },
  };
}

const quick = (id: string) => builtin(id, (p) => ({ ...p, bus: { ...p.bus, timeouts: { layoutMs: 50, peerMs: 50, responseMs: 50 } } }));

describe('session attach failures', () => {
  it('times out waiting for a layout that never appears, names the stage, and closes the link', async () => {
    const { link, closed } = silentLink('sim-qemu-amp-pci');
    const err = await attachSession(quick('sim-qemu-amp-pci'), link).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SessionError);
    expect((err as Error).message).toMatch(/bus set-up on silent test board failed \((timeout|layout-not-ready) at bus offset 0x0: .*expected 0x4c4f/);
    expect(closed()).toBe(true);
  });

  it('rejects a layout with a wrong version, pointing at the field', async () => {
    const { link } = silentLink('sim-qemu-amp-pci', (bus) => {
      // magic "LO", length 64, version 7: everything else is never reached.
      bus.writeSync(0, Uint8Array.of(0x4f, 0x4c, 64, 0, 7, 0));
    });
    const err = await attachSession(quick('sim-qemu-amp-pci'), link).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/\(layout at bus offset 0x4: layout version 7, expected 1\)/);
  });

  it('rejects a wrong OpenAMP queue-definition magic', async () => {
    const { link } = silentLink('sim-stm32mp157', (bus) => bus.writeSync(0, Uint8Array.of(0xef, 0xbe, 0xad, 0xde)));
    const err = await attachSession(quick('sim-stm32mp157'), link).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/bus set-up .* failed/);
    expect((err as Error).message).toMatch(/0x1a2b3c4d/);
  });
});
