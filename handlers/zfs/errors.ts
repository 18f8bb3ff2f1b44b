/**
 * The one classifier of ADDRESS ZFS: what a failed `zfs`/`zpool` run (OpenZFS 2.x or
 * zfs-fuse 0.7) means, as an AddressError whose `reason` the verbs and libraries branch
 * on (`isReason(e, 'busy')`). Every match on the tools' message text is here, and only
 * here; the rest of the handler reads reasons and the names this module pulls out.
 */
import { AddressError, classify, type Classifier } from '../../shared/errors';
import type { RunResult } from '../../shared/runner';

/** zfs/zpool messages (OpenZFS 2.x and zfs-fuse 0.7) mapped to the RC table. */
export const ZFS_ERRORS: Classifier = {
  patterns: [
    // zfs-fuse daemon down: "connect: No such file or directory / Please make sure that
    // the zfs-fuse daemon is running. / internal error: failed to initialize ZFS library";
    // OpenZFS without its module: "The ZFS modules are not loaded" / "/dev/zfs".
    ['unavailable', /zfs-fuse daemon is running|failed to initialize ZFS library|The ZFS modules are not loaded|\/dev\/zfs and \/proc\/self\/mounts|Function not implemented/i],
    // zfs-fuse 0.7 takes cache (L2ARC) devices only on disks: "cache device must be a disk or disk slice".
    ['unavailable', /cache device must be a disk/i],
    ['exists', /already exists|dataset exists|pool already exists|is part of (?:active|exported) pool/i],
    ['notFound', /does not exist|no such pool|no such dataset|could not find any snapshots to destroy|no such device|cannot open '[^']*': (?:No such file|no such)/i],
    // Without -r, the one refusal of `zfs rollback` is "more recent snapshots exist".
    ['refused', /has children|has dependent clones|more recent snapshots|snapshot is cloned|use '-[rRf]' to/i],
    ['timedOut', /timed out/i],
    // zfs-fuse calls a mounted filesystem, or a snapshot a send still holds, "busy":
    // destroy and rename unmount and retry. Matched last, and RC 1, not the RC 7 of a
    // shared busy: that is what it has always answered when the retries run out.
    ['busy', /dataset is busy|pool is busy/i, 'toolFailed'],
  ],
};

/** ZFS messages plus ssh's own for the receiving end of `send target= ssh=` and `replicate`. */
export const REPL_ERRORS: Classifier = {
  patterns: [
    ['unavailable', /ssh: connect to host|Could not resolve hostname|Permission denied \(|Host key verification failed|Connection refused|Connection timed out/i],
    ...ZFS_ERRORS.patterns,
  ],
};

/** The AddressError for a failed zfs/zpool (or ssh … zfs) run, classified by `classifier` (default {@link ZFS_ERRORS}). */
export const zfsError = (r: RunResult, classifier: Classifier = ZFS_ERRORS): AddressError => classify(r, classifier);

/** The dataset zfs-fuse called busy in a failed `zfs destroy` ("cannot destroy 'NAME': dataset is busy"), else undefined. */
export const busyDataset = (e: AddressError): string | undefined => /cannot destroy '([^']+)': dataset is busy/.exec(e.message)?.[1];

/** zfs-fuse refused a cache (L2ARC) device that is not a disk ("cache device must be a disk or disk slice"). */
export const cacheDeviceRefused = (e: AddressError): boolean => e.reason === 'unavailable' && /cache device must be a disk/i.test(e.message);

/** The datasets and snapshots a zfs message names, in order (the quoted words of "cannot open 'rexxpool/a@s': …"). */
export const namesIn = (e: AddressError): string[] => [...e.message.matchAll(/'([^'\s]+)'/g)].map((m) => m[1]!);

/**
 * For a read of several names at once (`zfs list NAME…`, `zfs get … NAME…`), which prints
 * the ones that exist and names each missing one on stderr (exit 1): true when it ran and
 * every stderr line is such a "does not exist", so stdout is the whole answer.
 */
export const onlyMissing = (r: RunResult): boolean =>
  r.ok || (!r.missing && !r.timedOut && r.stderr.split('\n').every((l) => !l.trim() || /does not exist/.test(l)));

/** The mountpoint zfs could not make ("cannot mount '/P/x': failed to create mountpoint"), else undefined. */
export const unmadeMountpoint = (stderr: string): string | undefined => /cannot mount '([^']+)': failed to create mountpoint/.exec(stderr)?.[1];

/** zfs refused a property it does not know (zfs-fuse: "bad property list: invalid property 'written'"). */
export const unknownProperty = (e: unknown, prop: string): boolean => e instanceof AddressError && e.message.includes(`invalid property '${prop}'`);
