/** The CLI's targets from the compiled tree, all four loaded at once: for tests and the unbundled build. */
import { TABLES } from '../handlers';
import { createHandler, methodsOf } from '../shared/dispatch';
import { renderHelp } from '../shared/docs';
import type { TargetModule } from './main';

export function loadFromTree(target: string): TargetModule {
  const table = TABLES[target];
  if (!table) throw new Error(`no handler table for target ${target}`);
  return { table, createHandler, renderHelp, methodsOf };
}
