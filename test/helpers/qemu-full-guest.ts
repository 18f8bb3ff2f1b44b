/** Test helpers for the full Debian guest (scripts/build-qemu-full-guest.sh): a VM on a fresh overlay of its disk. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';

/** Where scripts/build-qemu-full-guest.sh keeps it (REXX_QEMU_FULL_GUEST_DIR, as for the script; outside the default REXX_QEMU_PATHS it must be listed there). */
export const FULL_GUEST = process.env.REXX_QEMU_FULL_GUEST_DIR || '/var/lib/rexx-address/qemu-full-guest';

/** The create keys of a VM booting the full guest (its own kernel and initrd, root on /dev/vda) under TCG. */
export const FULL_GUEST_HW = `kernel=${FULL_GUEST}/vmlinuz initrd=${FULL_GUEST}/initrd.img append="root=/dev/vda console=ttyS0" accel=tcg memory=512`;

/** Throws when qemu or the full guest is missing, naming the script that builds it. */
export async function requireFullGuest(): Promise<void> {
  const v = await execa('qemu-system-x86_64', ['--version'], { reject: false }).catch(() => undefined);
  if (!v || v.exitCode !== 0) throw new Error('qemu-system-x86_64 is not installed: run scripts/setup-host.sh');
  if (!fs.existsSync(path.join(FULL_GUEST, '.done'))) throw new Error(`${FULL_GUEST} missing: run scripts/build-qemu-full-guest.sh`);
}

/** A new qcow2 overlay of the full guest's disk as disk NAME in state folder `dir` (images/NAME.qcow2). */
export async function fullGuestOverlay(dir: string, name: string): Promise<void> {
  fs.mkdirSync(path.join(dir, 'images'), { recursive: true });
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', path.join(FULL_GUEST, 'disk.qcow2'), path.join(dir, 'images', `${name}.qcow2`)]);
}
