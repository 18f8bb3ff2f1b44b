// Bundles the entries a process starts from (esbuild), so one call reads one file per
// target instead of the compiled tree plus node_modules:
//   dist/cli.js            the rexx-address CLI (no handler in it)
//   dist/handler-<t>.js    one target: its table, the dispatcher, help (and execa, zod ...)
// The CLI loads only the bundle of the target it is asked for; the RexxJS shims
// (scripts/build-shims.mjs) load the same bundles.
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// The CLI's own list (compiled by tsc just before this script), so the two never differ.
const { TARGETS } = createRequire(import.meta.url)(join(root, 'dist/cli/main.js'));
const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'warning', legalComments: 'none', absWorkingDir: root };

await Promise.all([
  build({ ...common, entryPoints: [join(root, 'cli/main.ts')], outfile: join(root, 'dist/cli.js') }),
  ...TARGETS.map((t) =>
    build({
      ...common,
      stdin: {
        contents: `export { table } from './handlers/${t}';\nexport { createHandler, methodsOf } from './shared/dispatch';\nexport { renderHelp } from './shared/docs';\nexport { terminalProgress } from './cli/progress';\n`,
        resolveDir: root,
        sourcefile: `handler-${t}.ts`,
        loader: 'ts',
      },
      outfile: join(root, `dist/handler-${t}.js`),
    }),
  ),
]);
console.log(`bundles: dist/cli.js ${TARGETS.map((t) => `dist/handler-${t}.js`).join(' ')}`);
