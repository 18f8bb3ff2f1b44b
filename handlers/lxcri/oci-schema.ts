/**
 * Validation of a runtime-spec config.json against the spec's own JSON schema (the files
 * in ./schema, runtime-spec v1.3.0, draft-04), with @cfworker/json-schema: it interprets
 * the schema, where ajv generates code for all 13 files first (290–880 ms per process
 * on this machine, against ~20–40 ms here for the first validation — and `spec` is one
 * CLI process). The library and the schema files are loaded on the first validation and
 * the validator is kept in the handler instance's cache (ctx.cache): loading the handler,
 * `--help` and every other verb never read them.
 */
import type { Ctx } from '../../shared/verb';

/** What the validator answers (@cfworker/json-schema's OutputUnit, the fields used here). */
interface Checked {
  valid: boolean;
  errors: Array<{ instanceLocation: string; error: string }>;
}
interface Validator {
  validate(instance: unknown): Checked;
}

/** The runtime-spec release of the carried schema files (schema/README.md). */
export const OCI_SCHEMA_VERSION = 'v1.3.0';

const CACHE_KEY = 'lxcri:oci-config-schema';
/** A base URI for the files, so "defs.json#/definitions/x" resolves among them; never fetched. */
const BASE = 'https://opencontainers.invalid/runtime-spec/schema/';

/**
 * `schema` with each `$ref` of the form `#definitions/x` read as the JSON pointer
 * `#/definitions/x`: v1.3.0's defs.json has one such ref (ArrayOfUint32) that
 * gojsonschema, the spec's own validator, tolerates and JSON-pointer resolution does
 * not. The files stay as released; this reading is the only change. Pure.
 */
export function fixRefs<T>(schema: T): T {
  return JSON.parse(JSON.stringify(schema), (k, v: unknown) => (k === '$ref' && typeof v === 'string' ? v.replace(/^#definitions\//, '#/definitions/') : v)) as T;
}

/** The validator: the entry schema plus every file it references, added by its name. */
async function load(): Promise<Validator> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Validator: V } = require('@cfworker/json-schema') as typeof import('@cfworker/json-schema');
  // A dynamic import, not require: the bundler and the test runner both resolve it to schema/index.ts (JSON imports in it).
  const { ROOT, SCHEMAS } = await import('./schema/index.js');
  // shortCircuit: stop at the first failure, which is all the message names.
  const v = new V(fixRefs({ ...SCHEMAS[ROOT]!, id: BASE + ROOT }) as never, '4', true);
  for (const [name, schema] of Object.entries(SCHEMAS)) if (name !== ROOT) v.addSchema(fixRefs({ ...schema, id: BASE + name }) as never, BASE + name);
  return v as Validator;
}

/**
 * Why `config` is not a valid runtime-spec config — the deepest failing JSON pointer
 * path and the schema's complaint, e.g. `/linux/resources/memory/limit: Instance type
 * "string" is invalid. Expected "integer".` — or undefined when it is valid.
 */
export async function ociConfigProblem(ctx: Pick<Ctx, 'cache'>, config: unknown): Promise<string | undefined> {
  let v = ctx.cache.get(CACHE_KEY) as Validator | undefined;
  if (!v) ctx.cache.set(CACHE_KEY, (v = await load()));
  // As written: JSON text (an undefined member is no member).
  const r = v.validate(JSON.parse(JSON.stringify(config)));
  if (r.valid) return undefined;
  // The errors run from the root down ("Property "linux" does not match schema" ...): the
  // deepest one that is not only "A subschema had errors." says what is wrong.
  const deep = [...r.errors].sort((a, b) => b.instanceLocation.length - a.instanceLocation.length);
  const deepest = deep.find((e) => !/^A subschema had errors/.test(e.error)) ?? deep[0];
  if (!deepest) return 'invalid (no detail)';
  return `${deepest.instanceLocation.replace(/^#/, '') || '/'}: ${deepest.error}`;
}
