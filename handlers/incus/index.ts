/**
 * ADDRESS INCUS: the ADDRESS LXD handler registered under a second name, driving the
 * `incus` client (Incus, the community fork of LXD). Same verbs, parameters, variables and
 * RCs; where the two clients differ is handlers/lxd/client.ts.
 */
import type { HandlerTable } from '../../shared/verb';
import { table as lxd } from '../lxd';

export const table: HandlerTable = {
  ...lxd,
  target: 'incus',
  summary: 'Incus system containers: the verbs of ADDRESS LXD, driving the incus client',
  tools: 'incus (the Incus 6.x client)',
  // RexxJS has no ADDRESS INCUS of its own to be compatible with.
  compat: undefined,
  sameAs: 'lxd',
};
