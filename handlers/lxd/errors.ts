/**
 * What a failed `lxc` (or `incus`) call means, decided here once: the messages of the lxc
 * client (LXD 5.0) mapped to a reason (shared/errors.ts), with the texts Incus words
 * otherwise taken from the client table (client.ts: CLIENTS[…].errors, execOwn). Verbs and libraries branch on
 * `e.reason` with `isReason`; no other file of this handler reads lxc's message text.
 */
import { AddressError, classify, type Classifier } from '../../shared/errors';
import type { RunResult } from '../../shared/runner';
import { CLIENTS } from './client';

/**
 * lxc's messages mapped to reasons, first match wins. `busy`: LXD runs one operation
 * per instance at a time and refuses the next; and with snapshots of one instance taken
 * at once, LXD 5.0's up-front consistency check can see the other call's half-made
 * snapshot and refuse ("record count doesn't match", canonical/lxd#11407). Either way
 * nothing was done, so `lxc()` (tool.ts) repeats the call. `already`: start of a running
 * instance, stop (or restart) of a stopped one; matched last, so it only names what
 * would otherwise be a plain tool failure. Both keep the RC of a tool failure (1, as
 * before they were told apart): the verbs that know what they mean (start, stop, the busy
 * retry) handle them.
 */
export const LXC_ERRORS: Classifier = {
  patterns: [
    ['busy', /is busy running a "[^"]*" operation|snapshot record count doesn't match instance snapshot volume record count/i, 'toolFailed'],
    ['unavailable', /unix\.socket|connect: connection refused|connect: no such file|daemon doesn't appear to be started|LXD unix socket|dial unix|not accessible/i],
    // A cluster member (or a remote) that is down: LXD forwards to it and gives up after
    // about 10 s ("Missing event connection …") or when the connect fails.
    ['unavailable', /Missing event connection with target cluster member|Unable to connect to: |connect: no route to host|i\/o timeout/i],
    // The daemon that has the data does not listen on the network, so the other one cannot
    // pull from it (the host's LXD, for a copy, move or create from its image to a remote):
    // refused, RC 7; copy and move say to give mode=push.
    ['refused', /source server isn't listening on the network/i],
    // What only one client says (Incus's words for the same reasons): client.ts.
    ...Object.values(CLIENTS).flatMap((c) => c.errors),
    ['exists', /already exists|already in use/i],
    ['notFound', /not found|no such object|doesn't exist|does not exist|Remote .* doesn't exist/i],
    ['timedOut', /context deadline exceeded|timed out|timeout/i],
    ['already', /already running|already stopped|not running/i, 'toolFailed'],
  ],
};

/**
 * What `lxc stop` says beyond {@link LXC_ERRORS}: LXD 5.0 answers a clean stop that ran
 * out of time with "Failed shutting down instance" (a timeout, RC 5, for the stop verb;
 * elsewhere, as in `restart`, it stays a tool failure, RC 1).
 */
export const LXC_STOP_ERRORS: Classifier = {
  patterns: [['timedOut', /Failed shutting down instance/i], ...LXC_ERRORS.patterns],
};

/**
 * What `PUT /1.0/instances/NAME/state` says to freeze or unfreeze beyond
 * {@link LXC_ERRORS}: "already frozen" (freeze) and "already running" (unfreeze) are
 * `already` (the verbs answer RC 0: it is in the state asked for); "isn't running" is
 * `refused` (RC 7: a stopped instance is neither frozen nor unfrozen, and unfreeze never
 * starts one).
 */
export const LXC_FREEZE_ERRORS: Classifier = {
  patterns: [['already', /already frozen|already running/i, 'toolFailed'], ['refused', /isn't running|is not running/i], ...LXC_ERRORS.patterns],
};

/** What `lxc move` says to a rename beyond {@link LXC_ERRORS}: LXD refuses to rename a running instance (RC 7). */
export const LXC_RENAME_ERRORS: Classifier = {
  patterns: [['refused', /Renaming of running (?:container|instance|virtual machine) not allowed/i], ...LXC_ERRORS.patterns],
};

/** What `lxc file delete` says beyond {@link LXC_ERRORS}: a directory with something in it (RC 7: give recursive=true); LXD's "Not Found" for a missing path (RC 3). */
export const LXC_FILE_DELETE_ERRORS: Classifier = {
  patterns: [['refused', /directory not empty/i], ['notFound', /^Error: Not Found$/m], ...LXC_ERRORS.patterns],
};

/** What `lxc publish` says beyond {@link LXC_ERRORS}: a running instance needs --force (RC 7, force=true); the same image already there is `exists` (RC 4). */
export const LXC_PUBLISH_ERRORS: Classifier = {
  patterns: [['refused', /instance is currently running\. Use --force/i], ...LXC_ERRORS.patterns],
};

/**
 * What LXD says when a profile, network or storage volume cannot go because something
 * uses it, beyond {@link LXC_ERRORS}: "Profile is currently in use", "The network is
 * currently in use", "The storage volume is still in use" (LXD 5.0), and the default
 * profile, which LXD never deletes, are `refused` (RC 7: detach or delete the users
 * first); `lxc storage volume detach` / `lxc network detach` of something not attached
 * ("No device found for this storage volume") is `notFound` (RC 3).
 */
export const LXC_IN_USE_ERRORS: Classifier = {
  patterns: [
    ['refused', /is currently in use|is still in use|profile cannot be deleted/i],
    ['notFound', /No device found for this/i],
    ...LXC_ERRORS.patterns,
  ],
};

/** The AddressError for a failed `lxc` run, classified by `c` (default {@link LXC_ERRORS}). */
export const lxcError = (r: RunResult, c: Classifier = LXC_ERRORS): AddressError => classify(r, c);

const lastLine = (s: string) => s.trimEnd().split('\n').pop() ?? '';

/** lxc's own failures of `lxc exec` exit 1 with one of these as the last stderr line (anything else with exit 1 is the command's own). */
const LXC_EXEC_OWN = /^Error: (?:Instance not found|Instance is not running|Failed checking instance|Failed to retrieve PID|Get "http[^"]*"|LXD unix socket|The remote "[^"]*" doesn't exist|Remote [^ ]+ doesn't exist)/;

/** LXD's and every other client's own exec failures (client.ts: execOwn). */
const EXEC_OWN = [LXC_EXEC_OWN, ...Object.values(CLIENTS).flatMap((c) => (c.execOwn ? [c.execOwn] : []))];

/** True when an `lxc exec` run failed before the command ran (lxc's own failure, a timeout, a signal, no lxc): classify it with {@link lxcError}. */
export const execNeverRan = (r: RunResult): boolean =>
  r.missing || r.timedOut || r.exitCode === null || (r.exitCode === 1 && EXEC_OWN.some((re) => re.test(lastLine(r.stderr))));

/**
 * True when `lxc exec` exited 127 with LXD's own "Error: Command not found" (LXD could
 * not find the program; a command can print that line too, so the caller makes sure).
 */
export const execProgramMissing = (r: RunResult): boolean => r.exitCode === 127 && lastLine(r.stderr) === 'Error: Command not found';

/** True when a failed `lxc query …/files?path=` says the path is not there (a missing instance says "Instance not found"). */
export const guestPathMissing = (r: RunResult): boolean => lastLine(r.stderr) === 'Error: Not Found';

/**
 * True when `lxc query …/files?path=` failed only because the path is a file whose content
 * parses as JSON that is not an API answer (a number): lxc prints other content as it is.
 */
export const guestFileContentNotJson = (r: RunResult): boolean => /cannot unmarshal .* into Go value of type api\.Response/.test(r.stderr);
