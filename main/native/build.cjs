#!/usr/bin/env node
// Builds the amp_native addon (npm's "install" script). A failed build must not fail
// `npm install`: the app runs without it, and the links that need it say so (loadNative()).
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const path = require('node:path');

const here = __dirname;

/** npm's bundled node-gyp: npm names it in npm_config_node_gyp when it runs a script. */
function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    process.env.npm_execpath && path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  for (const c of candidates) if (c && existsSync(c)) return c;
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return null;
  }
}

function fail(why) {
  process.stderr.write(
    `\namp-workbench: the native addon (main/native) was not built: ${why}. ` +
      'The workbench still runs, with the simulated boards and the serial bridge; the shm-file, pci and ivshmem links ' +
      'will say the addon is missing. To build it, install a C++ compiler, make and python3 (Debian: apt-get install g++ make python3) ' +
      'and run `node main/native/build.cjs` (or `npm run install`).\n\n',
  );
  process.exit(0);
}

if (process.platform !== 'linux') fail(`it needs Linux (mmap of devices, eventfd, UIO), this is ${process.platform}`);
const gyp = findNodeGyp();
if (!gyp) fail('node-gyp was not found (it ships with npm; set npm_config_node_gyp to its bin/node-gyp.js)');
const args = [gyp, 'rebuild', '--loglevel=warn'];
// Outside npm (no npm_config_nodedir), use the running Node's own headers when installed, so the
// build needs no download.
const prefix = path.join(path.dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
const r = spawnSync(process.execPath, args, { cwd: here, stdio: 'inherit' });
if (r.error) fail(r.error.message);
if (r.status !== 0) fail(`node-gyp exited with ${r.status ?? r.signal} (its output is above)`);
process.stdout.write(`amp-workbench: built ${path.join(here, 'build', 'Release', 'amp_native.node')}\n`);
