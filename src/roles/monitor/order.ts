/**
 * The order of messages copied from both rings in one look (docs/protocol.md §7, §14.2). Two
 * rings polled one after the other cannot say which of their new messages came first; the
 * protocol can, for the messages that cause each other:
 *
 * - a response follows its request: a device→driver response on a lane (dev_num, or the bus)
 *   with no request outstanding goes after the driver→device request on that lane;
 * - one request per lane at a time: a driver request on a lane that still has one outstanding
 *   goes after the device's response on that lane;
 * - EVENT_USED answers EVENT_AVAIL: a device's EVENT_USED for a device with no EVENT_AVAIL
 *   outstanding goes after the driver's EVENT_AVAIL for it.
 *
 * Otherwise the device's messages go first. The lanes' state carries over from one look to the
 * next.
 */
import { decodeHeader, lookupMessage } from '../../protocol/index';
import type { Direction, Revision } from '../../protocol/types';

export interface Copied {
  dir: Direction;
  bytes: Uint8Array;
}

type Role = { kind: 'request' | 'response' | 'avail' | 'used' | 'other'; lane: string; dev: number };

export class CausalOrder {
  /** Lanes with a request recorded and no response yet. */
  private readonly outstanding = new Set<string>();
  /** EVENT_AVAIL recorded minus EVENT_USED recorded, per device. */
  private readonly avails = new Map<number, number>();

  constructor(private readonly revision: Revision) {}

  /** Both rings' new messages of one look, each in its ring's order, merged. */
  merge(down: readonly Copied[], up: readonly Copied[]): Copied[] {
    const d = down.map((m) => this.role(m));
    const u = up.map((m) => this.role(m));
    const out: Copied[] = [];
    let i = 0;
    let j = 0;
    const pendingDown = (pred: (r: Role) => boolean): boolean => d.slice(i).some(pred);
    const pendingUp = (pred: (r: Role) => boolean): boolean => u.slice(j).some(pred);
    while (i < d.length || j < u.length) {
      const ru = u[j];
      const rd = d[i];
      let takeUp: boolean;
      if (ru === undefined) takeUp = false;
      else if (rd === undefined) takeUp = true;
      else {
        const upWaits =
          (ru.kind === 'response' && !this.outstanding.has(ru.lane) && pendingDown((r) => r.kind === 'request' && r.lane === ru.lane)) ||
          (ru.kind === 'used' && !(this.avails.get(ru.dev) ?? 0) && pendingDown((r) => r.kind === 'avail' && r.dev === ru.dev));
        const downWaits = rd.kind === 'request' && this.outstanding.has(rd.lane) && pendingUp((r) => r.kind === 'response' && r.lane === rd.lane);
        takeUp = !upWaits || downWaits;
      }
      const r = takeUp ? u[j++]! : d[i++]!;
      this.note(r);
      out.push(takeUp ? up[j - 1]! : down[i - 1]!);
    }
    return out;
  }

  private note(r: Role): void {
    if (r.kind === 'request') this.outstanding.add(r.lane);
    else if (r.kind === 'response') this.outstanding.delete(r.lane);
    else if (r.kind === 'avail') this.avails.set(r.dev, (this.avails.get(r.dev) ?? 0) + 1);
    else if (r.kind === 'used') this.avails.set(r.dev, Math.max(0, (this.avails.get(r.dev) ?? 0) - 1));
  }

  private role(m: Copied): Role {
    const h = decodeHeader(m.bytes, this.revision);
    if (!h) return { kind: 'other', lane: '', dev: -1 };
    const lane = `${h.bus ? 'bus' : 'dev'}:${h.devNum}`;
    if (h.kind === 'event') {
      const name = h.bus ? '' : lookupMessage(this.revision, false, h.msgId).name;
      return { kind: name === 'EVENT_AVAIL' ? 'avail' : name === 'EVENT_USED' ? 'used' : 'other', lane, dev: h.devNum };
    }
    // R0 devices answer with the request's id and no response bit (docs/amp-bus.md §3.2).
    const response = h.kind === 'response' || (this.revision === 'r0' && m.dir === 'device-to-driver');
    return { kind: response ? 'response' : 'request', lane, dev: h.devNum };
  }
}
