/** ADDRESS ZFS (being built). */
import type { HandlerTable } from '../../shared/verb';

export const table: HandlerTable = {
  target: 'zfs',
  summary: 'ADDRESS ZFS',
  tools: '',
  verbs: [],
};
