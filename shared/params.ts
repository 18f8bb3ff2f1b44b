/**
 * Typed parameter specs and their validation. A verb declares its parameters as
 * data; the dispatcher checks every given value against them before the verb runs.
 */
import { usageError } from './errors';
import { checkName, type NameRule } from './names';

interface SpecBase {
  /** One line for help and the README. */
  doc: string;
  required?: boolean;
  /** Other names for this key (RexxJS's original handlers' keys, e.g. snapshot_name for snapshot). */
  aliases?: readonly string[];
  /** May be given more than once; the value is then a list (always for type 'list'). */
  rule?: NameRule;
  /**
   * What Tab offers for the value at the prompt: the names of this kind, listed by the
   * table's `completers` entry (e.g. 'instances', 'datasets', 'vms', 'containers', 'bases').
   */
  complete?: string;
}
export interface StringSpec extends SpecBase {
  type: 'string';
  default?: string;
  /** allow a leading "-" (free text passed after `--`). */
  free?: boolean;
  /** Longest value in bytes (UTF-8); longer is RC 2 before anything runs. */
  maxBytes?: number;
}
export interface IntSpec extends SpecBase { type: 'int'; default?: number; min?: number; max?: number }
export interface BoolSpec extends SpecBase { type: 'bool'; default?: boolean }
export interface EnumSpec<V extends string = string> extends SpecBase { type: 'enum'; values: readonly V[]; default?: V }
/** Duration in ms; accepts 500ms, 30s, 5m, 2h, 7d, 1w; a plain number means seconds. */
export interface DurationSpec extends SpecBase { type: 'duration'; default?: number }
/** Repeatable key collecting a list of strings (`env=A=1 env=B=2`). */
export interface ListSpec extends SpecBase {
  type: 'list';
  free?: boolean;
  /** Longest single value in bytes (UTF-8); longer is RC 2 before anything runs. */
  maxBytes?: number;
}

export type ParamSpec = StringSpec | IntSpec | BoolSpec | EnumSpec | DurationSpec | ListSpec;
export type ParamsSpec = Record<string, ParamSpec>;

/** Parameters every verb of every handler takes (the dispatcher handles them). */
export const COMMON_PARAMS: ParamsSpec = {
  dryrun: { type: 'bool', default: false, doc: 'run nothing that changes state; RESULT lists the exact commands it would run, one per line' },
  trace: { type: 'bool', default: false, doc: 'print each command and its duration in ms to stderr (also env REXX_ADDRESS_TRACE=1)' },
};

type ValueOf<S> = S extends IntSpec
  ? number
  : S extends BoolSpec
    ? boolean
    : S extends EnumSpec<infer V>
      ? V
      : S extends DurationSpec
        ? number
        : S extends ListSpec
          ? string[]
          : string;

type Present<S> = S extends { required: true } ? true : S extends { default: unknown } ? true : S extends ListSpec ? true : false;

/** The typed parameter object a verb's run function receives. */
export type ParamsOf<S extends ParamsSpec> = {
  [K in keyof S as Present<S[K]> extends true ? K : never]: ValueOf<S[K]>;
} & {
  [K in keyof S as Present<S[K]> extends true ? never : K]?: ValueOf<S[K]>;
};

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parse a duration to ms (plain number = seconds). Returns undefined when malformed. */
export function parseDuration(v: string): number | undefined {
  const m = DURATION.exec(v.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 's']!);
}

const TRUE = new Set(['true', 'yes', 'on', '1']);
const FALSE = new Set(['false', 'no', 'off', '0']);

/** Describe a spec's type for help text. */
export function typeLabel(s: ParamSpec): string {
  switch (s.type) {
    case 'enum':
      return s.values.join('|');
    case 'duration':
      return 'duration';
    case 'list':
      return 'list';
    default:
      return s.type;
  }
}

/**
 * Rename keys given by an alias (`ParamSpec.aliases`) to the key itself. RC 2 when a key
 * is given both ways.
 */
export function resolveAliases(verb: string, spec: ParamsSpec, raw: Map<string, string[]>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [key, values] of raw) {
    const canonical = Object.hasOwn(spec, key) ? key : Object.keys(spec).find((k) => spec[k]!.aliases?.includes(key));
    const k = canonical ?? key;
    if (out.has(k)) throw usageError(`${verb}: ${k}= is given twice (once as ${key}=)`);
    out.set(k, values);
  }
  return out;
}

/**
 * Validate and coerce raw values (each key → list of strings) against a spec.
 * Throws AddressError(usage, RC 2) naming the verb and key on the first problem.
 */
export function coerceParams(verb: string, spec: ParamsSpec, raw: Map<string, string[]>): Record<string, unknown> {
  const validKeys = () => `valid keys for ${verb}: ${Object.keys(spec).join(', ') || '(none)'}`;
  // No prototype: a key such as __proto__ or constructor is data here, never Object's own.
  const out: Record<string, unknown> = Object.create(null);
  for (const [key, values] of raw) {
    const s = Object.hasOwn(spec, key) ? spec[key] : undefined;
    if (!s) throw usageError(`${verb}: unknown key '${key}' — ${validKeys()}`);
    if (s.type !== 'list' && values.length > 1) throw usageError(`${verb}: key '${key}' given ${values.length} times; it takes one value`);
    const coerced = values.map((v) => coerceOne(verb, key, s, v));
    out[key] = s.type === 'list' ? coerced : coerced[0];
  }
  for (const [key, s] of Object.entries(spec)) {
    if (out[key] !== undefined) continue;
    if (s.required) throw usageError(`${verb}: missing required key '${key}' (${s.doc}) — ${validKeys()}`);
    if (s.type === 'list') out[key] = [];
    else if (s.default !== undefined) out[key] = s.default;
  }
  return out;
}

function coerceOne(verb: string, key: string, s: ParamSpec, v: string): unknown {
  const bad = (why: string) => usageError(`${verb}: ${key}=${JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v)} ${why}`);
  switch (s.type) {
    case 'int': {
      if (!/^-?\d+$/.test(v)) throw bad('is not a whole number');
      const n = Number(v);
      if (s.min !== undefined && n < s.min) throw bad(`must be at least ${s.min}`);
      if (s.max !== undefined && n > s.max) throw bad(`must be at most ${s.max}`);
      return n;
    }
    case 'bool': {
      const l = v.toLowerCase();
      if (TRUE.has(l)) return true;
      if (FALSE.has(l)) return false;
      throw bad('is not true or false');
    }
    case 'enum': {
      const hit = s.values.find((x) => x.toLowerCase() === v.toLowerCase());
      if (hit === undefined) throw bad(`must be one of ${s.values.join(', ')}`);
      return hit;
    }
    case 'duration': {
      const ms = parseDuration(v);
      if (ms === undefined) throw bad('is not a duration (e.g. 500ms, 30s, 5m, 2h, 7d; a plain number is seconds)');
      return ms;
    }
    default: {
      if (v.includes('\0')) throw bad('contains a NUL byte');
      if (s.maxBytes !== undefined && Buffer.byteLength(v) > s.maxBytes) {
        throw bad(`is ${Buffer.byteLength(v)} bytes; the limit is ${s.maxBytes}`);
      }
      if (s.rule) {
        const why = checkName(s.rule, key, v);
        if (why) throw usageError(`${verb}: ${why}`);
      } else if (!s.free && v.startsWith('-')) {
        throw bad('must not start with "-"');
      }
      return v;
    }
  }
}

/** The `timeout=` param of a verb that waits: a duration (`30s`, `2m`, ms when bare), `defaultMs` when not given; RC 5 when it runs out. */
export const timeoutParam = (defaultMs: number, doc: string) => ({ timeout: { type: 'duration', default: defaultMs, doc } }) as const;
