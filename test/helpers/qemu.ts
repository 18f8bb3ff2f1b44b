/** Test helpers for ADDRESS QEMU: which QEMU processes run for a VM or a state folder. */
import * as fs from 'node:fs';

/** Pids of the qemu-system processes whose command line contains `fragment` (a QMP socket path, a state folder). */
export function qemuProcesses(fragment: string): number[] {
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((d) => {
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8');
      return cmd.startsWith('qemu-system') && cmd.includes(fragment) ? [Number(d)] : [];
    } catch {
      return []; // gone meanwhile
    }
  });
}
