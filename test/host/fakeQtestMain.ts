/**
 * The fake QEMU (test/host/fakeQtest.ts) as its own process, started like QEMU:
 * `[JSON] … -qtest unix:PATH[,server=on,wait=off] -accel qtest`. With `server=on` it listens on
 * PATH (the machine outlives each connection, as QEMU does); without, it connects to PATH as QEMU
 * does for libqtest. The optional first argument is JSON: { devices?: bus numbers with
 * virtio-rng }.
 *
 * Everything the model does that a real QEMU would not survive is said on stderr, one line each:
 * "fake QEMU: abort: …" then exit code 134 (QEMU's assert calls abort()), "fake QEMU: segv: …" then
 * 139 (a NULL dereference), "fake QEMU: spin: …"
 * (the process stays, answering nothing). Requests QEMU drops leave no line, as in QEMU. The
 * command "fake_exit" ends the process with code 3, as a QEMU that dies mid-session.
 */
import { parseBoardProfile } from '../../src/api/boardProfile';
import raw from '../../src/boards/profiles/qemu-qtest-amp-pci.json';
import { connectFakeQtest, listenFakeQtest, type FakeQtestOptions } from './fakeQtest';
import { errorText } from '../../src/util/errorText';

const args = process.argv.slice(2);
const opts = (args[0]?.startsWith('{') ? JSON.parse(args[0]) : {}) as { devices?: number[] };
const chardev = args[args.indexOf('-qtest') + 1] ?? '';
if (!chardev.startsWith('unix:') || args[args.indexOf('-accel') + 1] !== 'qtest') {
  process.stderr.write(`fake QEMU: expected -qtest unix:PATH -accel qtest, saw ${args.join(' ')}\n`);
  process.exit(2);
}
const [path = '', ...flags] = chardev.slice(5).split(',');
const parsed = parseBoardProfile(raw);
if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));

const fake: FakeQtestOptions = {
  profile: parsed.value,
  ...(opts.devices ? { devices: opts.devices } : {}),
  onHalt: (kind, reason) => {
    process.stderr.write(`fake QEMU: ${kind}: ${reason}\n`);
    if (kind === 'abort') process.exit(134);
    if (kind === 'segv') process.exit(139);
  },
  misbehave: (line) => {
    if (line === 'fake_exit') {
      process.stderr.write('fake QEMU: virtio-msg-amp-pci: simulated abort\n');
      process.exit(3);
    }
    return undefined;
  },
};
const started = flags.includes('server=on') ? listenFakeQtest(path, fake) : connectFakeQtest(path, fake);
started.catch((e: unknown) => {
  process.stderr.write(`fake QEMU: ${errorText(e)}\n`);
  process.exit(1);
});
