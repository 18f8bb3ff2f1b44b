/**
 * The one place ADDRESS LXCRI reads its tools' messages: the OCI runtime (runc 1.1,
 * crun 1.8, lxcri), skopeo/umoci and CRIU. A failed tool result becomes an
 * AddressError whose `reason` the verbs branch on (`isReason`); no verb or library of
 * this handler matches message text itself.
 */
import { AddressError, classify, type Classifier } from '../../shared/errors';
import type { RunResult } from '../../shared/runner';

/** Messages of runc 1.1, crun 1.8 and lxcri mapped to reasons (already and refused are RC 7). */
export const OCI_ERRORS: Classifier = {
  patterns: [
    ['exists', /already exists|container with given ID already exists|container with id exists/i],
    ['notFound', /container does not exist|does not exist|error opening file `[^`]*\/status`|no such container/i],
    // start of a running container: it is already in the state asked for.
    ['already', /cannot start an already running/i],
    ['refused', /cannot delete container .* that is not stopped|is not stopped|not paused|not running|container is paused/i],
    ['timedOut', /timed out|timeout/i],
  ],
};

/**
 * skopeo/umoci messages mapped to reasons. Registry answers first (skopeo 1.9 against the
 * distribution registry, docker-registry 2.8): content that does not match the digest
 * the ref pins is refused (RC 7: the registry served something else than what was
 * asked for, so nothing of it is kept); a registry that does not answer is RC 6; an
 * unknown tag, digest or repository is RC 3.
 */
export const IMAGE_ERRORS: Classifier = {
  patterns: [
    ['refused', /does not match provided manifest digest|Digest did not match|digest mismatch|manifest digest .* does not match/i],
    ['unavailable', /connect: connection refused|no such host|i\/o timeout|network is unreachable|no route to host|connection reset by peer/i],
    ['notFound', /manifest unknown|name unknown|repository name not known|blob unknown|reading manifest .*: (?:not found|unknown)/i],
    ['notFound', /no such file or directory|does not exist|not found|no descriptor found|unable to find/i],
    ['exists', /already exists/i],
  ],
};

/** A failed runtime call → its AddressError (RC by reason). */
export const ociError = (r: RunResult): AddressError => classify(r, OCI_ERRORS);

/** A failed skopeo or umoci call → its AddressError. */
export const imageError = (r: RunResult): AddressError => classify(r, IMAGE_ERRORS);

// The runtime's own failures in `exec` (not the command's): runc logs with level=error, crun names the container.
const RT_OWN = /level=error msg="(?:container does not exist|cannot exec in a stopped|container .* is not running|exec failed|runc exec failed)|^crun: |container .* does not exist/m;
/** runc 1.1 / crun: the program, or the shell, is not in the container. */
const NO_PROGRAM = /executable file not found|exec: \\?"[^"]*?\\?": stat [^:]*: no such file or directory|executable file `[^`]*` not found|No such file or directory: .*execvp/i;
/** runc 1.1 / crun: the working directory is not in the container. */
const NO_CWD = /chdir to cwd \([^)]*\)[^:]*: no such file or directory|chdir to `[^`]*`: No such file or directory/i;

/**
 * Who failed in `<runtime> exec ID ARGV` that exited non-zero: `command` (the command
 * ran and this is its own exit status), or the runtime before the command ran — `cwd`
 * (cwd= was given and is not in the container), `program` (the program or the
 * shell is not there), `runtime` (anything else: container missing, stopped …).
 */
export function execFailure(r: RunResult, o: { cwdGiven: boolean }): 'command' | 'cwd' | 'program' | 'runtime' {
  if (!(r.missing || r.exitCode === null || (r.exitCode !== 0 && RT_OWN.test(r.stderr)))) return 'command';
  if (o.cwdGiven && NO_CWD.test(r.stderr)) return 'cwd';
  if (NO_PROGRAM.test(r.stderr)) return 'program';
  return 'runtime';
}

/** The error lines of a CRIU log (dump.log / restore.log), at most 5, joined for ERRORTEXT ('' when none). */
export function criuErrorLines(log: string): string {
  const lines = log.split('\n').filter((l) => /Error|error/.test(l));
  return lines.slice(0, 5).map((l) => l.trim()).join(' | ');
}
