/**
 * Issue 15 item 1 for ADDRESS LXCRI, on the real runc: a script that may only run
 * containers must not get the host. The path this closes: `exec` writes a config.json
 * into the container's rootfs (a host directory), then `run bundle=` points at it. Its
 * prestart hook would run on the host as root — and does, when the handler's
 * environment allows unsafe settings, which shows the threat is real. Without that, RC 7
 * and nothing runs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { table } from '../../../handlers/lxcri';
import { createHandler, type AddressHandler } from '../../../shared/dispatch';
import { busyboxContainer, removeBusyboxContainer } from '../../helpers/lxcri-env';
import { RUN_ID } from '../../helpers/run-id';

const ID = `lxsec${RUN_ID}`;
let tmp: string;
let h: AddressHandler;
/** A handler whose environment allows unsafe settings (REXX_LXCRI_ALLOW_UNSAFE=1). */
let trusted: AddressHandler;

beforeAll(async () => {
  const c = await busyboxContainer('rexx-lxcri-sec-', ID, '1000');
  ({ tmp, h } = c);
  trusted = createHandler(table, { env: { ...c.env, REXX_LXCRI_ALLOW_UNSAFE: '1' } });
});

afterAll(() => removeBusyboxContainer(tmp));

/** Write `text` to `file` inside the container, through exec (stdin), as a script would. */
async function writeInContainer(file: string, text: string) {
  expect((await h(`exec ${ID} arg=mkdir arg=-p arg=${path.posix.dirname(file)} runtime=runc`)).errorCode).toBe(0);
  const r = await h(`exec ${ID} arg=sh arg=-c arg="cat > ${file}" input='${text}' runtime=runc`);
  expect(r.errorCode, r.errorMessage).toBe(0);
}

describe('a bundle a script wrote cannot hand it the host', () => {
  it('config.json with a prestart hook, written from inside a container: run is RC 7 and the hook never runs', async () => {
    const marker = `${tmp}/hook-ran`;
    const spec = JSON.parse(fs.readFileSync(`${tmp}/b/config.json`, 'utf8')) as Record<string, unknown>;
    spec.hooks = { prestart: [{ path: '/bin/touch', args: ['touch', marker] }] };
    await writeInContainer('/tmp/evil/config.json', JSON.stringify(spec));
    expect((await h(`exec ${ID} arg=mkdir arg=/tmp/evil/rootfs runtime=runc`)).errorCode).toBe(0);
    const evil = `${tmp}/b/rootfs/tmp/evil`;
    const r = await h(`run ${ID}-evil ${evil} runtime=runc`);
    expect(r.errorCode, r.errorMessage).toBe(7);
    expect(r.errorMessage).toMatch(/hooks\.prestart\[0\] runs \/bin\/touch on the host/);
    expect(r.errorMessage).toMatch(new RegExp(`inside the rootfs of bundle ${tmp}/b`));
    expect(r.errorMessage).toMatch(/REXX_LXCRI_ALLOW_UNSAFE=1/);
    expect(fs.existsSync(marker)).toBe(false);
    expect((await h(`state ${ID}-evil runtime=runc`)).errorCode).toBe(3);
    // create is the same path; nothing was made either.
    expect((await h(`create ${ID}-evil ${evil} runtime=runc`)).errorCode).toBe(7);
    expect(fs.existsSync(marker)).toBe(false);
    // The threat is real: a handler whose environment allows it runs the hook as root on the host.
    await trusted(`run ${ID}-evil ${evil} runtime=runc`);
    expect(fs.existsSync(marker)).toBe(true);
    await trusted(`delete ${ID}-evil force=true runtime=runc`);
  });

  it('a rootfs that is a symlink to the host\'s / is RC 7', async () => {
    const spec = fs.readFileSync(`${tmp}/b/config.json`, 'utf8');
    await writeInContainer('/tmp/root/config.json', spec);
    expect((await h(`exec ${ID} arg=busybox arg=ln arg=-s arg=/ arg=/tmp/root/rootfs runtime=runc`)).errorCode).toBe(0);
    const r = await h(`run ${ID}-root ${tmp}/b/rootfs/tmp/root runtime=runc`);
    expect(r.errorCode, r.errorMessage).toBe(7);
    expect(r.errorMessage).toMatch(/its rootfs rootfs is \/, outside the bundle directory/);
  });

  it('spec force=true does not replace a config.json that is not an OCI config', async () => {
    fs.mkdirSync(`${tmp}/app`);
    fs.writeFileSync(`${tmp}/app/config.json`, '{"auths": {}}\n');
    const r = await h(`spec bundle=${tmp}/app force=true runtime=runc`);
    expect(r.errorCode, r.errorMessage).toBe(7);
    expect(fs.readFileSync(`${tmp}/app/config.json`, 'utf8')).toBe('{"auths": {}}\n');
    expect((await trusted(`spec bundle=${tmp}/app force=true runtime=runc`)).errorCode).toBe(0);
  });
});
