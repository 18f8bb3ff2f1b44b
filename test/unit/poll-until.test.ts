/** pollUntil: the shared poller's non-throwing form (true when the condition holds, false at the deadline). */
import { describe, expect, it } from 'vitest';
import { pollUntil } from '../../shared/poll';

describe('pollUntil', () => {
  it('is true as soon as the condition holds', async () => {
    let n = 0;
    expect(await pollUntil(() => ++n >= 3, { timeoutMs: 5_000, initialMs: 1 })).toBe(true);
    expect(n).toBe(3);
  });
  it('is false at the deadline instead of throwing RC 5', async () => {
    expect(await pollUntil(() => false, { timeoutMs: 30, initialMs: 5 })).toBe(false);
  });
  it('lets other errors through', async () => {
    await expect(pollUntil(() => { throw new Error('boom'); }, { timeoutMs: 30 })).rejects.toThrow('boom');
  });
});
