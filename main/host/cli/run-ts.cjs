#!/usr/bin/env node
// Runs a TypeScript entry point under plain Node (tsx registers the loader in this process).
require('tsx/cjs');
const path = require('node:path');
require(path.resolve(process.argv[2]));
