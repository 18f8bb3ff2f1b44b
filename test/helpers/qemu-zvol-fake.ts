/**
 * What a fake runner answers for the ZFS registry's reads when volume tank/vm/base is a
 * registered zvol base that QEMU knows as zb (zfs-fuse here has no zvols, so the QEMU
 * zvol paths are unit-tested against these answers).
 */
import type { FakeReply } from './fake-runner';

/** The answer to `zfs …` argv `a` (joined by spaces) about base zb, or undefined. */
export function zvolBaseReply(a: string): FakeReply | undefined {
  if (a.includes('org.rexxjs:qemu-base')) return { stdout: 'tank/vm/base\torg.rexxjs:qemu-base\tzb\n' };
  if (a.includes('-s local org.rexxjs:base-snapshot')) return { stdout: 'tank/vm/base\torg.rexxjs:base-snapshot\trexx-base\n' };
  if (a.endsWith('creation tank/vm/base@rexx-base')) return { stdout: 'tank/vm/base@rexx-base\t1700000000\n' };
  if (a.endsWith('-d 1 tank/vm/base')) return { stdout: 'tank/vm/base\torg.rexxjs:base-snapshot\trexx-base\tlocal\ntank/vm/base@rexx-base\tcreation\t1700000000\t-\n' };
  return undefined;
}
