/**
 * Completion, all of it from the verb tables: the prompt's Tab (`completeLine`: verbs and
 * aliases, then the `key=` names of the verb being typed, then values: booleans, enum
 * values, and names a param's `complete` kind lists through the table's `completers`),
 * and the shell scripts of `rexx-address completion bash|zsh|fish` (static: targets,
 * verbs, keys, boolean and enum values).
 */
import { COMMON_PARAMS, type ParamSpec, type ParamsSpec } from '../shared/params';
import { findVerb, type AnyVerb, type HandlerTable } from '../shared/verb';

/** What the prompt itself understands besides the verbs (cli/prompt.ts). */
export const PROMPT_COMMANDS = ['help', 'exit', 'quit', ':json', ':vars'] as const;

/** Lists the names of a completion kind (instances, datasets ...); [] when the backend cannot say quickly. */
export type ListNames = (kind: string) => Promise<string[]>;

/** Every name a verb answers to: its name and aliases. */
export const verbWords = (table: HandlerTable): string[] => table.verbs.flatMap((v) => [v.name, ...(v.aliases ?? [])]);

/** A verb's keys, the common ones (dryrun, trace) included, each with its spec. */
export const verbParams = (v: AnyVerb): ParamsSpec => ({ ...(v.params as ParamsSpec), ...COMMON_PARAMS });

/** The spec of `key` (or of one of its aliases) for a verb. */
function specOf(v: AnyVerb, key: string): ParamSpec | undefined {
  const all = verbParams(v);
  const k = key.toLowerCase();
  return Object.hasOwn(all, k) ? all[k] : Object.values(all).find((s) => s.aliases?.includes(k));
}

/** The kind of names a param's value is (its `complete`, else the completer whose `rules` has its rule), if any. */
export function completionKind(table: HandlerTable, s: ParamSpec): string | undefined {
  if (s.complete) return s.complete;
  if (!s.rule) return undefined;
  return Object.entries(table.completers ?? {}).find(([, c]) => c.rules?.includes(s.rule!))?.[0];
}

/** The fixed values of a param: true/false for a boolean, the listed values of an enum, else none. */
export function staticValues(s: ParamSpec): string[] {
  if (s.type === 'bool') return ['true', 'false'];
  if (s.type === 'enum') return [...s.values];
  return [];
}

const starting = (words: Iterable<string>, prefix: string) => [...new Set(words)].filter((w) => w.startsWith(prefix)).sort();

/**
 * Tab at the prompt: `left` is the text left of the cursor; returns readline's completer
 * answer, the candidates and the word they replace. Verbs (with a trailing space) for the
 * first word, `key=` names after a verb (keys already given are left out), values after
 * `key=` (as `key=value `).
 */
export async function completeLine(table: HandlerTable, left: string, listNames?: ListNames): Promise<[string[], string]> {
  const words = left.trimStart().split(/\s+/);
  const word = words.pop() ?? '';
  if (words.length === 0) return [starting([...verbWords(table), ...PROMPT_COMMANDS], word).map((w) => `${w} `), word];
  const first = words[0]!.toLowerCase();
  if (first === 'help') return words.length === 1 ? [starting(verbWords(table), word).map((w) => `${w} `), word] : [[], word];
  if (first === ':vars') return words.length === 1 ? [starting(['on', 'off'], word), word] : [[], word];
  const verb = findVerb(table, first);
  if (!verb) return [[], word];
  const eq = word.indexOf('=');
  if (eq < 0) {
    const given = new Set(words.slice(1).map((w) => w.split('=', 1)[0]!.toLowerCase()));
    const keys = Object.keys(verbParams(verb)).filter((k) => !given.has(k));
    return [starting(keys.map((k) => `${k}=`), word), word];
  }
  const key = word.slice(0, eq);
  const spec = specOf(verb, key);
  if (!spec) return [[], word];
  let values = staticValues(spec);
  const kind = completionKind(table, spec);
  if (!values.length && kind && listNames) values = await listNames(kind);
  return [starting(values.map((v) => `${key}=${v}`), word).map((w) => `${w} `), word];
}

/** The completion facts of one table a shell script needs: verb (and alias) → key → fixed values. */
export function completionData(table: HandlerTable): Map<string, Map<string, string[]>> {
  const m = new Map<string, Map<string, string[]>>();
  for (const v of table.verbs) {
    const keys = new Map(Object.entries(verbParams(v)).map(([k, s]) => [k, staticValues(s)] as const));
    for (const n of [v.name, ...(v.aliases ?? [])]) m.set(n, keys);
  }
  return m;
}

/** A name safe inside a shell variable name or a word list (verbs, keys, enum values are all [A-Za-z0-9_.-]). */
const SAFE = /^[A-Za-z0-9_.:-]+$/;
function safe(w: string): string {
  if (!SAFE.test(w)) throw new Error(`completion: '${w}' is not a plain word`);
  return w;
}
/** A shell variable name part: '-', '.' and ':' become '_'. */
const ident = (w: string) => safe(w).replace(/[-.:]/g, '_');

/** The shells `rexx-address completion SHELL` writes a script for. */
export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** The completion script for `shell`, from the tables (target → table). */
export function completionScript(shell: Shell, tables: Record<string, HandlerTable>): string {
  const targets = Object.keys(tables).map(safe);
  const data = Object.fromEntries(targets.map((t) => [t, completionData(tables[t]!)]));
  if (shell === 'bash') return bashScript(targets, data);
  if (shell === 'zsh') return zshScript(targets, data);
  return fishScript(targets, data);
}

type Data = Record<string, Map<string, Map<string, string[]>>>;
const HEAD = (shell: string, install: string) =>
  `# rexx-address completion for ${shell}, generated from the verb tables (rexx-address completion ${shell}).\n# Install: ${install}\n`;

function bashScript(targets: string[], data: Data): string {
  const lines = [HEAD('bash', 'rexx-address completion bash > ~/.local/share/bash-completion/completions/rexx-address'), `_rexx_address_targets='${targets.join(' ')}'`];
  for (const t of targets) {
    lines.push(`_rexx_address_verbs_${ident(t)}='${[...data[t]!.keys()].map(safe).join(' ')} help'`);
    for (const [verb, keys] of data[t]!) {
      lines.push(`_rexx_address_keys_${ident(t)}_${ident(verb)}='${[...keys.keys()].map((k) => `${safe(k)}=`).join(' ')}'`);
      for (const [k, vals] of keys) if (vals.length) lines.push(`_rexx_address_vals_${ident(t)}_${ident(verb)}_${ident(k)}='${vals.map(safe).join(' ')}'`);
    }
  }
  lines.push(`_rexx_address() {
  local line="\${COMP_LINE:0:COMP_POINT}" cur="" x v cands=""
  local -a w=() a=()
  read -ra w <<< "$line"
  if [[ -n $line && $line != *[[:space:]] ]]; then cur="\${w[\${#w[@]}-1]}"; unset 'w[\${#w[@]}-1]'; fi
  for x in "\${w[@]:1}"; do [[ $x == --* ]] || a+=("$x"); done
  COMPREPLY=()
  if (( \${#a[@]} == 0 )); then
    cands="$_rexx_address_targets completion --help --json"
  elif [[ \${a[0]} == completion ]]; then
    (( \${#a[@]} == 1 )) && cands="bash zsh fish"
  elif [[ ! \${a[0]} =~ ^[a-z0-9_]+$ ]]; then
    return 0
  elif (( \${#a[@]} == 1 )); then
    v="_rexx_address_verbs_\${a[0]}"; cands="\${!v}"
  else
    [[ \${a[1]} =~ ^[A-Za-z0-9_]+$ ]] || return 0
    local t="\${a[0]}" verb="\${a[1],,}"
    if [[ $cur == *=* ]]; then
      local k="\${cur%%=*}" val="\${cur#*=}"
      [[ $k =~ ^[A-Za-z0-9_]+$ ]] || return 0
      v="_rexx_address_vals_\${t}_\${verb}_\${k,,}"
      # bash splits words at "=" (COMP_WORDBREAKS): then the reply is the value alone.
      if [[ $COMP_WORDBREAKS == *=* ]]; then
        COMPREPLY=($(compgen -W "\${!v}" -- "$val"))
      else
        COMPREPLY=($(compgen -P "$k=" -W "\${!v}" -- "$val"))
      fi
      return 0
    fi
    v="_rexx_address_keys_\${t}_\${verb}"; cands="\${!v}"
    compopt -o nospace 2>/dev/null
  fi
  COMPREPLY=($(compgen -W "$cands" -- "$cur"))
}
complete -F _rexx_address rexx-address`);
  return `${lines.join('\n')}\n`;
}

function zshScript(targets: string[], data: Data): string {
  const lines = [
    '#compdef rexx-address',
    HEAD('zsh', 'rexx-address completion zsh > "${fpath[1]}/_rexx-address" (then: autoload -U compinit && compinit)').trimEnd(),
    `typeset -gA _rexx_address_verbs _rexx_address_keys _rexx_address_vals`,
    `typeset -g _rexx_address_targets='${targets.join(' ')}'`,
  ];
  for (const t of targets) {
    lines.push(`_rexx_address_verbs[${t}]='${[...data[t]!.keys()].map(safe).join(' ')} help'`);
    for (const [verb, keys] of data[t]!) {
      lines.push(`_rexx_address_keys[${t}.${safe(verb)}]='${[...keys.keys()].map((k) => `${safe(k)}=`).join(' ')}'`);
      for (const [k, vals] of keys) if (vals.length) lines.push(`_rexx_address_vals[${t}.${verb}.${safe(k)}]='${vals.map(safe).join(' ')}'`);
    }
  }
  lines.push(`_rexx_address() {
  local -a a; local w cur=$words[CURRENT]
  for w in $words[2,CURRENT-1]; do [[ $w == --* ]] || a+=($w); done
  if (( $#a == 0 )); then compadd -- \${=_rexx_address_targets} completion --help --json
  elif [[ $a[1] == completion ]]; then (( $#a == 1 )) && compadd -- bash zsh fish
  elif (( $#a == 1 )); then compadd -- \${=_rexx_address_verbs[$a[1]]}
  elif [[ $cur == *=* ]]; then
    local k=\${cur%%=*}
    compset -P '*='
    compadd -- \${=_rexx_address_vals[$a[1].\${(L)a[2]}.\${(L)k}]}
  else compadd -S '' -- \${=_rexx_address_keys[$a[1].\${(L)a[2]}]}
  fi
}
compdef _rexx_address rexx-address`);
  return `${lines.join('\n')}\n`;
}

function fishScript(targets: string[], data: Data): string {
  const lines = [
    HEAD('fish', 'rexx-address completion fish > ~/.config/fish/completions/rexx-address.fish').trimEnd(),
    `function __rexx_address_args
    set -l toks (commandline -opc)
    for t in $toks[2..-1]
        string match -q -- '--*' $t; or echo $t
    end
end
function __rexx_address_n
    test (count (__rexx_address_args)) -eq $argv[1]
end
function __rexx_address_on
    set -l a (__rexx_address_args)
    test (count $a) -ge 2; and test "$a[1]" = $argv[1]; and test (string lower -- $a[2]) = $argv[2]
end
function __rexx_address_target
    set -l a (__rexx_address_args)
    test (count $a) -eq 1; and test "$a[1]" = $argv[1]
end`,
    'complete -c rexx-address -f',
    `complete -c rexx-address -n '__rexx_address_n 0' -a '${targets.join(' ')} completion --help --json'`,
    `complete -c rexx-address -n '__rexx_address_target completion' -a 'bash zsh fish'`,
  ];
  for (const t of targets) {
    lines.push(`complete -c rexx-address -n '__rexx_address_target ${t}' -a '${[...data[t]!.keys()].map(safe).join(' ')} help'`);
    for (const [verb, keys] of data[t]!) {
      const words = [...keys].flatMap(([k, vals]) => [`${safe(k)}=`, ...vals.map((v) => `${k}=${safe(v)}`)]);
      lines.push(`complete -c rexx-address -n '__rexx_address_on ${t} ${safe(verb)}' -a '${words.join(' ')}'`);
    }
  }
  return `${lines.join('\n')}\n`;
}
