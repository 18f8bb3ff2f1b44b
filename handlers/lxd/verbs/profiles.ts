/**
 * Profiles: `POST /1.0/profiles` (profile_create), `lxc profile set` and `lxc profile
 * device add` (profile_set), `lxc profile delete`, `GET /1.0/profiles?recursion=1`
 * (profile_list). A profile's config and devices reach every instance that uses it, so
 * they pass the same checks as an instance's own: config keys through config-policy.ts
 * (config_set's rule), devices through devices.ts (device_add's rule).
 */
import { usageError } from '../../../shared/errors';
import { stem } from '../../../shared/result';
import { defineVerb } from '../../../shared/verb';
import { checkConfigPairs, configPairsOf } from '../config-policy';
import { DEVICE_PARAMS, DEVICE_TYPES, deviceArgs, lxdDeviceName } from '../devices';
import { LXC_IN_USE_ERRORS } from '../errors';
import { configKey, configPair, configValue, lxdObjectName } from '../names';
import { REMOTE } from '../params';
import { lxc, query, ref } from '../tool';

const PROFILE = {
  name: { type: 'string', required: true, rule: lxdObjectName, doc: 'profile name' },
} as const;

/** The fields of GET /1.0/profiles?recursion=1 that profile_list reads. */
interface Profile {
  name: string;
  description: string;
  config: Record<string, string>;
  devices: Record<string, Record<string, string>>;
  used_by: string[] | null;
}

export const profileCreate = defineVerb({
  name: 'profile_create',
  summary: 'create a profile with its config keys in one request (POST /1.0/profiles: all of it or nothing); unsafe keys are RC 7 as with config_set, an existing profile RC 4',
  params: {
    ...PROFILE,
    config: { type: 'list', rule: configPair, doc: 'KEY=VALUE (repeat for several), as config_set takes them' },
    description: { type: 'string', rule: configValue, doc: 'the profile\'s description' },
    ...REMOTE,
  },
  positional: ['name'],
  examples: ['profile_create name=small config=limits.memory=256MiB config=limits.cpu=1'],
  vars: {},
  async run(p, ctx) {
    checkConfigPairs(ctx, 'profile_create', p.config);
    const config = Object.fromEntries(p.config.map((c) => [c.slice(0, c.indexOf('=')), c.slice(c.indexOf('=') + 1)]));
    const body = JSON.stringify({ name: p.name, description: p.description ?? '', config, devices: {} });
    await lxc(ctx, ['query', '-X', 'POST', ref(p.remote, '/1.0/profiles'), '-d', body]);
    return { result: p.name };
  },
});

export const profileSet = defineVerb({
  name: 'profile_set',
  summary: 'set config keys of a profile (lxc profile set; an empty value unsets) and/or add a device to it (lxc profile device add), with config_set\'s and device_add\'s checks: unsafe keys and host-handing devices are RC 7',
  params: {
    ...PROFILE,
    config: { type: 'list', rule: configPair, doc: 'KEY=VALUE (repeat for several; an empty VALUE removes the key)' },
    key: { type: 'string', rule: configKey, doc: 'one key to set (with value=)' },
    value: { type: 'string', rule: configValue, doc: 'the value of key= (empty removes it)' },
    device: { type: 'string', rule: lxdDeviceName, doc: 'a device to add to the profile (with type= and that type\'s keys, as device_add)' },
    type: { type: 'enum', values: DEVICE_TYPES, doc: 'the type of device=' },
    ...DEVICE_PARAMS,
    ...REMOTE,
  },
  positional: ['name', 'key', 'value'],
  examples: ['profile_set name=small config=limits.memory=512MiB', 'profile_set name=small device=data type=disk pool=default source=webdata path=/srv/data'],
  vars: {},
  async run(p, ctx) {
    const { name, config, key, value, device, type, remote, ...deviceKeys } = p;
    if ((device === undefined) !== (type === undefined)) throw usageError('profile_set: device= and type= go together');
    // Every check before anything runs: a refused device never leaves the config half set.
    const pairs = configPairsOf(ctx, 'profile_set', { config, key, value });
    if (!pairs.length && device === undefined) throw usageError('profile_set: give config=KEY=VALUE, key= and value=, or device= and type=');
    const devArgs = device !== undefined ? deviceArgs(ctx, type!, deviceKeys, 'profile_set') : [];
    if (device === undefined && Object.values(deviceKeys).some((v) => v !== undefined)) throw usageError('profile_set: device keys go with device= and type=');
    if (pairs.length) await lxc(ctx, ['profile', 'set', ref(remote, name), ...pairs]);
    if (device !== undefined) await lxc(ctx, ['profile', 'device', 'add', ref(remote, name), device, type!, ...devArgs], { timeoutMs: 120_000 });
    return { result: [...pairs.map((v) => v.slice(0, v.indexOf('='))), ...(device !== undefined ? [device] : [])].join(' ') };
  },
});

export const profileDelete = defineVerb({
  name: 'profile_delete',
  summary: 'delete a profile (lxc profile delete); RC 7 while an instance uses it, and for the default profile (LXD refuses both), RC 3 when there is none',
  params: { ...PROFILE, ...REMOTE },
  positional: ['name'],
  examples: ['profile_delete name=small'],
  vars: {},
  async run(p, ctx) {
    await lxc(ctx, ['profile', 'delete', ref(p.remote, p.name)], { errors: LXC_IN_USE_ERRORS });
    return { result: p.name };
  },
});

export const profileList = defineVerb({
  name: 'profile_list',
  summary: 'list the profiles (one GET /1.0/profiles?recursion=1): stems PROFILES and USED_BY (how many instances use each)',
  params: { ...REMOTE },
  vars: { PROFILES: { stem: 'profile names, sorted' }, USED_BY: { stem: 'how many instances (and snapshots) use each, in the same order' } },
  async run(p, ctx) {
    const all = (await query<Profile[]>(ctx, p.remote, '/1.0/profiles?recursion=1')).sort((a, b) => a.name.localeCompare(b.name));
    const used = all.map((x) => x.used_by?.length ?? 0);
    return {
      result: all.map((x, i) => `${x.name} ${used[i]}`).join('\n'),
      vars: { PROFILES: stem(all.map((x) => x.name)), USED_BY: stem(used) },
    };
  },
});
