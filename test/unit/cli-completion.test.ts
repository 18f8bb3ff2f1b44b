/**
 * Completion comes from the verb tables: the shell scripts of `rexx-address completion
 * bash|zsh|fish` list exactly every table's verbs, aliases and keys; the bash script is
 * sourced in a real bash and its function called as bash's completion would; the
 * prompt's Tab (completeLine) with a fake name lister.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TABLES } from '../../handlers';
import { completeLine, completionKind, completionScript, verbParams, verbWords } from '../../cli/completion';
import { main, TARGETS } from '../../cli/main';
import { loadFromTree } from '../../cli/tree';
import type { ParamsSpec } from '../../shared/params';

const sorted = (xs: Iterable<string>) => [...xs].sort();
const words = (s: string) => s.split(/\s+/).filter(Boolean);
/** What every table says a shell should offer: verb word → its keys (with '='). */
const expected = (t: string) =>
  new Map(TABLES[t]!.verbs.flatMap((v) => [v.name, ...(v.aliases ?? [])].map((n) => [n, sorted(Object.keys(verbParams(v)).map((k) => `${k}=`))] as const)));

describe('generated shell completions match the verb tables', () => {
  it('the script covers every target of the CLI', () => {
    expect(sorted(Object.keys(TABLES))).toEqual(sorted(TARGETS));
  });

  const bash = completionScript('bash', TABLES);
  const zsh = completionScript('zsh', TABLES);
  const fish = completionScript('fish', TABLES);

  it.each(Object.keys(TABLES))('bash: %s verbs, aliases and keys, exactly', (t) => {
    const verbs = new RegExp(`^_rexx_address_verbs_${t}='([^']*)'$`, 'm').exec(bash)![1]!;
    expect(sorted(words(verbs))).toEqual(sorted([...verbWords(TABLES[t]!), 'help']));
    const keys = [...bash.matchAll(new RegExp(`^_rexx_address_keys_${t}_([a-z0-9_]+)='([^']*)'$`, 'gm'))];
    expect(new Map(keys.map((m) => [m[1]!, sorted(words(m[2]!))]))).toEqual(expected(t));
  });

  it.each(Object.keys(TABLES))('zsh: %s verbs, aliases and keys, exactly', (t) => {
    const verbs = new RegExp(`^_rexx_address_verbs\\[${t}\\]='([^']*)'$`, 'm').exec(zsh)![1]!;
    expect(sorted(words(verbs))).toEqual(sorted([...verbWords(TABLES[t]!), 'help']));
    const keys = [...zsh.matchAll(new RegExp(`^_rexx_address_keys\\[${t}\\.([a-z0-9_]+)\\]='([^']*)'$`, 'gm'))];
    expect(new Map(keys.map((m) => [m[1]!, sorted(words(m[2]!))]))).toEqual(expected(t));
  });

  it.each(Object.keys(TABLES))('fish: %s verbs, aliases and keys, exactly', (t) => {
    const verbs = new RegExp(`^complete -c rexx-address -n '__rexx_address_target ${t}' -a '([^']*)'$`, 'm').exec(fish)![1]!;
    expect(sorted(words(verbs))).toEqual(sorted([...verbWords(TABLES[t]!), 'help']));
    const keys = [...fish.matchAll(new RegExp(`^complete -c rexx-address -n '__rexx_address_on ${t} ([a-z0-9_]+)' -a '([^']*)'$`, 'gm'))];
    expect(new Map(keys.map((m) => [m[1]!, sorted(words(m[2]!).filter((w) => w.endsWith('=')))]))).toEqual(expected(t));
  });

  it('every completion kind a param names has a completer whose verb sets its stem', () => {
    for (const [t, table] of Object.entries(TABLES)) {
      for (const [kind, c] of Object.entries(table.completers ?? {})) {
        const v = table.verbs.find((x) => x.name === c.verb);
        expect(v, `${t} completer ${kind}`).toBeDefined();
        expect(v!.vars[c.stem], `${t} ${c.verb} declares ${c.stem}`).toMatchObject({ stem: expect.any(String) });
      }
      for (const v of table.verbs) {
        for (const [k, s] of Object.entries(v.params as ParamsSpec)) {
          if (s.complete) expect(table.completers?.[s.complete], `${t} ${v.name} ${k}= complete: ${s.complete}`).toBeDefined();
        }
      }
    }
    // Each backend completes its own names and bases.
    const kinds = (t: string) => sorted(Object.keys(TABLES[t]!.completers ?? {}));
    expect(kinds('lxd')).toEqual(['bases', 'instances']);
    expect(kinds('zfs')).toEqual(['bases', 'datasets']);
    expect(kinds('qemu')).toEqual(['bases', 'vms']);
    expect(kinds('lxcri')).toEqual(['bases', 'containers']);
    const spec = (t: string, verb: string, key: string) => (TABLES[t]!.verbs.find((v) => v.name === verb)!.params as ParamsSpec)[key]!;
    expect(completionKind(TABLES.lxd!, spec('lxd', 'start', 'name'))).toBe('instances');
    expect(completionKind(TABLES.zfs!, spec('zfs', 'get', 'name'))).toBe('datasets');
    expect(completionKind(TABLES.qemu!, spec('qemu', 'start', 'name'))).toBe('vms');
    expect(completionKind(TABLES.lxcri!, spec('lxcri', 'exec', 'name'))).toBe('containers');
    expect(completionKind(TABLES.lxd!, spec('lxd', 'clone_from_base', 'base'))).toBe('bases');
    expect(completionKind(TABLES.qemu!, spec('qemu', 'clone_from_base', 'base'))).toBe('bases');
  });

  it('rexx-address completion SHELL prints the script; another shell is RC 2', async () => {
    let out = '';
    const io = { out: { write: (s: string) => (out += s) }, err: { write: () => true } } as never;
    expect(await main(['completion', 'bash'], io, loadFromTree)).toBe(0);
    expect(out).toBe(bash);
    expect(await main(['completion', 'powershell'], io, loadFromTree)).toBe(2);
  });
});

describe('the bash script in a real bash', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-compl-'));
  const file = path.join(dir, 'rexx-address.bash');
  fs.writeFileSync(file, completionScript('bash', TABLES));
  /** COMPREPLY for the command line `line` (cursor at its end), as bash's programmable completion calls the function. */
  const reply = (line: string) => {
    const script = `source "$1"
line="$2"
read -ra COMP_WORDS <<< "$line"
[[ $line == *' ' ]] && COMP_WORDS+=("")
COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 ))
COMP_LINE="$line"
COMP_POINT=\${#line}
_rexx_address
printf '%s\\n' "\${COMPREPLY[@]}"`;
    return sorted(words(execFileSync('bash', ['-c', script, 'bash', file, line], { encoding: 'utf8' })));
  };

  it('targets, then verbs, then keys, then values', () => {
    expect(reply('rexx-address ')).toEqual(sorted([...TARGETS, 'completion', '--help', '--json']));
    expect(reply('rexx-address lxd clo')).toEqual(['clone', 'clone_from_base']);
    expect(reply('rexx-address --json zfs list_s')).toEqual(['list_snapshots']);
    expect(reply('rexx-address lxd start ')).toEqual(sorted(Object.keys(verbParams(TABLES.lxd!.verbs.find((v) => v.name === 'start')!)).map((k) => `${k}=`)));
    expect(reply('rexx-address lxd start na')).toEqual(['name=']);
    // bash splits words at "=" (COMP_WORDBREAKS), so the reply is the value alone.
    expect(reply('rexx-address lxd start wait=')).toEqual(['agent', 'cloud-init', 'ip', 'ipv6', 'none', 'running']);
    expect(reply('rexx-address lxd start dryrun=t')).toEqual(['true']);
    expect(reply('rexx-address completion ')).toEqual(['bash', 'fish', 'zsh']);
    expect(reply('rexx-address nosuch ')).toEqual([]);
    expect(reply('rexx-address lxd nosuchverb ')).toEqual([]);
  });

  it('a hostile word on the line is data, never run', () => {
    const marker = path.join(dir, 'pwned');
    for (const w of ['$(touch MARK)', '`touch MARK`', ';touch MARK', 'x=$(touch MARK)', '${!x}', "'", '"']) {
      reply(`rexx-address lxd start ${w.replace('MARK', marker)}`);
      reply(`rexx-address ${w.replace('MARK', marker)} `);
    }
    expect(fs.existsSync(marker)).toBe(false);
  });
});

describe("the prompt's Tab (completeLine; fake name lister)", () => {
  const lxd = TABLES.lxd!;
  const lister = async (kind: string) => (kind === 'instances' ? ['web-1', 'web-2', 'db'] : ['base-a']);
  it('verbs and prompt commands first', async () => {
    expect(await completeLine(lxd, 'cl')).toEqual([['clone ', 'clone_from_base '], 'cl']);
    expect((await completeLine(lxd, ':'))[0]).toEqual([':json ', ':vars ']);
    expect((await completeLine(lxd, 'help res'))[0]).toEqual(['restart ', 'restore ', 'resume ']);
  });
  it('keys of the verb, less those given', async () => {
    expect((await completeLine(lxd, 'start wait=ip '))[0]).toEqual(['dryrun=', 'name=', 'progress=', 'project=', 'remote=', 'timeout=', 'trace=']);
    expect((await completeLine(lxd, 'nosuch '))[0]).toEqual([]);
  });
  it('values: booleans, enums, names listed by the backend', async () => {
    expect(await completeLine(lxd, 'start wait=r', lister)).toEqual([['wait=running '], 'wait=r']);
    expect((await completeLine(lxd, 'delete force=', lister))[0]).toEqual(['force=false ', 'force=true ']);
    expect((await completeLine(lxd, 'start name=web', lister))[0]).toEqual(['name=web-1 ', 'name=web-2 ']);
    expect((await completeLine(TABLES.qemu!, 'clone_from_base base=', lister))[0]).toEqual(['base=base-a ']);
    expect((await completeLine(lxd, 'exec command=', lister))[0]).toEqual([]);
  });
});
