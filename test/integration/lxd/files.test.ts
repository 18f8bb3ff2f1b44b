/**
 * Directory trees in and out of an instance on the real LXD daemon: file_push and
 * file_pull with recursive=true (modes kept both ways, file owners and symlinks kept on
 * the way in), and file_delete of a file, of a non-empty directory (RC 7 without
 * recursive=true) and of a tree, on a running and a stopped instance.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { table } from '../../../handlers/lxd';
import { createHandler } from '../../../shared/dispatch';
import { cleanupInstances, requireLxd, uniq, okWith } from './lxd-test-env';

const h = createHandler(table);
const NAME = uniq('files');
let tmp: string;

const ok = okWith(h);

beforeAll(async () => {
  await requireLxd();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-files-'));
  await ok(`create name=${NAME} image=tiny`);
  await ok(`start name=${NAME}`);
});
afterAll(async () => {
  await cleanupInstances([NAME]);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

it('file_push recursive=true copies a tree in with modes, owners and symlinks; file_pull recursive=true brings it back with modes', async () => {
  const site = path.join(tmp, 'site');
  fs.mkdirSync(path.join(site, 'cgi'), { recursive: true });
  fs.writeFileSync(path.join(site, 'index.html'), '<h1>hi</h1>\n');
  fs.writeFileSync(path.join(site, 'cgi', 'run.sh'), '#!/bin/sh\necho ran\n');
  fs.chmodSync(path.join(site, 'cgi', 'run.sh'), 0o750);
  fs.chmodSync(path.join(site, 'cgi'), 0o710);
  fs.chownSync(path.join(site, 'index.html'), 33, 33);
  fs.symlinkSync('index.html', path.join(site, 'home.html'));
  await ok(`exec name=${NAME} command="mkdir -p /srv"`);
  const r = await ok(`file_push name=${NAME} source=${site} recursive=true path=/srv`);
  expect(r.output).toBe('/srv/site');
  const ls = await ok(`exec name=${NAME} command="stat -c '%n %a %u' /srv/site/index.html /srv/site/cgi /srv/site/cgi/run.sh; readlink /srv/site/home.html; /srv/site/cgi/run.sh"`);
  expect(ls.output.split('\n')).toEqual(['/srv/site/index.html 644 33', '/srv/site/cgi 710 0', '/srv/site/cgi/run.sh 750 0', 'index.html', 'ran']);

  const back = path.join(tmp, 'back');
  fs.mkdirSync(back);
  const p = await ok(`file_pull name=${NAME} path=/srv/site recursive=true destination=${back}`);
  expect(p.output).toBe(path.join(back, 'site'));
  expect(fs.readFileSync(path.join(back, 'site', 'index.html'), 'utf8')).toBe('<h1>hi</h1>\n');
  expect(fs.statSync(path.join(back, 'site', 'cgi', 'run.sh')).mode & 0o777).toBe(0o750);
  expect(fs.statSync(path.join(back, 'site', 'cgi')).mode & 0o777).toBe(0o710);
});

it('recursive=true with a single file\'s options, or without source= / destination=, is RC 2 and nothing runs', async () => {
  expect((await h(`file_push name=${NAME} source=${tmp} recursive=true path=/srv mode=0644`)).errorCode).toBe(2);
  expect((await h(`file_push name=${NAME} content=x recursive=true path=/srv`)).errorCode).toBe(2);
  expect((await h(`file_pull name=${NAME} path=/srv recursive=true`)).errorCode).toBe(2);
});

it('file_delete: a file; a non-empty directory is RC 7 without recursive=true; a tree with recursive=true, on a stopped instance too; a missing path RC 3; / is RC 7', async () => {
  await ok(`exec name=${NAME} command="mkdir -p /work/a/b/c && echo 1 > /work/a/f && echo 2 > /work/a/b/c/g && ln -s f /work/a/l && echo 3 > /work/top"`);
  await ok(`file_delete name=${NAME} path=/work/top`);
  const busy = await h(`file_delete name=${NAME} path=/work/a`);
  expect(busy.errorCode).toBe(7);
  expect((await ok(`exec name=${NAME} command="test -e /work/a/b/c/g && echo still"`)).output).toBe('still');
  // stopped: through the file API
  await ok(`stop name=${NAME} force=true`);
  await ok(`file_delete name=${NAME} path=/work/a recursive=true`);
  await ok(`start name=${NAME}`);
  expect((await ok(`exec name=${NAME} command="ls -A /work"`)).output).toBe('');
  // running: rm -rf in the instance
  await ok(`exec name=${NAME} command="mkdir -p /work/x/y && echo 5 > /work/x/y/z"`);
  await ok(`file_delete name=${NAME} path=/work/x recursive=true`);
  expect((await ok(`exec name=${NAME} command="ls -A /work"`)).output).toBe('');
  expect((await h(`file_delete name=${NAME} path=/work/a`)).errorCode).toBe(3);
  expect((await h(`file_delete name=${NAME} path=/work/a recursive=true`)).errorCode).toBe(3);
  expect((await h(`file_delete name=${NAME} path=/ recursive=true`)).errorCode).toBe(7);
});
