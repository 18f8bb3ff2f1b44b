/**
 * Help text, `--help` and the README's verb tables, all rendered from the verb
 * tables so they can never disagree with the code.
 */
import { RC_DOCS } from './errors';
import { COMMON_PARAMS, typeLabel, type ParamSpec, type ParamsSpec } from './params';
import { findVerb, type AnyVerb, type HandlerTable } from './verb';

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
      lines.push(`  ${k}=${typeLabel(s)}${d ? ` (${d})` : ''}  ${s.doc}${s.rule ? ` — ${s.rule.allowed}` : ''}`);
    }
    if (v.positional?.length) lines.push(`  bare words fill: ${v.positional.join(', ')}`);
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
  return lines.join('\n');
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The README's verb table for one handler (Markdown). */
export function renderVerbTable(table: HandlerTable): string {
  const rows = ['| verb | parameters | what it does |', '| --- | --- | --- |'];
  for (const v of table.verbs) {
    const params = Object.entries(v.params as ParamsSpec)
      .map(([k, s]) => {
        const d = defaultText(s);
        return `\`${k}\`${d === 'required' ? '*' : ''}${d && d !== 'required' ? ` (${d})` : ''}: ${s.doc}`;
      })
      .join('<br>');
    const alias = v.aliases?.length ? `<br>(${v.aliases.map((a) => `\`${a}\``).join(', ')})` : '';
    rows.push(`| \`${v.name}\`${alias} | ${cell(params)} | ${cell(v.summary)} |`);
  }
  return rows.join('\n');
}

/** The README's RC table (Markdown). */
export function renderRcTable(): string {
  return ['| RC | meaning |', '| --- | --- |', ...RC_DOCS.map(([rc, t]) => `| ${rc} | ${cell(t)} |`)].join('\n');
}
