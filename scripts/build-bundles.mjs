// Bundles the entries a process starts from (esbuild), so one call reads one file per
// target instead of the compiled tree plus node_modules:
//   dist/cli.js            the rexx-address CLI (no handler in it)
//   dist/handler-<t>.js    one target: its table, the dispatcher, help (and execa, zod ...)
// The CLI loads only the bundle of the target it is asked for; the RexxJS shims
// (scripts/build-shims.mjs) load the same bundles.
import { build } from 'esbuild';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const TARGETS = ['lxd', 'zfs', 'qemu', 'lxcri'];
const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'warning', legalComments: 'none', absWorkingDir: root };

await Promise.all([
  build({ ...common, entryPoints: [join(root, 'cli/main.ts')], outfile: join(root, 'dist/cli.js') }),
  ...TARGETS.map((t) =>
    build({
      ...common,
      stdin: {
        contents: `export { table } from './handlers/${t}';\nexport { createHandler, methodsOf } from './shared/dispatch';\nexport { renderHelp } from './shared/docs';\n`,
        resolveDir: root,
        sourcefile: `handler-${t}.ts`,
        loader: 'ts',
      },
      outfile: join(root, `dist/handler-${t}.js`),
    }),
  ),
]);
console.log(`bundles: dist/cli.js ${TARGETS.map((t) => `dist/handler-${t}.js`).join(' ')}`);
