/**
 * `x = status` in RexxJS, with an ADDRESS active whose METHODS has `status`, calls
 * handler('status', {params: ''}, sourceContext). When the script has a variable of that
 * name (as written or uppercase, e.g. the STATUS a verb set), the variable wins.
 */
import { describe, expect, it } from 'vitest';
import { createHandler } from '../../shared/dispatch';
import { table } from '../../handlers/lxd';

const lxd = createHandler(table);
const ctx = (vars: Record<string, unknown>) => ({ lineNumber: 3, sourceLine: 'x = status', interpreter: { variables: new Map(Object.entries(vars)) } });

describe('a script variable named like a verb is read, not run', () => {
  it('uppercase variable set by a verb', async () => {
    expect(await lxd('status', { params: '' }, ctx({ STATUS: 'Running' }))).toBe('Running');
  });
  it('variable as written', async () => {
    expect(await lxd('snapshot', { params: '' }, ctx({ snapshot: 'before' }))).toBe('before');
  });
  it('no such variable: the verb runs (here: RC 2, snapshot needs name=)', async () => {
    const r = await lxd('snapshot', { params: '' }, ctx({ OTHER: 1 }));
    expect(r).toMatchObject({ success: false, errorCode: 2 });
  });
  it('with parameters it is always the verb', async () => {
    const r = await lxd('snapshot', { params: 'name=x dryrun=true' }, ctx({ SNAPSHOT: 'before' }));
    expect(r.output).toMatch(/^lxc snapshot x checkpoint-\d+$/);
  });
});
