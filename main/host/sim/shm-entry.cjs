#!/usr/bin/env node
// A simulated board on a shm file as its own process, for tests and benchmarks: the same as
// `amp-workbench sim ARGS...`.
process.argv.splice(2, 0, 'sim');
require('../cli/amp-workbench.cjs');
