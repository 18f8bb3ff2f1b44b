/**
 * Help text, `--help` and the README's verb tables, all rendered from the verb
 * tables so they can never disagree with the code.
 */
import { RC_DOCS } from './errors';
import { COMMON_PARAMS, typeLabel, type ParamSpec, type ParamsSpec } from './params';
import { findVerb, type AnyVerb, type HandlerTable, type VarsSpec } from './verb';

/** One declared variable as `NAME: doc`, a stem as `NAME (stem): doc`. */
export const varLines = (vars: VarsSpec): string[] =>
  Object.entries(vars).map(([k, s]) => (typeof s === 'string' ? `${k}: ${s}` : `${k} (stem): ${s.stem}`));

/** " (at most N bytes)" for a length-limited parameter. */
const limitText = (s: ParamSpec): string => ('maxBytes' in s && s.maxBytes !== undefined ? ` (at most ${s.maxBytes} bytes)` : '');

/** " (also key=)" for a key with aliases. */
const aliasText = (s: ParamSpec): string => (s.aliases?.length ? ` (also ${s.aliases.map((a) => `${a}=`).join(', ')})` : '');

const defaultText = (s: ParamSpec): string => {
  if (s.required) return 'required';
  if (s.type === 'list') return 'repeatable';
  if (s.default === undefined) return '';
  if (s.type === 'duration') return `default ${formatMs(s.default)}`;
  return `default ${String(s.default)}`;
};

/** 30000 → "30s", 1500 → "1500ms". */
export function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0 && ms >= 3_600_000) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

function verbSignature(v: AnyVerb): string {
  const parts = Object.entries(v.params as ParamsSpec).map(([k, s]) => (s.required ? `${k}=…` : `[${k}=…]`));
  return [v.name, ...parts].join(' ');
}

/** Plain-text help: all verbs with summaries, or one verb in detail. */
export function renderHelp(table: HandlerTable, verbName?: string): string {
  if (verbName) {
    const v = findVerb(table, verbName);
    if (!v) return `unknown verb ${verbName}`;
    const lines = [`${verbSignature(v)}`, `  ${v.summary}`];
    if (v.aliases?.length) lines.push(`  aliases: ${v.aliases.join(', ')}`);
    for (const [k, s] of Object.entries({ ...(v.params as ParamsSpec), ...COMMON_PARAMS })) {
      const d = defaultText(s);
      lines.push(`  ${k}=${typeLabel(s)}${d ? ` (${d})` : ''}  ${s.doc}${limitText(s)}${aliasText(s)}${s.rule ? ` — ${s.rule.allowed}` : ''}`);
    }
    if (v.positional?.length) lines.push(`  bare words fill: ${v.positional.join(', ')}`);
    const sets = varLines(v.vars);
    if (sets.length) lines.push('  sets (cleared to empty when it fails):', ...sets.map((l) => `    ${l}`));
    if (v.exitStatus) lines.push(`  RC: ${EXIT_STATUS_DOC}`);
    for (const e of v.examples ?? []) lines.push(`  e.g. ${e}`);
    return lines.join('\n');
  }
  const width = Math.max(...table.verbs.map((v) => v.name.length), 4);
  const lines = [`ADDRESS ${table.target.toUpperCase()}: ${table.summary}`, `drives: ${table.tools}`, '', 'verbs:'];
  for (const v of table.verbs) {
    const alias = v.aliases?.length ? ` (also ${v.aliases.join(', ')})` : '';
    lines.push(`  ${v.name.padEnd(width)}  ${v.summary}${alias}`);
  }
  lines.push(`  ${'help'.padEnd(width)}  this list; help VERB describes one verb`);
  lines.push('', 'every verb also takes dryrun=true and trace=true', '', 'RC:');
  for (const [rc, text] of RC_DOCS) lines.push(`  ${rc}  ${text}`);
  const execs = table.verbs.filter((v) => v.exitStatus).map((v) => v.name);
  if (execs.length) lines.push(`  ${execs.join(', ')}: ${EXIT_STATUS_DOC}`);
  return lines.join('\n');
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The README's verb table for one handler (Markdown). */
export function renderVerbTable(table: HandlerTable): string {
  const rows = ['| verb | parameters | what it does | variables it sets |', '| --- | --- | --- | --- |'];
  for (const v of table.verbs) {
    const params = Object.entries(v.params as ParamsSpec)
      .map(([k, s]) => {
        const d = defaultText(s);
        return `\`${k}\`${d === 'required' ? '*' : ''}${d && d !== 'required' ? ` (${d})` : ''}: ${s.doc}${limitText(s)}${aliasText(s)}`;
      })
      .join('<br>');
    const alias = v.aliases?.length ? `<br>(${v.aliases.map((a) => `\`${a}\``).join(', ')})` : '';
    const vars = varLines(v.vars).map((l) => `\`${l.replace(/:/, '`:')}`).join('<br>');
    const summary = v.exitStatus ? `${v.summary}. RC: ${EXIT_STATUS_DOC}` : v.summary;
    rows.push(`| \`${v.name}\`${alias} | ${cell(params)} | ${cell(summary)} | ${cell(vars)} |`);
  }
  return rows.join('\n');
}

/** The README's table of how RexxJS's own handler's verbs and keys map to this one (Markdown), or '' when it has none. */
export function renderCompatTable(table: HandlerTable): string {
  if (!table.compat?.length) return '';
  const rows = ['| original verb | its keys | here | differences, or what to use instead |', '| --- | --- | --- | --- |'];
  for (const r of table.compat) {
    const ours = r.ours ? `\`${r.ours}\`` : '**none: RC 2**';
    rows.push(`| ${r.verbs.map((v) => `\`${v}\``).join(', ')} | ${cell(r.keys)} | ${cell(ours)} | ${cell(r.note)} |`);
  }
  return rows.join('\n');
}

/** What RC means for an exec verb (see Verb.exitStatus). */
export const EXIT_STATUS_DOC =
  "the command's exit status (0–255) when it ran; when it never ran or was killed, the negative of the table's code (-3 not found, -5 timed out, -6 unavailable, -2 usage, -1 anything else)";

/** The README's RC table (Markdown), with what exec verbs return. */
export function renderRcTable(): string {
  return [
    '| RC | meaning |',
    '| --- | --- |',
    ...RC_DOCS.map(([rc, t]) => `| ${rc} | ${cell(t)} |`),
    '',
    `Exec verbs (\`exec\`, \`execute\`) answer as a REXX host command environment does (TSO/E, z/OS UNIX): RC is ${EXIT_STATUS_DOC}. ` +
      'So `RC > 0` is the command failing and `RC < 0` is the command never running: a missing instance (-3) can never be mistaken for a command that exited 3. ' +
      "`EXIT_CODE` holds the exit status when the command ran and is '' when it did not.",
    '',
    '`rexx-address` exits with the RC when it is 0–255, and with 256 + RC for a negative RC (an exec verb whose command never ran: -1 → 255, -2 → 254, -3 → 253, -5 → 251, -6 → 250), as a shell shows `exit -3`. A cancelled call (Ctrl-C at the prompt) is RC 130, the exit status a shell gives a command ended by SIGINT.',
    '',
    "Every verb declares the variables it sets (the last column of its verb table). Each call sets all of them: when the verb fails, or does not give one a value, it is '' (a stem: count 0), so a script never reads a value left by an earlier call.",
  ].join('\n');
}
