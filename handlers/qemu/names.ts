/** The naming rules of ADDRESS QEMU: what its tool accepts, checked before anything runs (RC 2). */
import { regexRule } from '../../shared/names';

/** Size with an optional unit: 512MiB, 2GB, 10G, 1024. */
export const sizeValue = regexRule(
  'size',
  /^\d+(?:\.\d+)?(?:[KMGTPE](?:i?B)?|B)?$/i,
  'a number with an optional unit: 1024, 512M, 512MiB, 2GB, 10G',
);

/** VM, disk or base name for QEMU: becomes a file name under the state directory. */
export const qemuName = regexRule(
  'VM or disk name',
  /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/,
  'letters, digits, "_", ".", "-", at most 63, starting with a letter or digit (no "/" or ",")',
  (v) => (v.includes('..') ? 'must not contain ".."' : undefined),
);
