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

/** Delete every VM a test's handler knows (force: QEMU quits first), then its state folder. */
export async function removeQemuState(h: (cmd: string) => Promise<{ rexxVariables: Record<string, unknown> }>, dir: string | undefined): Promise<void> {
  if (!dir) return;
  const l = await h('list');
  const vms = Object.entries((l.rexxVariables.VMS ?? {}) as Record<string, string>).filter(([k]) => k !== '0').map(([, v]) => v);
  for (const vm of vms) await h(`delete ${vm} force=true`);
  fs.rmSync(dir, { recursive: true, force: true });
}
