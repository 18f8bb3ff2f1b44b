/**
 * The handler skeleton (handlers/README.md), held against the code: every handler has
 * the same modules; shared/ imports nothing above it; no handler file reaches the
 * outside world except through ctx; verbs never test dryrun, never import each other,
 * and never decide an error from its text; README's list of shared/ modules is complete.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TABLES } from '../../handlers';

const ROOT = path.join(__dirname, '..', '..');
const ts = (dir: string): string[] =>
  fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? ts(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');
/** The code of a file without its comments (so prose may name what the code may not do). */
const code = (f: string) => read(f).replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
/** What a file imports at run time (`import type` is only a name for the compiler). */
const importsOf = (f: string) => [...code(f).replace(/^import type [^;]*;/gm, '').matchAll(/(?:from|import|require\()\s*['"]([^'"]+)['"]/g)].map((m) => m[1]!);
const offenders = (files: string[], bad: (f: string) => string | undefined) => files.flatMap((f) => (bad(f) ? [`${f}: ${bad(f)}`] : []));

const handlerFiles = ts('handlers');
// A target that is another's handler under a second name (sameAs: ADDRESS INCUS) has only index.ts.
const TARGETS = Object.keys(TABLES).filter((t) => !TABLES[t]!.sameAs);

describe('the handler skeleton', () => {
  it.each(TARGETS)('handlers/%s has index, params, names, errors, tool and verbs/', (t) => {
    for (const m of ['index.ts', 'params.ts', 'names.ts', 'errors.ts', 'tool.ts', 'verbs']) {
      expect(fs.existsSync(path.join(ROOT, 'handlers', t, m)), `handlers/${t}/${m}`).toBe(true);
    }
  });

  it('shared/ imports nothing from handlers/ or cli/', () => {
    expect(offenders(ts('shared'), (f) => importsOf(f).find((i) => /(^|\/)(handlers|cli)(\/|$)/.test(i)))).toEqual([]);
  });

  it('no handler file reaches the outside world except through ctx', () => {
    const banned = /^(node:)?(fs|fs\/promises|net|child_process)$|^execa$/;
    expect(offenders(handlerFiles, (f) => importsOf(f).find((i) => banned.test(i)))).toEqual([]);
    expect(offenders(handlerFiles, (f) => /process\.kill\(|Date\.now\(|performance\.now\(|setTimeout\(/.exec(code(f))?.[0])).toEqual([]);
    expect(offenders(handlerFiles, (f) => /import\s*\{[^}]*\b(poll|pollUntil|sleep)\b[^}]*\}\s*from\s*['"][./]*shared\/poll['"]/.exec(code(f))?.[0])).toEqual([]);
  });

  it('no handler file asks whether it is a dryrun: dryrun lives in the effects', () => {
    expect(offenders(handlerFiles, (f) => /\.dryrun\b/.exec(code(f))?.[0])).toEqual([]);
  });

  it('verb files import libraries, never each other', () => {
    const verbFiles = handlerFiles.filter((f) => f.includes(`${path.sep}verbs${path.sep}`));
    expect(offenders(verbFiles, (f) => importsOf(f).find((i) => /^\.\/[^/]+$/.test(i)))).toEqual([]);
  });

  it("errors are decided by each handler's errors.ts, not by matching message text in verbs", () => {
    const notErrors = handlerFiles.filter((f) => !f.endsWith('errors.ts'));
    // A regular expression (or includes) tried on an error's message or a tool's stderr.
    const textMatch = /\.test\(\s*[\w.]*(message|stderr|errorMessage)\b|(message|stderr)\s*\.\s*(includes|match)\(/;
    expect(offenders(notErrors, (f) => textMatch.exec(code(f))?.[0])).toEqual([]);
  });

  it('handlers/README.md has one line for each module in shared/', () => {
    const readme = read('handlers/README.md');
    const listed = [...readme.matchAll(/^- `([\w-]+\.ts)`:/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual(fs.readdirSync(path.join(ROOT, 'shared')).filter((f) => f.endsWith('.ts')).sort());
  });
});
