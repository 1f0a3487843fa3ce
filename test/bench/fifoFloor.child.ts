/**
 * The floor under the loopback benchmark on this machine: two bare Node processes ping-pong
 * 44-byte messages over a FIFO pair, read the way each side of that benchmark reads (the echo
 * through Node's thread pool, as serve-device reads a message device that has no poll; the timer
 * on its event loop, as the kernel stand-in does), with no workbench code in between.
 * Args: echo|time DIR COUNT. `time` prints { p50Us, p99Us }.
 */
import { open, openSync, read, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';

const args = process.argv.slice(process.argv.findIndex((a) => a === 'echo' || a === 'time'));
const [role, dir, count] = [args[0]!, args[1]!, Number(args[2] ?? 20_000)];
const SIZE = 44;
const msg = Buffer.alloc(SIZE, 1);

if (role === 'echo') {
  const out = openSync(join(dir, 'to-time'), 'w');
  open(join(dir, 'to-echo'), 'r', (e, fd) => {
    if (e) throw e;
    const buf = Buffer.alloc(SIZE * 16);
    const next = (): void =>
      read(fd, buf, 0, buf.length, null, (err, n) => {
        if (err || n === 0) process.exit(0);
        for (let i = 0; i + SIZE <= n; i += SIZE) writeSync(out, msg);
        next();
      });
    next();
  });
} else {
  open(join(dir, 'to-time'), 'r', (e, fd) => {
    if (e) throw e;
    const out = openSync(join(dir, 'to-echo'), 'w');
    const ns: number[] = [];
    let sent = 0n;
    const send = (): void => {
      sent = process.hrtime.bigint();
      writeSync(out, msg);
    };
    let pending = 0;
    new Socket({ fd, readable: true, writable: false }).on('data', (d: Buffer) => {
      pending += d.length;
      for (; pending >= SIZE; pending -= SIZE) {
        ns.push(Number(process.hrtime.bigint() - sent));
        if (ns.length === count) {
          ns.sort((a, b) => a - b);
          process.stdout.write(JSON.stringify({ p50Us: ns[ns.length >> 1]! / 1000, p99Us: ns[Math.floor(ns.length * 0.99)]! / 1000 }) + '\n');
          process.exit(0);
        }
        send();
      }
    });
    send();
  });
}
