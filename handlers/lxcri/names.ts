/** The naming rules of ADDRESS LXCRI: what its tool accepts, checked before anything runs (RC 2). */
import { regexRule, dotSegments, type NameRule } from '../../shared/names';

/** Unix signal name or number for kill. */
export const signalName = regexRule('signal', /^(?:SIG)?[A-Z][A-Z0-9+-]{0,15}$|^\d{1,2}$/i, 'a signal name (TERM, SIGKILL) or number');

/** OCI container id. */
export const ociContainerId = regexRule(
  'container id',
  /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$/,
  'letters, digits, "_", ".", "+", "-", at most 128, starting with a letter or digit',
);

/** OCI image reference name[:tag] as kept in the local image index. */
export const ociImageRef = regexRule(
  'image reference',
  /^[a-z0-9][a-z0-9._/-]{0,127}(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?$/,
  'name[:tag], lowercase name of letters, digits, ".", "_", "-", "/"',
  dotSegments,
);

/**
 * Linux capability names (capabilities(7), linux/capability.h up to CAP_CHECKPOINT_RESTORE,
 * kernel 5.9): the values `cap_add=` / `cap_drop=` accept, besides ALL.
 */
export const CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

/** A capability for `cap_add=` / `cap_drop=`: one of {@link CAPABILITIES} (upper case, as runtime-spec writes them), or ALL. */
export const capabilityName = regexRule('capability', /^(?:CAP_[A-Z_]{2,32}|ALL)$/, 'a capability name such as CAP_CHOWN (capabilities(7)), or ALL', (v) =>
  v === 'ALL' || (CAPABILITIES as readonly string[]).includes(v) ? undefined : `${v} is not a Linux capability (capabilities(7))`,
);

/**
 * A bind mount for `spec mount=`: `SRC:DST[:ro|rw]`, SRC an absolute host path, DST an
 * absolute path in the container (not `/`), neither with ":" nor "." / ".." segments.
 */
export const bindMountSpec = regexRule(
  'bind mount',
  /^\/[^:]*:\/[^:]*(?::(?:ro|rw))?$/,
  'SRC:DST[:ro|rw], both absolute paths without ":"',
  (v) => {
    const [src, dst] = v.split(':') as [string, string];
    if (dotSegments(src) || dotSegments(dst)) return 'must not contain "." or ".." path segments';
    if (dst.replace(/\/+$/, '') === '') return 'DST must not be / (the container\'s root)';
    return undefined;
  },
);

/** `UID:GID` for `spec user=`: numeric ids (no user names: the rootfs may have no /etc/passwd), each below 2^32-1. */
export const uidGid = regexRule('user', /^\d{1,10}:\d{1,10}$/, 'UID:GID, two numbers', (v) =>
  v.split(':').some((n) => Number(n) >= 2 ** 32 - 1) ? 'each id must be below 4294967295' : undefined,
);

/** A CPU count for `cpus=`: a decimal number of CPUs (0.5, 2), at most 3 decimals, above 0 and at most 1024. */
export const cpuCount = regexRule('CPU count', /^\d{1,4}(?:\.\d{1,3})?$/, 'a number of CPUs such as 0.5 or 2', (v) =>
  Number(v) <= 0 || Number(v) > 1024 ? 'must be above 0 and at most 1024' : undefined,
);

/** A memory size for `memory=`: a number with an optional binary unit (64M, 1G, 1048576 = bytes). */
export const memorySize = regexRule('memory size', /^\d{1,15}(?:\.\d{1,3})?[KMGT]?(?:i?B)?$/i, 'a size such as 64M or 1G (binary units; a bare number is bytes)');

// ---- registry references (the distribution project's reference grammar, reference/regexp.go:
// domain[:port]/path[:tag] or …@sha256:<64 hex>; a domain is required, so nothing
// silently resolves to docker.io)

/** One host label: letters, digits, inner "-". */
const DOMAIN_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?';
/** A repository path component: lowercase alphanumerics joined by ".", "_", "__" or runs of "-". */
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REGISTRY_REF_RE = new RegExp(
  `^(?:docker://)?(${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*(?::[0-9]{1,5})?)` +
    `/(${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)` +
    `(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?` +
    `(?:@(sha256:[a-f0-9]{64}))?$`,
);

/** A registry reference taken apart: `registry` (host[:port]), `repo` (path), `tag` or `digest` (one of them). */
export interface RegistryRef {
  registry: string;
  repo: string;
  tag?: string;
  digest?: string;
}

/**
 * `[docker://]HOST[:PORT]/REPO[:TAG]` or `[docker://]HOST[:PORT]/REPO@sha256:HEX`, taken
 * apart; undefined when `v` does not follow the grammar. The first component must be a
 * registry host: it has a "." or a ":port", or is `localhost` (as the distribution
 * project decides what is a domain).
 */
export function parseRegistryRef(v: string): RegistryRef | undefined {
  const m = REGISTRY_REF_RE.exec(v);
  if (!m) return undefined;
  const [, registry, repo, tag, digest] = m as unknown as [string, string, string, string | undefined, string | undefined];
  if (!(registry.includes('.') || registry.includes(':') || registry === 'localhost')) return undefined;
  return { registry, repo, tag, digest };
}

/** image_pull / image_push / image_inspect ref=: a registry reference (docker:// transport only). */
export const registryRef = regexRule(
  'registry reference',
  /^(?:docker:\/\/)?[A-Za-z0-9][A-Za-z0-9.:/_@-]{0,400}$/,
  '[docker://]HOST[:PORT]/REPO[:TAG] or [docker://]HOST[:PORT]/REPO@sha256:<64 hex> (lowercase repository path)',
  (v) => {
    const r = parseRegistryRef(v);
    if (!r) return 'must be [docker://]HOST[:PORT]/REPO[:TAG] or …/REPO@sha256:<64 hex>, HOST a registry (with a "." or ":port", or localhost), REPO lowercase';
    if (r.tag && r.digest) return 'give a tag or a digest, not both';
    if (r.repo.length > 255) return 'the repository path must be at most 255 characters';
    const port = /:(\d+)$/.exec(r.registry)?.[1];
    if (port && (Number(port) < 1 || Number(port) > 65535)) return 'the port must be 1-65535';
    return undefined;
  },
);

/**
 * creds=USER:PASS for a registry: USER without ":" (1-255 characters), PASS up to 1024
 * printable characters. Never put on a command line: it goes into a 0600 authfile.
 */
export const registryCreds: NameRule = {
  ...regexRule('registry credentials', /^[^:\s]{1,255}:[^\s]{0,1024}$/, 'USER:PASS (USER without ":" or spaces, PASS without spaces, at most 1024)'),
  secret: true,
};
