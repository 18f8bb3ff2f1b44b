/**
 * A tag for names this test process makes (instances, datasets, pools, containers): the
 * pid plus 4 random hex digits. A pid alone repeats across boots, and a machine restored
 * from a snapshot may still hold what an earlier run with the same pid left behind.
 */
import { randomBytes } from 'node:crypto';

export const RUN_ID = `${process.pid}${randomBytes(2).toString('hex')}`;
