/**
 * Does KVM really work here? /dev/kvm existing is not enough: on a host whose KVM is
 * itself emulated, guests stop with "KVM internal error. Suberror: 1". The probe boots
 * a 182-byte multiboot kernel (32-bit entry, builds page tables, enters long mode,
 * writes 0x31 to an `isa-debug-exit` port so QEMU exits with code 99) under
 * `-accel kvm`. KVM counts as working only when that exit code comes back within
 * {@link PROBE_DEADLINE_MS}: a real KVM does it in ~0.1 s, TCG in ~0.06 s, the broken
 * emulated KVM of the dev host in ~2.7 s before Linux guests then fail.
 *
 * The verdict is cached per handler instance (ctx.cache) and in `<state>/kvm-probe.json` (24 h, keyed by
 * the qemu-system binary's mtime) so a second process does not probe again. That file
 * is a cache, not state: one that fails its schema is probed again and replaced, since
 * nothing in it cannot be measured again.
 */
import * as path from 'node:path';
import { unavailable } from '../../shared/errors';
import { lazySchema, type Infer } from '../../shared/schema';
import { CorruptStateError } from '../../shared/state-file';
import type { Ctx } from '../../shared/verb';
import { stateDir } from './state';

export const QEMU_SYSTEM = 'qemu-system-x86_64';
/** The probe must exit within this many ms for KVM to count as working. */
export const PROBE_DEADLINE_MS = 1500;
const CACHE_MS = 24 * 3600_000;
const PROBE_EXIT = 99; // (0x31 << 1) | 1, isa-debug-exit's encoding

/** The multiboot long-mode probe kernel (source in the handler README). */
const PROBE_B64 =
  'ArCtGwAAAQD+T1HkAAAQAAAAEAAAAAAAAAAAACAAEAC/ABAQADHAuQAMAADzq8cFABAQAAMgEADHBQAgEAADMBAAvwAwEAC4gwAAALkAAgAAiQcFAAAgAIPHCOL0uAAQEAAPItgPIOCDyCAPIuC5gAAAwA8yDQABAAAPMA8gwA0AAACADyLADwEVsAAQAOqVABAACABmuvQAsDHu9Ov9kAAAAAAAAAAAAAAAAACaIAAPAKAAEAA=';

/** The probe's verdict (also the schema of kvm-probe.json). */
const KvmVerdictSchema = lazySchema((z) => z.object({
  kvm: z.boolean(),
  /** Why (shown in ERRORTEXT and `status`). */
  reason: z.string(),
  /** How long the probe took in ms (0 when it did not run). */
  ms: z.number(),
  /** Epoch ms. */
  checkedAt: z.number(),
  /** The qemu-system binary's mtime (epoch ms) when it was probed. */
  binaryMtime: z.number(),
}));
export type KvmVerdict = Infer<typeof KvmVerdictSchema>;

/** The cached verdict, or undefined when there is none or it is corrupt (a cache: probe again). */
function readCache(ctx: Ctx, file: string): KvmVerdict | undefined {
  try {
    return ctx.state.read(file, KvmVerdictSchema());
  } catch (e) {
    if (e instanceof CorruptStateError) return undefined;
    throw e;
  }
}

/** The ctx.cache key of the verdict for state folder `dir`. */
const memoKey = (dir: string) => `qemu:kvm-verdict:${dir}`;

/** The argv of the probe run (exported for tests). */
export function probeArgv(kernel: string): string[] {
  return [QEMU_SYSTEM, '-accel', 'kvm', '-machine', 'pc', '-m', '16', '-display', 'none', '-nodefaults', '-no-reboot',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-kernel', kernel];
}

function binaryMtime(ctx: Ctx): number {
  for (const dir of (ctx.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const st = dir ? ctx.fs.stat(path.join(dir, QEMU_SYSTEM)) : undefined;
    if (st) return st.mtimeMs;
  }
  return 0;
}

/**
 * Probe KVM (or reuse the cached verdict). Runs even under dryrun: it changes nothing
 * but the cache files, which under dryrun are not written (so a dryrun on a state
 * folder that never held the probe kernel cannot probe, and says so: KVM counts as
 * unusable for that call).
 */
export async function kvmVerdict(ctx: Ctx): Promise<KvmVerdict> {
  const dir = stateDir(ctx);
  const mtime = binaryMtime(ctx);
  const fresh = (v: KvmVerdict | undefined) => v && v.binaryMtime === mtime && ctx.clock.now() - v.checkedAt < CACHE_MS;
  const m = ctx.cache.get(memoKey(dir)) as KvmVerdict | undefined;
  if (fresh(m)) return m!;
  const file = path.join(dir, 'kvm-probe.json');
  const cached = readCache(ctx, file);
  if (fresh(cached)) {
    ctx.cache.set(memoKey(dir), cached!);
    return cached!;
  }
  const v = await probe(ctx, dir, mtime);
  if (v === undefined) return { checkedAt: ctx.clock.now(), binaryMtime: mtime, kvm: false, reason: 'not probed: dryrun=true writes no probe kernel, and none is in the state folder yet', ms: 0 };
  ctx.cache.set(memoKey(dir), v);
  try {
    ctx.state.write(file, v);
  } catch {
    /* a read-only state dir only loses the cache */
  }
  return v;
}

/** The probe's verdict; undefined when there is no probe kernel to boot (dryrun on a fresh state folder). */
async function probe(ctx: Ctx, dir: string, mtime: number): Promise<KvmVerdict | undefined> {
  const base = { checkedAt: ctx.clock.now(), binaryMtime: mtime };
  if (!ctx.fs.exists('/dev/kvm')) return { ...base, kvm: false, reason: '/dev/kvm does not exist', ms: 0 };
  const kernel = path.join(dir, 'kvm-probe.bin');
  const bytes = Buffer.from(PROBE_B64, 'base64');
  if (!ctx.fs.readHead(kernel, bytes.length + 1)?.equals(bytes)) ctx.fs.writeText(kernel, bytes);
  if (!ctx.fs.exists(kernel)) return undefined;
  const r = await ctx.run(probeArgv(kernel), { readOnly: true, timeoutMs: PROBE_DEADLINE_MS });
  if (r.missing) return { ...base, kvm: false, reason: `${QEMU_SYSTEM} is not installed`, ms: 0 };
  if (r.exitCode === PROBE_EXIT) return { ...base, kvm: true, reason: `probe guest ran under KVM in ${Math.round(r.durationMs)} ms`, ms: r.durationMs };
  const why = r.timedOut
    ? `the KVM probe guest did not finish within ${PROBE_DEADLINE_MS} ms (TCG runs it in ~60 ms): /dev/kvm is unusable here`
    : `the KVM probe guest failed (exit ${r.exitCode ?? r.signal}): ${(r.stderr || '').split('\n').filter((l) => !/warning/.test(l)).join(' ').trim() || 'no message'}`;
  return { ...base, kvm: false, reason: why, ms: r.durationMs };
}

/**
 * The accelerator to use for `wanted`: tcg as asked; kvm only if the probe passed
 * (else RC 6 naming the reason); auto = kvm when it works, else tcg.
 */
export async function chooseAccel(ctx: Ctx, wanted: 'auto' | 'kvm' | 'tcg'): Promise<{ accel: 'kvm' | 'tcg'; why: string }> {
  if (wanted === 'tcg') return { accel: 'tcg', why: 'accel=tcg asked for' };
  const v = await kvmVerdict(ctx);
  if (v.kvm) return { accel: 'kvm', why: v.reason };
  if (wanted === 'kvm') throw unavailable(`accel=kvm: KVM does not work on this host (${v.reason}); use accel=tcg or accel=auto`);
  return { accel: 'tcg', why: `KVM not usable (${v.reason}); using TCG` };
}
