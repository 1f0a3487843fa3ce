/**
 * How `--link` names the way to a board, apart from the links themselves: the CLI's help, the
 * Wireshark extcap's install step and the service parse it without loading any link (or the
 * native addon behind them).
 */
import type { Result } from '../../../src/util/result';

export type LinkSpec =
  | { kind: 'sim' }
  | { kind: 'shm-file'; file: string; doorbells?: 'socket' | 'poll' }
  | { kind: 'serial'; path: string; baudRate?: number }
  | { kind: 'pci'; bdf?: string }
  | { kind: 'ivshmem'; socket?: string }
  | { kind: 'qtest'; socket?: string; listen?: boolean; memFile?: string }
  /** The device side of Linux's loopback bus (serve-device only); paths default to the kernel's. */
  | { kind: 'linux-loopback'; control?: string; messages?: string; messagesIn?: string; messagesOut?: string; pool?: string; deviceTree?: string };

export const LINK_SPEC_HELP = `sim | shm-file:FILE[,poll] | serial:PORT[@BAUD] | pci[:BDF] | ivshmem[:SOCKET] | qtest[:SOCKET][,listen][,mem=FILE] | linux-loopback[:CONTROL][,msg=DEV | ,msg-in=PATH,msg-out=PATH][,pool=PATH][,dt=DIR]`;

export type LinkSpecParse = Result<LinkSpec>;

export function parseLinkSpec(text: string): LinkSpecParse {
  const colon = text.indexOf(':');
  const kind = colon < 0 ? text : text.slice(0, colon);
  const arg = colon < 0 ? '' : text.slice(colon + 1);
  const bad = (why: string): LinkSpecParse => ({ ok: false, error: `--link "${text}": ${why}; expected ${LINK_SPEC_HELP}` });
  switch (kind) {
    case 'sim':
      return arg ? bad('sim takes no argument') : { ok: true, value: { kind: 'sim' } };
    case 'shm-file': {
      if (!arg) return bad('shm-file needs the file, e.g. shm-file:/dev/shm/amp0');
      const poll = arg.endsWith(',poll');
      return { ok: true, value: { kind: 'shm-file', file: poll ? arg.slice(0, -5) : arg, ...(poll ? { doorbells: 'poll' as const } : {}) } };
    }
    case 'serial': {
      const m = /^(.+?)(?:@(\d+))?$/.exec(arg);
      if (!m) return bad('serial needs the port, e.g. serial:/dev/ttyUSB0@2000000');
      return { ok: true, value: { kind: 'serial', path: m[1]!, ...(m[2] ? { baudRate: Number(m[2]) } : {}) } };
    }
    case 'pci':
      return { ok: true, value: arg ? { kind: 'pci', bdf: arg } : { kind: 'pci' } };
    case 'ivshmem':
      return { ok: true, value: arg ? { kind: 'ivshmem', socket: arg } : { kind: 'ivshmem' } };
    case 'qtest': {
      const [socket = '', ...flags] = arg.split(',');
      const spec: Extract<LinkSpec, { kind: 'qtest' }> = { kind: 'qtest' };
      if (socket) spec.socket = socket;
      for (const f of flags) {
        if (f === 'listen') spec.listen = true;
        else if (f.startsWith('mem=') && f.length > 4) spec.memFile = f.slice(4);
        else return bad(`unknown qtest option "${f}" (listen, mem=FILE)`);
      }
      if (spec.listen && !spec.socket) return bad('qtest listen needs the socket path, e.g. qtest:/tmp/amp-qtest.sock,listen');
      return { ok: true, value: spec };
    }
    case 'linux-loopback': {
      const [control = '', ...opts] = arg.split(',');
      const spec: Extract<LinkSpec, { kind: 'linux-loopback' }> = { kind: 'linux-loopback' };
      if (control) spec.control = control;
      const keys = { msg: 'messages', 'msg-in': 'messagesIn', 'msg-out': 'messagesOut', pool: 'pool', dt: 'deviceTree' } as const;
      for (const o of opts) {
        const eq = o.indexOf('=');
        const key = keys[o.slice(0, eq) as keyof typeof keys];
        if (eq < 1 || !key || eq === o.length - 1) return bad(`unknown linux-loopback option "${o}" (msg=DEV, msg-in=PATH, msg-out=PATH, pool=PATH, dt=DIR)`);
        spec[key] = o.slice(eq + 1);
      }
      if ((spec.messagesIn === undefined) !== (spec.messagesOut === undefined)) return bad('msg-in and msg-out name the two ends of a pair: give both');
      if (spec.messages !== undefined && spec.messagesIn !== undefined) return bad('give msg=DEV or the pair msg-in/msg-out, not both');
      return { ok: true, value: spec };
    }
    default:
      return bad(`unknown link kind "${kind}"`);
  }
}
