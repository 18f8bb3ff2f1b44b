/**
 * cloud_init: give a VM a cloud-init NoCloud seed. `cloud-localds` (Debian package
 * cloud-image-utils) builds an ISO 9660 image labelled "cidata" holding user-data,
 * meta-data and network-config (cloud-init docs, "NoCloud" datasource); the VM's
 * definition records it and every start attaches it as a read-only IDE CD drive
 * (vm.ts qemuArgv). `start wait=cloud-init` then waits until cloud-init is done.
 */
import * as path from 'node:path';
import { AddressError, classify, notFound, refused, unavailable, usageError } from '../../../shared/errors';
import { defineVerb, type Ctx } from '../../../shared/verb';
import { QEMU_ERRORS } from '../errors';
import { NAME } from '../params';
import { liveness, loadVm, vmPaths, VmDefSchema, withVmLock } from '../state';

/** The most a user_data=, meta_data= or network_config= value (or the file it names) may hold, in bytes. */
export const SEED_MAX_BYTES = 1024 * 1024;

/** A value that is a single line starting with "/" names a host file; anything else is the text itself. */
export const isFileRef = (v: string) => v.startsWith('/') && !v.includes('\n');

/** The text of a FILE|TEXT parameter: the file's content (RC 3 when missing, RC 2 when not a regular file or too big), or the value itself. */
export function seedText(ctx: Pick<Ctx, 'fs'>, param: string, v: string): string {
  if (!isFileRef(v)) return v;
  if (v.split('/').some((s) => s === '..' || s === '.')) throw usageError(`cloud_init: ${param}=${v}: a file path must not contain "." or ".." segments`);
  const st = ctx.fs.stat(v);
  if (!st) throw notFound(`cloud_init: ${param}=${v} not found`);
  if (!st.isFile()) throw usageError(`cloud_init: ${param}=${v} is not a regular file`);
  if (st.size > SEED_MAX_BYTES) throw usageError(`cloud_init: ${param}=${v} is ${st.size} bytes; at most ${SEED_MAX_BYTES}`);
  return (ctx.fs.readHead(v, st.size) ?? Buffer.alloc(0)).toString('utf8');
}

/** cloud-localds's argv for a seed made of the files in `dir` (pure; the unit tests check it). */
export function cloudLocaldsArgv(out: string, dir: string, withNetwork: boolean): string[] {
  const a = ['cloud-localds'];
  if (withNetwork) a.push(`--network-config=${path.join(dir, 'network-config')}`);
  a.push('--', out, path.join(dir, 'user-data'), path.join(dir, 'meta-data'));
  return a;
}

const FILE_OR_TEXT = "a host file (an absolute path on one line) or the text itself";

export const cloudInit = defineVerb({
  name: 'cloud_init',
  summary: 'give a stopped VM a cloud-init NoCloud seed ISO (cloud-localds, label cidata) built from user_data=, meta_data= and network_config=; attached as a CD drive at every start (start wait=cloud-init waits until it is applied)',
  params: {
    ...NAME,
    user_data: { type: 'string', required: true, free: true, maxBytes: SEED_MAX_BYTES, doc: `user-data (e.g. "#cloud-config" YAML): ${FILE_OR_TEXT}` },
    meta_data: { type: 'string', free: true, maxBytes: SEED_MAX_BYTES, doc: `meta-data: ${FILE_OR_TEXT}; default "instance-id: NAME-EPOCHMS" and "local-hostname: NAME" (a new instance-id makes cloud-init run again)` },
    network_config: { type: 'string', free: true, maxBytes: SEED_MAX_BYTES, doc: `network-config (cloud-init network config v1/v2 YAML): ${FILE_OR_TEXT}` },
  },
  positional: ['name'],
  examples: ['cloud_init name=vm1 user_data=/srv/vm1/user-data.yaml', 'cloud_init name=vm1 user_data="#cloud-config\nhostname: web1\n"'],
  vars: { SEED: 'the seed ISO (vms/NAME/seed.iso)', INSTANCE_ID: "the seed's instance-id ('' when meta_data= gave its own)" },
  async run(p, ctx) {
    const userData = seedText(ctx, 'user_data', p.user_data);
    const given = p.meta_data === undefined ? undefined : seedText(ctx, 'meta_data', p.meta_data);
    const network = p.network_config === undefined ? undefined : seedText(ctx, 'network_config', p.network_config);
    for (const [k, v] of [['user_data', userData], ['meta_data', given], ['network_config', network]] as const) {
      if (v !== undefined && Buffer.byteLength(v) > SEED_MAX_BYTES) throw usageError(`cloud_init: ${k} is longer than ${SEED_MAX_BYTES} bytes`);
    }
    return withVmLock(ctx, p.name, async () => {
      const paths = vmPaths(ctx, p.name);
      loadVm(ctx, p.name);
      if (liveness(ctx, p.name).kind === 'running') throw refused(`cloud_init: VM ${p.name} is running; stop it first (the seed is attached at start)`);
      const instanceId = given === undefined ? `${p.name}-${ctx.clock.now()}` : '';
      const metaData = given ?? `instance-id: ${instanceId}\nlocal-hostname: ${p.name}\n`;
      const dir = path.join(paths.dir, 'cloud-init');
      ctx.fs.mkdir(dir);
      ctx.fs.writeText(path.join(dir, 'user-data'), userData, { atomic: true });
      ctx.fs.writeText(path.join(dir, 'meta-data'), metaData, { atomic: true });
      if (network !== undefined) ctx.fs.writeText(path.join(dir, 'network-config'), network, { atomic: true });
      else ctx.fs.remove(path.join(dir, 'network-config'));
      const seed = path.join(paths.dir, 'seed.iso');
      const tmp = `${seed}.tmp`;
      const r = await ctx.run(cloudLocaldsArgv(tmp, dir, network !== undefined), { timeoutMs: 60_000 });
      if (r.missing) throw unavailable('cloud_init: cloud-localds is not installed (Debian package cloud-image-utils; scripts/setup-host.sh installs it)');
      if (!r.ok) {
        ctx.fs.remove(tmp);
        const e = classify(r, QEMU_ERRORS);
        throw new AddressError(e.kind, `cloud_init: cloud-localds failed: ${e.message}`, { cause: r, reason: e.reason });
      }
      ctx.fs.rename(tmp, seed);
      await ctx.state.update(paths.def, VmDefSchema(), (cur) => (cur ? { ...cur, seed } : cur));
      return { result: seed, vars: { SEED: seed, INSTANCE_ID: instanceId } };
    });
  },
});
