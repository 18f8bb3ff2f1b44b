/**
 * README generation: the README keeps hand-written prose, and between markers it
 * holds text generated from code — `<!-- BEGIN rc-table -->…<!-- END rc-table -->`
 * and, per handler, `<!-- BEGIN handler:lxd -->…<!-- END handler:lxd -->` filled with
 * `handlers/lxd/README.md` (the handler's own prose and example) followed by its
 * verb table. `npm run docs` rewrites them; a unit test fails when they are stale.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { renderCompatTable, renderRcTable, renderVerbTable, varLines } from './docs';
import type { HandlerTable } from './verb';

const block = (name: string, body: string) => `<!-- BEGIN ${name} -->\n${body.trim()}\n<!-- END ${name} -->`;

/** Replace every generated block of `readme`; `root` is the project folder (for handlers/<t>/README.md). */
export function renderReadme(readme: string, tables: Record<string, HandlerTable>, root: string): string {
  let out = readme.replace(/<!-- BEGIN rc-table -->[\s\S]*?<!-- END rc-table -->/, block('rc-table', renderRcTable()));
  for (const [target, table] of Object.entries(tables)) {
    const name = `handler:${target}`;
    const re = new RegExp(`<!-- BEGIN ${name} -->[\\s\\S]*?<!-- END ${name} -->`);
    const prosePath = path.join(root, 'handlers', target, 'README.md');
    const prose = fs.existsSync(prosePath) ? fs.readFileSync(prosePath, 'utf8').trim() : '';
    const compat = renderCompatTable(table);
    const compatBlock = compat
      ? `\n\n#### Scripts written for RexxJS's own ADDRESS ${target.toUpperCase()}\n\nThe original handler's verbs and keys (RexxJS repository, \`extras/addresses/${target}-address/\`), and what they are here. Where the original answered RC 0 and this project is stricter, the stricter behaviour stays.\n\n${compat}`
      : '';
    const common = varLines(table.vars ?? {}).map((l) => `\`${l.replace(/:/, '`:')}`);
    const commonVars = common.length ? ` Any verb may also set ${common.join('; ')}.` : '';
    const body = table.sameAs
      ? `${prose}\n\nThe verbs, parameters, variables and RCs are those of ADDRESS ${table.sameAs.toUpperCase()} (its table above).`
      : `${prose}\n\n#### Verbs of ADDRESS ${target.toUpperCase()}\n\n${renderVerbTable(table)}\n\nEvery verb also takes \`dryrun=true\` and \`trace=true\`.${commonVars}${compatBlock}`;
    out = re.test(out) ? out.replace(re, () => block(name, body)) : out;
  }
  return out;
}
