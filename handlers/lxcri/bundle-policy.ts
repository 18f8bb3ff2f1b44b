/**
 * What a bundle may ask of the runtime before the handler starts it. A bundle's
 * config.json is runtime-spec (https://github.com/opencontainers/runtime-spec/blob/main/config.md),
 * and the runtime does what it says as root on the host: hooks run host commands, bind
 * mounts and devices hand host files and disks in, capabilities and shared namespaces
 * undo the isolation, an unmasked /proc/sys lets the container set the host's
 * core_pattern. A script's author can write such a file: `exec` writes into a
 * container's rootfs, which is a host directory, and `bundle=` may point there.
 *
 * So before create/run/restore/clone start=true the bundle is checked, and anything
 * beyond what `runc spec` and `umoci unpack` write by default is refused with RC 7
 * unless the handler's environment allows unsafe settings (shared/policy.ts,
 * `REXX_LXCRI_ALLOW_UNSAFE=1`). Also refused: a rootfs outside its bundle directory
 * (e.g. a symlink to /), and a bundle the check can't trust to stay as checked — inside
 * another bundle's rootfs (a process in that container could rewrite config.json
 * between this check and the runtime reading it) or writable by anyone but root.
 */
import * as path from 'node:path';
import type { Files } from '../../shared/effects';
import { toolFailed } from '../../shared/errors';
import { requireUnsafeAllowed } from '../../shared/policy';
import type { Ctx } from '../../shared/verb';
import { configFile, readJson } from './bundle-config';

/** Docker's default capability set (moby oci/caps/defaults.go): none of them reaches past the namespaces. */
const SAFE_CAPS = new Set([
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
]);
/** Namespaces a container must have of its own (what runc spec and umoci write). */
const OWN_NAMESPACES = ['pid', 'mount', 'ipc', 'uts', 'network'];
/** Kernel-made filesystems a container may mount; a bind mount or a disk is a host path. */
const SAFE_MOUNT_TYPES = new Set(['proc', 'tmpfs', 'devpts', 'mqueue', 'sysfs', 'cgroup', 'cgroup2']);
/** These must be mounted read-only (a writable /sys reaches the host's kernel settings). */
const READ_ONLY_MOUNT_TYPES = new Set(['sysfs', 'cgroup', 'cgroup2']);
/** Paths both `runc spec` and `umoci unpack` mask or make read-only: each must stay so. */
const HIDDEN_PATHS = [
  '/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/kcore', '/proc/latency_stats', '/proc/sched_debug',
  '/proc/scsi', '/proc/sys', '/proc/sysrq-trigger', '/proc/timer_list', '/proc/timer_stats', '/sys/firmware',
];
/** Annotations runtimes don't act on (umoci writes these); others may be settings (org.criu.config, run.oci.*). */
const SAFE_ANNOTATION = /^org\.opencontainers\.image\./;

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * Every setting in a runtime-spec config that goes beyond the defaults above, one
 * phrase each ('' list = safe). Pure: reads only the object.
 */
export function unsafeSettings(config: unknown): string[] {
  const c = obj(config);
  const out: string[] = [];
  for (const [kind, hooks] of Object.entries(obj(c.hooks))) {
    arr(hooks).forEach((h, i) => out.push(`hooks.${kind}[${i}] runs ${String(obj(h).path)} on the host`));
  }
  arr(c.mounts).forEach((m0, i) => {
    const m = obj(m0);
    const opts = arr(m.options).map(String);
    const type = typeof m.type === 'string' ? m.type : '';
    const where = `mounts[${i}] (${type || 'no type'} ${String(m.source)} on ${String(m.destination)})`;
    if (opts.includes('bind') || opts.includes('rbind') || type === 'bind') out.push(`${where} bind-mounts a host path`);
    else if (!SAFE_MOUNT_TYPES.has(type)) out.push(`${where} mounts something other than a kernel filesystem`);
    else if (READ_ONLY_MOUNT_TYPES.has(type) && !opts.includes('ro')) out.push(`${where} is writable`);
  });
  const caps = obj(obj(c.process).capabilities);
  for (const [set, list] of Object.entries(caps)) {
    const extra = arr(list).map(String).filter((x) => !SAFE_CAPS.has(x.toUpperCase()));
    if (extra.length) out.push(`process.capabilities.${set} adds ${extra.join(', ')}`);
  }
  const linux = obj(c.linux);
  const ns = arr(linux.namespaces).map(obj);
  for (const t of OWN_NAMESPACES) if (!ns.some((n) => n.type === t)) out.push(`linux.namespaces has no ${t} namespace: it shares the host's`);
  for (const n of ns) if (typeof n.path === 'string' && n.path) out.push(`linux.namespaces joins the ${String(n.type)} namespace at ${n.path}`);
  if (arr(linux.devices).length) out.push(`linux.devices creates device nodes (${arr(linux.devices).map((d) => String(obj(d).path)).join(', ')})`);
  if (arr(obj(linux.resources).devices).some((d) => obj(d).allow === true)) out.push('linux.resources.devices allows access to host devices');
  const hidden = new Set([...arr(linux.maskedPaths), ...arr(linux.readonlyPaths)].map(String));
  const shown = HIDDEN_PATHS.filter((p) => !hidden.has(p));
  if (shown.length) out.push(`linux.maskedPaths/readonlyPaths leave ${shown.join(', ')} open`);
  if (typeof linux.cgroupsPath === 'string' && linux.cgroupsPath) out.push(`linux.cgroupsPath places it in the host cgroup ${linux.cgroupsPath}`);
  const notes = Object.keys(obj(c.annotations)).filter((k) => !SAFE_ANNOTATION.test(k));
  if (notes.length) out.push(`annotations ${notes.join(', ')} may be runtime settings`);
  return out;
}

/** True when `p` is `dir` or below it (both real paths). */
const within = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

/**
 * Where the bundle is, as opposed to what it says: its rootfs must resolve inside it,
 * and nobody but root may be able to change config.json after the check (not inside
 * another bundle's rootfs, not writable by group or others, owned by root). Reads the
 * host through `files` (ctx.fs).
 */
export function unsafePlacement(files: Files, bundle: string, config: unknown): string[] {
  const out: string[] = [];
  const real = files.realpath(bundle);
  const rootPath = String(obj(obj(config).root).path ?? 'rootfs');
  let rootfs = '';
  try {
    rootfs = files.realpath(path.resolve(real, rootPath));
  } catch {
    /* missing: the runtime will say so */
  }
  if (rootfs && (rootfs === real || !within(rootfs, real))) out.push(`its rootfs ${rootPath} is ${rootfs}, outside the bundle directory`);
  for (let d = path.dirname(real); ; d = path.dirname(d)) {
    const cfg = configFile(d);
    if (files.exists(cfg)) {
      // Unreadable: assume the default rootfs.
      const other = path.resolve(d, String(obj(obj(readJson({ fs: files }, cfg)).root).path ?? 'rootfs'));
      if (within(real, other)) out.push(`it lies inside the rootfs of bundle ${d}, where that container can rewrite it`);
    }
    if (d === '/') break;
  }
  const cfg = configFile(real);
  if (files.lstat(cfg)?.isSymbolicLink()) out.push(`${cfg} is a symlink (to ${files.realpath(cfg)})`);
  for (const f of [real, cfg]) {
    const st = files.stat(f);
    if (!st) throw toolFailed(`${f} disappeared while the bundle was checked`);
    if (st.uid !== 0 || (st.mode & 0o022) !== 0) out.push(`${f} (owner uid ${st.uid}, mode ${(st.mode & 0o777).toString(8)}) can be changed by others than root`);
  }
  return out;
}

/**
 * Check a bundle before the runtime is asked to start it: RC 7 (shared/policy.ts) naming
 * every unsafe setting unless `REXX_LXCRI_ALLOW_UNSAFE=1` is in the handler's
 * environment. A bundle without a readable config.json is left to the runtime to refuse.
 */
export function checkBundle(ctx: Ctx, bundle: string): void {
  const config = readJson(ctx, configFile(bundle));
  if (config === undefined) return;
  const found = [...unsafeSettings(config), ...unsafePlacement(ctx.fs, bundle, config)];
  if (found.length) requireUnsafeAllowed(ctx, `bundle ${bundle}`, `${found.join('; ')} — any of these can hand the host to whoever wrote config.json`);
}
