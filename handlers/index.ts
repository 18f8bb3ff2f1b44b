/**
 * Every ADDRESS target this package provides, by its lowercase name. The CLI,
 * the RexxJS shims (scripts/build-shims.mjs) and the README generator read this.
 */
import type { HandlerTable } from '../shared/verb';
import { table as incus } from './incus';
import { table as lxcri } from './lxcri';
import { table as lxd } from './lxd';
import { table as qemu } from './qemu';
import { table as zfs } from './zfs';

export const TABLES: Record<string, HandlerTable> = { lxd, zfs, qemu, lxcri, incus };
