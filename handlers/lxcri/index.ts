/** ADDRESS LXCRI (being built). */
import type { HandlerTable } from '../../shared/verb';

export const table: HandlerTable = {
  target: 'lxcri',
  summary: 'ADDRESS LXCRI',
  tools: '',
  verbs: [],
};
