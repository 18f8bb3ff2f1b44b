/**
 * Every ADDRESS target this package provides, by its lowercase name. The CLI,
 * the RexxJS shims (scripts/build-shims.mjs) and the README generator read this.
 */
import type { HandlerTable } from '../shared/verb';
import { table as lxd } from './lxd';

export const TABLES: Record<string, HandlerTable> = {
  lxd,
};
