/**
 * The RexxJS library metadata of one ADDRESS target (`@rexxjs-meta`, see
 * ../shared/rexxjs-contract.md): written into the dist/address-<target>.js shims by
 * scripts/build-shims.mjs, and given to the interpreter when the REXX session registers
 * the targets in-process, so both ways of loading a handler behave the same
 * (`{{var}}` interpolation included).
 */
import type { HandlerTable } from '../shared/verb';

/** The object `ADDRESS_<T>_META()` returns for a handler table. */
export function addressTargetMeta(table: HandlerTable, version: string) {
  return {
    type: 'address-target',
    name: `ADDRESS ${table.target.toUpperCase()}`,
    version,
    description: table.summary,
    provides: { addressTarget: table.target },
    interpreterHandlesInterpolation: true,
    dependencies: [],
    requirements: { tools: table.tools },
  };
}
