/**
 * Values that must never reach a tool: shell metacharacters, option injection, path
 * traversal, control characters, QEMU option separators, overlong names. Each one
 * used as a name-like parameter must give RC 2 with nothing run. The ones with
 * `$(…)` or backticks would create CANARY if any shell ever evaluated them.
 */
import * as os from 'node:os';
import * as path from 'node:path';

export const CANARY = path.join(os.tmpdir(), `rexx-canary-${process.pid}`);

export const HOSTILE: string[] = [
  `x;touch ${CANARY}`,
  `x && touch ${CANARY}`,
  `x || touch ${CANARY}`,
  `x | touch ${CANARY}`,
  `$(touch ${CANARY})`,
  `x$(touch ${CANARY})`,
  `\`touch ${CANARY}\``,
  `x\`touch ${CANARY}\``,
  `x > ${CANARY}`,
  `x < /etc/passwd`,
  'x\ntouch /tmp/x',
  'x\rtouch',
  'x\0y',
  'x\ty',
  '--force',
  '-f',
  '--all',
  '-o',
  '-rf',
  '--help',
  '-',
  '--',
  '../etc',
  '../../root',
  'a/../../b',
  '..',
  '.',
  '/etc/passwd',
  'a b',
  ' leading',
  'trailing ',
  'a@b',
  'pool@snap@x',
  'a#b',
  'a%b',
  'a,b',
  'file=/etc/passwd,if=none',
  'x,readonly=off',
  '*',
  'a*b',
  '?',
  '[a]',
  '~root',
  '${HOME}',
  '$HOME',
  "a'b",
  'a"b',
  'a\\b',
  '{a,b}',
  '!x',
  'x'.repeat(300),
  'é-name',
  '😀',
  '\u202eevil',
  '',
];
