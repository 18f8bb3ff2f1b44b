/** ADDRESS QEMU (being built). */
import type { HandlerTable } from '../../shared/verb';

export const table: HandlerTable = {
  target: 'qemu',
  summary: 'ADDRESS QEMU',
  tools: '',
  verbs: [],
};
