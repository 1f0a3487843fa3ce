/**
 * The fake QEMU (test/host/fakeQtest.ts) as its own process, for the link's "start QEMU" path:
 * started like QEMU with `… -qtest unix:PATH -accel qtest`, it connects to PATH (as QEMU does
 * without `,server`). argv[2] is JSON: { quirks? }. The command "fake_exit" ends the process
 * with code 3 and a line on stderr, as a QEMU that aborts mid-session.
 */
import { parseBoardProfile } from '../../src/api/boardProfile';
import raw from '../../src/boards/profiles/qemu-qtest-amp-pci.json';
import { connectFakeQtest, type Quirks } from './fakeQtest';

const args = process.argv.slice(2);
const opts = JSON.parse(args[0] ?? '{}') as { quirks?: Quirks };
const chardev = args[args.indexOf('-qtest') + 1] ?? '';
if (!chardev.startsWith('unix:') || args[args.indexOf('-accel') + 1] !== 'qtest') {
  process.stderr.write(`fake QEMU: expected -qtest unix:PATH -accel qtest, saw ${args.join(' ')}\n`);
  process.exit(2);
}
const parsed = parseBoardProfile(raw);
if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
connectFakeQtest(chardev.slice(5), {
  profile: parsed.profile,
  ...(opts.quirks ? { quirks: opts.quirks } : {}),
  misbehave: (line) => {
    if (line === 'fake_exit') {
      process.stderr.write('fake QEMU: virtio-msg-amp-pci: simulated abort\n');
      process.exit(3);
    }
    return undefined;
  },
}).catch((e: unknown) => {
  process.stderr.write(`fake QEMU: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
