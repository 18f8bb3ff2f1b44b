#!/usr/bin/env node
'use strict';
// Thin launcher: the CLI is compiled TypeScript in dist/ (npm run build).
const path = require('path');
require(path.join(__dirname, '..', 'dist', 'shared', 'cli.js'))
  .main(process.argv.slice(2))
  .then((code) => { process.exitCode = code; });
