#!/usr/bin/env node
'use strict';
// Thin launcher: the CLI is one bundle, dist/cli.js, which loads only the bundle of the
// target asked for, dist/handler-<target>.js (npm run build: scripts/build-bundles.mjs).
require('../dist/cli.js')
  .main(process.argv.slice(2))
  .then((code) => { process.exitCode = code; });
