/**
 * LXD images on the real daemon: publish an instance (stopped; running only with
 * force=true), a snapshot, and a registered base, then create an instance from the
 * published base image and find the base's file in it; image_list, image_alias
 * create/rename/delete, image_import of a tarball `lxc image export` wrote, image_delete,
 * and the RCs: 3 (missing image, alias, file), 4 (an alias taken, an image already there), 7
 * (running); publish moves a taken alias to the new image, as `lxc publish` does. (Publishing the same instance twice makes two images: the metadata carries
 * the second it was made in.)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { table } from '../../../handlers/lxd';
import { createHandler } from '../../../shared/dispatch';
import { cleanupInstances, requireLxd, uniq } from './lxd-test-env';

const h = createHandler(table);
const SRC = uniq('img-src');
const BASE = uniq('img-base');
const FROM = uniq('img-from');
const made = [SRC, BASE, FROM];
const aliases: string[] = [];
const alias = (what: string) => {
  const a = `${uniq(what)}-img`;
  aliases.push(a);
  return a;
};
let tmp: string;

/** Images this file made (their aliases move, so they are kept by fingerprint too). */
const fps = new Set<string>();
async function ok(cmd: string) {
  const r = await h(cmd);
  expect(r.errorCode, `${cmd}: ${r.errorMessage}`).toBe(0);
  if (typeof r.rexxVariables.FINGERPRINT === 'string' && r.rexxVariables.FINGERPRINT) fps.add(r.rexxVariables.FINGERPRINT);
  return r;
}
const vals = (s: unknown) => Object.values((s ?? { 0: 0 }) as object).slice(1);

beforeAll(async () => {
  await requireLxd();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-lxd-img-'));
  await ok(`create name=${SRC} image=tiny`);
});

afterAll(async () => {
  await cleanupInstances(made);
  const list = await execa('lxc', ['image', 'list', '--format', 'json'], { reject: false });
  for (const i of JSON.parse(list.stdout || '[]') as Array<{ fingerprint: string; aliases: Array<{ name: string }> }>) {
    if (fps.has(i.fingerprint) || i.aliases.some((a) => aliases.includes(a.name))) await execa('lxc', ['image', 'delete', i.fingerprint], { reject: false });
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('ADDRESS LXD images (real daemon)', () => {
  it('publish a stopped instance: FINGERPRINT and ALIAS; image_list shows it; a running one is RC 7 unless force=true; a taken alias moves to the new image', async () => {
    const a = alias('pub');
    const r = await ok(`publish name=${SRC} alias=${a} property=description=rexx-test-image`);
    expect(r.rexxVariables.FINGERPRINT).toMatch(/^[0-9a-f]{64}$/);
    expect(r.rexxVariables.ALIAS).toBe(a);
    const l = await ok('image_list');
    const i = vals(l.rexxVariables.ALIASES).indexOf(a);
    expect(i).toBeGreaterThanOrEqual(0);
    expect(vals(l.rexxVariables.FINGERPRINTS)[i]).toBe(r.rexxVariables.FINGERPRINT);
    expect(vals(l.rexxVariables.DESCRIPTIONS)[i]).toBe('rexx-test-image');
    expect(vals(l.rexxVariables.TYPES)[i]).toBe('container');
    expect(Number(vals(l.rexxVariables.SIZES)[i])).toBeGreaterThan(1000);
    // A taken alias moves to the new image (LXD's own way: republishing updates it); the old image stays, without it.
    const moved = await ok(`publish name=${SRC} alias=${a}`);
    expect(moved.rexxVariables.FINGERPRINT).not.toBe(r.rexxVariables.FINGERPRINT);
    const after = await ok('image_list');
    expect(vals(after.rexxVariables.FINGERPRINTS)[vals(after.rexxVariables.ALIASES).indexOf(a)]).toBe(moved.rexxVariables.FINGERPRINT);
    expect(vals(after.rexxVariables.ALIASES)[vals(after.rexxVariables.FINGERPRINTS).indexOf(r.rexxVariables.FINGERPRINT)]).toBe('');
    await ok(`start name=${SRC}`);
    await ok(`exec name=${SRC} command="echo running > /root/state"`);
    const running = await h(`publish name=${SRC} alias=${alias('run')}`);
    expect(running.errorCode).toBe(7);
    expect(running.errorMessage).toMatch(/--force/);
    const forced = await ok(`publish name=${SRC} alias=${alias('forced')} force=true`);
    expect(forced.rexxVariables.FINGERPRINT).not.toBe(r.rexxVariables.FINGERPRINT);
    expect((await ok(`info name=${SRC}`)).rexxVariables.STATUS).toBe('Running'); // LXD started it again
  });

  it('publish base=: the base snapshot becomes an image, and an instance created from it has the base\'s files', async () => {
    await ok(`create name=${BASE} image=tiny`);
    await ok(`file_push name=${BASE} path=/root/golden content=from-the-base`);
    await ok(`register_base name=${BASE}`);
    const a = alias('base');
    const p = await ok(`publish base=${BASE} alias=${a}`);
    expect(p.rexxVariables.ALIAS).toBe(a);
    await ok(`create name=${FROM} image=${a}`);
    await ok(`start name=${FROM}`);
    expect((await ok(`exec name=${FROM} command="cat /root/golden"`)).output).toBe('from-the-base');
    expect((await h(`publish base=${SRC} alias=${alias('nobase')}`)).errorCode).toBe(3); // not a registered base
    expect((await h(`publish name=${SRC} base=${BASE}`)).errorCode).toBe(2);
  });

  it('image_alias create / rename / delete, image_delete, with RC 3 and RC 4', async () => {
    const a = alias('al');
    const fp = (await ok(`publish name=${SRC} snapshot=${(await ok(`snapshot name=${SRC}`)).output} alias=${a} property=description=from-a-snapshot`)).rexxVariables.FINGERPRINT as string;
    const b = alias('al-b');
    const c = alias('al-c');
    await ok(`image_alias alias=${b} image=${fp.slice(0, 12)}`);
    expect((await h(`image_alias alias=${b} image=${fp}`)).errorCode).toBe(4);
    await ok(`image_alias alias=${b} action=rename new_alias=${c}`);
    expect((await h(`image_alias alias=${b} action=delete`)).errorCode).toBe(3);
    await ok(`image_alias alias=${c} action=delete`);
    expect((await h(`image_alias alias=${c} image=${'0'.repeat(64)}`)).errorCode).toBe(3);
    expect((await h(`image_alias alias=${c}`)).errorCode).toBe(2); // create needs image=
    await ok(`image_delete image=${a}`);
    expect((await h(`image_delete image=${a}`)).errorCode).toBe(3);
  });

  it('image_import of an exported tarball: FINGERPRINT equal to the source\'s; the same again RC 4; a missing file RC 3, nothing run', async () => {
    const a = alias('exp');
    const fp = (await ok(`publish name=${FROM} alias=${a} force=true`)).rexxVariables.FINGERPRINT as string;
    await execa('lxc', ['image', 'export', a, `${tmp}/exp`]);
    expect((await h(`image_import file=${tmp}/exp.tar.gz alias=${alias('imp0')}`)).errorCode).toBe(4); // same fingerprint
    await ok(`image_delete image=${a}`);
    const b = alias('imp');
    const r = await ok(`image_import file=${tmp}/exp.tar.gz alias=${b}`);
    expect(r.rexxVariables.FINGERPRINT).toBe(fp);
    expect(r.rexxVariables.ALIAS).toBe(b);
    const missing = await h(`image_import file=${tmp}/nope.tar.gz`);
    expect(missing.errorCode).toBe(3);
    expect(missing.errorMessage).toMatch(/not a file/);
  });
});
