/**
 * Changing an instance in place, running or not: its config (`lxc config set`, read
 * through `GET /1.0/instances/NAME`), freeze and unfreeze (`PUT …/state`), rename
 * (`lxc move OLD NEW`), and hot-plugged devices (`lxc config device add|remove`).
 */
import { isReason, refused, usageError } from '../../../shared/errors';
import { stem } from '../../../shared/result';
import { defineVerb } from '../../../shared/verb';
import { clientConfigKey, resolveClient } from '../client';
import { checkConfigPairs, configPairsOf } from '../config-policy';
import { DEVICE_PARAMS, DEVICE_TYPES, deviceArgs, lxdDeviceName } from '../devices';
import { LXC_FREEZE_ERRORS, LXC_RENAME_ERRORS } from '../errors';
import { configKey, configPair, configValue, lxdInstanceName } from '../names';
import { NAME, REMOTE } from '../params';
import { isBase } from '../registry';
import { lxc, ref, requireInstance } from '../tool';

export const configSet = defineVerb({
  name: 'config_set',
  summary: 'set config keys of an instance, running or not (lxc config set; limits.* apply at once); unsafe keys are RC 7, the handler\'s own user.rexx.* RC 2',
  params: {
    ...NAME,
    config: { type: 'list', rule: configPair, doc: 'KEY=VALUE (repeat for several; all set in one call)' },
    key: { type: 'string', rule: configKey, doc: 'one key to set (with value=), as lxc config set NAME KEY VALUE' },
    value: { type: 'string', rule: configValue, doc: 'the value of key= (free text; an empty value unsets it)' },
    ...REMOTE,
  },
  positional: ['name', 'key', 'value'],
  examples: ['config_set name=web config=limits.memory=512MiB config=user.role=web', 'config_set web limits.cpu 2'],
  vars: {},
  async run(p, ctx) {
    const pairs = configPairsOf(ctx, 'config_set', p);
    if (!pairs.length) throw usageError('config_set: give config=KEY=VALUE, or key= and value=');
    await lxc(ctx, ['config', 'set', ref(p.remote, p.name), ...pairs]);
    return { result: pairs.map((v) => v.slice(0, v.indexOf('='))).join(' ') };
  },
});

export const configGet = defineVerb({
  name: 'config_get',
  summary: 'read an instance\'s config: one key into RESULT and VALUE (empty when unset), or every key into KEYS. and VALUES. (one GET /1.0/instances/NAME)',
  params: {
    ...NAME,
    key: { type: 'string', rule: configKey, doc: 'the key to read (default: all of them)' },
    expanded: { type: 'bool', default: false, doc: 'with what its profiles set too (expanded_config)' },
    ...REMOTE,
  },
  positional: ['name', 'key'],
  examples: ['config_get name=web key=limits.memory', 'config_get name=web expanded=true'],
  vars: { VALUE: 'the value of key= (empty when it is not set)', KEYS: { stem: 'every key set, sorted (without key=)' }, VALUES: { stem: 'their values, in the same order' } },
  async run(p, ctx) {
    const inst = await requireInstance(ctx, p.remote, p.name);
    const config = (p.expanded ? inst.expanded_config : inst.config) ?? {};
    if (p.key !== undefined) {
      // A key LXD and Incus name otherwise (security.devlxd / security.guestapi) is read under the client's name.
      const v = config[clientConfigKey(resolveClient(ctx).spec, p.key)] ?? '';
      return { result: v, vars: { VALUE: v } };
    }
    const keys = Object.keys(config).sort();
    return { result: keys.map((k) => `${k}=${config[k]}`).join('\n'), vars: { KEYS: stem(keys), VALUES: stem(keys.map((k) => config[k])) } };
  },
});

export const configUnset = defineVerb({
  name: 'config_unset',
  summary: 'remove config keys of an instance (one lxc config set KEY= call: LXD removes a key set to empty); a key that is not set is fine',
  params: {
    ...NAME,
    key: { type: 'list', required: true, rule: configKey, doc: 'the key to remove (repeat for several)' },
    ...REMOTE,
  },
  positional: ['name', 'key'],
  examples: ['config_unset name=web key=limits.memory'],
  vars: {},
  async run(p, ctx) {
    const pairs = p.key.map((k) => `${k}=`);
    checkConfigPairs(ctx, 'config_unset', pairs);
    await lxc(ctx, ['config', 'set', ref(p.remote, p.name), ...pairs]);
    return { result: p.key.join(' ') };
  },
});

/**
 * freeze or unfreeze: PUT /1.0/instances/NAME/state with the action, waiting for the
 * operation; RC 0 when the instance is in that state already (LXC_FREEZE_ERRORS).
 */
const frozenVerb = (action: 'freeze' | 'unfreeze', alias: string, status: 'Frozen' | 'Running', summary: string) =>
  defineVerb({
    name: action,
    aliases: [alias],
    summary,
    params: { ...NAME, ...REMOTE },
    positional: ['name'],
    vars: { STATUS: status },
    async run(p, ctx) {
      const path = `/1.0/instances/${encodeURIComponent(p.name)}/state`;
      try {
        await lxc(ctx, ['query', '--wait', '-X', 'PUT', ref(p.remote, path), '-d', JSON.stringify({ action, timeout: -1 })], { errors: LXC_FREEZE_ERRORS });
      } catch (e) {
        if (!isReason(e, 'already')) throw e;
      }
      return { result: status, vars: { STATUS: status } };
    },
  });

export const freeze = frozenVerb('freeze', 'pause', 'Frozen', 'freeze a running instance: every process stops where it is (cgroup freezer; lxc pause); already frozen is RC 0, a stopped one RC 7');

export const unfreeze = frozenVerb('unfreeze', 'resume', 'Running', 'let a frozen instance run on (PUT …/state unfreeze: unlike lxc start, it never starts a stopped one, which is RC 7); already running is RC 0');

export const rename = defineVerb({
  name: 'rename',
  summary: 'rename a stopped instance (lxc move OLD NEW) with its snapshots; a running one is RC 7, a registered base RC 7 (its clones name it), a taken name RC 4',
  params: { ...NAME, new_name: { type: 'string', required: true, rule: lxdInstanceName, doc: 'the new name' }, ...REMOTE },
  positional: ['name', 'new_name'],
  examples: ['rename name=web new_name=web-old'],
  vars: {},
  async run(p, ctx) {
    const inst = await requireInstance(ctx, p.remote, p.name);
    if (isBase(inst)) throw refused(`${p.name} is a registered base and its clones record it by name; unregister_base first`);
    if (inst.status !== 'Stopped') throw refused(`${p.name} is ${inst.status}; LXD renames only a stopped instance: stop it first`);
    await lxc(ctx, ['move', ref(p.remote, p.name), ref(p.remote, p.new_name)], { errors: LXC_RENAME_ERRORS, timeoutMs: 120_000 });
    return { result: p.new_name };
  },
});

export const deviceAdd = defineVerb({
  name: 'device_add',
  summary: 'add a device to an instance, hot-plugged when it runs (lxc config device add): disk, proxy (port forward), nic or unix-char, with that type\'s keys; host-handing ones are RC 7 unless allowed',
  params: {
    ...NAME,
    device: { type: 'string', required: true, rule: lxdDeviceName, doc: 'the device name (unique in the instance; RC 4 when taken)' },
    type: { type: 'enum', required: true, values: DEVICE_TYPES, doc: 'the device type' },
    ...DEVICE_PARAMS,
    ...REMOTE,
  },
  positional: ['name', 'device', 'type'],
  examples: [
    'device_add name=web device=http type=proxy listen=tcp:127.0.0.1:8080 connect=tcp:127.0.0.1:80',
    'device_add name=web device=eth1 type=nic network=rexxbr0 nic_name=eth1',
    'device_add name=web device=data type=disk pool=default source=webdata path=/srv/data',
  ],
  vars: {},
  async run(p, ctx) {
    const { name: _n, device, type, remote, ...keys } = p;
    const args = deviceArgs(ctx, type, keys);
    await lxc(ctx, ['config', 'device', 'add', ref(remote, p.name), device, type, ...args], { timeoutMs: 120_000 });
    return { result: device };
  },
});

export const deviceRemove = defineVerb({
  name: 'device_remove',
  summary: 'remove a device the instance itself has, hot-unplugged when it runs (lxc config device remove); RC 3 when it has none of that name (a profile\'s device is removed from the profile)',
  params: { ...NAME, device: { type: 'string', required: true, rule: lxdDeviceName, doc: 'the device name' }, ...REMOTE },
  positional: ['name', 'device'],
  examples: ['device_remove name=web device=http'],
  vars: {},
  async run(p, ctx) {
    await lxc(ctx, ['config', 'device', 'remove', ref(p.remote, p.name), p.device], { timeoutMs: 120_000 });
    return { result: p.device };
  },
});
