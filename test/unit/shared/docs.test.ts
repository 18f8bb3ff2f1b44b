/** Generated docs: README blocks up to date, help and --help list every verb (shared/docs.ts, readme.ts, cli.ts). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TABLES } from '../../../handlers';
import { main as cliMain, TARGETS } from '../../../cli/main';
import { loadFromTree } from '../../../cli/tree';
import { createHandler, findVerb } from '../../../shared/dispatch';
import { formatMs, renderHelp, renderRcTable, renderVerbTable } from '../../../shared/docs';
import { RC_DOCS } from '../../../shared/errors';
import { renderReadme } from '../../../shared/readme';

const ROOT = path.join(__dirname, '..', '..', '..');

/** Fake io streams for cli.main. */
function io() {
  const out: string[] = [];
  const err: string[] = [];
  const stream = (into: string[]) => ({ write: (s: string) => (into.push(String(s)), true) });
  return { io: { out: stream(out), err: stream(err) } as never, out: () => out.join(''), err: () => err.join('') };
}

describe('README.md', () => {
  it('generated blocks are up to date (else: run npm run docs)', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const fresh = renderReadme(readme, TABLES, ROOT);
    if (fresh !== readme) {
      const a = readme.split('\n');
      const b = fresh.split('\n');
      const i = a.findIndex((l, n) => l !== b[n]);
      throw new Error(`README.md is stale: run npm run docs (first difference at line ${i + 1}: ${JSON.stringify(a[i])} vs ${JSON.stringify(b[i])})`);
    }
  });

  it('has a block for the RC table and one per target', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('<!-- BEGIN rc-table -->');
    for (const t of Object.keys(TABLES)) {
      expect(readme).toContain(`<!-- BEGIN handler:${t} -->`);
      expect(readme).toContain(`<!-- END handler:${t} -->`);
    }
  });

  it('renderReadme fills a block from the handler prose and verb table, and is idempotent', () => {
    const lxd = { lxd: TABLES.lxd! };
    const src = 'intro\n<!-- BEGIN rc-table -->\nold\n<!-- END rc-table -->\n<!-- BEGIN handler:lxd -->\nold\n<!-- END handler:lxd -->\nend\n';
    const once = renderReadme(src, lxd, ROOT);
    expect(once).toContain(renderRcTable());
    expect(once).toContain(renderVerbTable(TABLES.lxd!));
    expect(once).toContain(fs.readFileSync(path.join(ROOT, 'handlers', 'lxd', 'README.md'), 'utf8').trim());
    expect(once.startsWith('intro\n')).toBe(true);
    expect(once.endsWith('\nend\n')).toBe(true);
    expect(renderReadme(once, lxd, ROOT)).toBe(once);
  });

  it('the verb table has a row per verb and escapes pipes', () => {
    for (const t of Object.values(TABLES)) {
      const md = renderVerbTable(t);
      expect(md.split('\n')).toHaveLength(2 + t.verbs.length);
      for (const v of t.verbs) expect(md).toContain(`| \`${v.name}\``);
    }
    expect(renderRcTable().split('\n').filter((l) => l.startsWith('| '))).toHaveLength(2 + RC_DOCS.length);
  });
});

/** The CLI, loading its targets from the source tree (the bundles are tested in cli-bundle.test.ts). */
const main = (args: string[], io: Parameters<typeof cliMain>[1]) => cliMain(args, io, loadFromTree);

it("the CLI's targets, known without loading them, are the tables' (handlers/index.ts)", () => {
  expect([...TARGETS].sort()).toEqual(Object.keys(TABLES).sort());
});

describe.each(Object.keys(TABLES))('help for %s', (target) => {
  const table = TABLES[target]!;

  it('the help verb lists every verb of the table', async () => {
    const r = await createHandler(table)('help');
    expect(r.success).toBe(true);
    for (const v of table.verbs) expect(r.output).toMatch(new RegExp(`^  ${v.name}\\s`, 'm'));
  });

  it('rexx-address TARGET --help lists every verb; --help VERB describes one', async () => {
    const a = io();
    expect(await main([target, '--help'], a.io)).toBe(0);
    expect(a.out()).toBe(`${renderHelp(table)}\n`);
    for (const v of table.verbs) expect(a.out()).toMatch(new RegExp(`^  ${v.name}\\s`, 'm'));
    for (const v of table.verbs) {
      const b = io();
      expect(await main([target, '-h', v.name], b.io)).toBe(0);
      expect(b.out().startsWith(v.name)).toBe(true);
      for (const k of Object.keys(v.params)) expect(b.out()).toContain(`  ${k}=`);
    }
  });
});

describe('cli main', () => {
  it('--help prints the usage with every target; no args is exit 2', async () => {
    const a = io();
    expect(await main(['--help'], a.io)).toBe(0);
    for (const t of Object.keys(TABLES)) expect(a.out()).toContain(t);
    const b = io();
    expect(await main([], b.io)).toBe(2);
    expect(b.out()).toMatch(/^usage: rexx-address/);
  });

  it('an unknown target is exit 2 on stderr', async () => {
    const a = io();
    expect(await main(['nope', 'help'], a.io)).toBe(2);
    expect(a.err()).toMatch(/unknown target 'nope'/);
    expect(a.out()).toBe('');
  });

  it('prints RESULT and exits 0; a usage error goes to stderr with exit 2', async () => {
    const a = io();
    expect(await main(['lxd', 'create name=x image=tiny dryrun=true'], a.io)).toBe(0);
    expect(a.out()).toBe('lxc init tiny x\n');
    const b = io();
    expect(await main(['lxd', 'frobnicate'], b.io)).toBe(2);
    expect(b.err()).toMatch(/unknown verb 'frobnicate'/);
  });

  it('several words are quoted back into one command; --json prints the whole result', async () => {
    const a = io();
    expect(await main(['LXD', '--json', 'create', 'name=x', 'image=tiny', 'config=user.a=b c', 'dryrun=true'], a.io)).toBe(0);
    const r = JSON.parse(a.out());
    expect(r.output).toBe("lxc init tiny x --config 'user.a=b c'");
    expect(r.rexxVariables.COMMANDS).toEqual({ 0: 1, 1: "lxc init tiny x --config 'user.a=b c'" });
  });
});

describe('formatMs', () => {
  it.each([
    [500, '500ms'],
    [1500, '1500ms'],
    [30_000, '30s'],
    [60_000, '1m'],
    [90_000, '90s'],
    [7_200_000, '2h'],
    [0, '0s'],
  ])('%d → %s', (ms, s) => expect(formatMs(ms)).toBe(s));
});

describe("compatibility with RexxJS's own handlers (HandlerTable.compat)", () => {
  const withCompat = Object.values(TABLES).filter((t) => t.compat?.length);

  it('LXD and QEMU have one', () => {
    expect(withCompat.map((t) => t.target).sort()).toEqual(['lxd', 'qemu']);
  });

  it('every original verb with a counterpart is a verb or alias here; every one without is not', () => {
    for (const t of withCompat) {
      for (const r of t.compat!) {
        for (const v of r.verbs) expect(Boolean(findVerb(t, v)), `${t.target} ${v}`).toBe(r.ours !== '');
      }
    }
  });

  it('an original verb without a counterpart is RC 2 naming what to use, and runs nothing', async () => {
    for (const t of withCompat) {
      const h = createHandler(t, { env: { PATH: '/nonexistent' } });
      for (const r of t.compat!.filter((x) => x.ours === '')) {
        for (const v of r.verbs) {
          const res = await h(`${v} name=x`);
          expect(res.errorCode, `${t.target} ${v}`).toBe(2);
          expect(res.errorMessage).toContain(r.note);
        }
      }
    }
  });

  it('the README has the table', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    for (const t of withCompat) expect(readme).toContain(`#### Scripts written for RexxJS's own ADDRESS ${t.target.toUpperCase()}`);
  });
});
