/**
 * The one classifier of ADDRESS QEMU: a failed qemu-img / qemu-system run → an
 * AddressError whose `reason` the verbs branch on (shared/errors.ts isReason), never
 * the message text. Messages as QEMU 7.2 prints them.
 */
import type { Classifier } from '../../shared/errors';

/** qemu-img / qemu-system messages (QEMU 7.2) mapped to failure reasons and so to the RC table. */
export const QEMU_ERRORS: Classifier = {
  patterns: [
    ['notFound', /No such file or directory|Could not open '.*': No such file|does not exist|not found/i],
    ['exists', /already exists|File exists/i],
    // Another QEMU (or qemu-img) holds the image: busy, refused (RC 7) unless a verb handles it.
    ['busy', /Failed to get "write" lock|Is another process using the image/i],
    ['refused', /Permission denied|read-only/i],
    ['usage', /Invalid parameter|Parameter '.*' expects|invalid (image )?size|Unknown file format|Unknown driver/i],
  ],
};

/**
 * What a guest agent error reply means (the `desc` qemu-ga 7.2 sends, inside the RC 1
 * error shared/qmp.ts throws): `exec` — GLib's g_spawn could not find argv[0]; `file` —
 * guest-file-open's fopen found no such file or folder. Undefined for anything else.
 */
const QGA_NOT_FOUND = {
  exec: /Failed to execute child process .*\((?:No such file or directory|Not a directory)\)/,
  file: /No such file or directory/,
} as const;

/** 'notFound' when agent error `e` says the program (`exec`) or file (`file`) does not exist, else undefined. */
export function agentErrorReason(e: unknown, what: keyof typeof QGA_NOT_FOUND): 'notFound' | undefined {
  return e instanceof Error && QGA_NOT_FOUND[what].test(e.message) ? 'notFound' : undefined;
}
