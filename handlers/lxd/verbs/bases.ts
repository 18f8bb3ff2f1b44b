/**
 * The base verbs: register_base, clone_from_base, list_bases, unregister_base. They
 * validate their parameters and call the registry (../registry.ts), which keeps the
 * bases in LXD itself.
 */
import { usageError } from '../../../shared/errors';
import { BASES_VARS, basesOutput, CLONE_PARAMS, CLONE_VARS, cloneAll, cloneNames, DESCRIPTION_PARAM } from '../../../shared/bases';
import { EXEC_VARS, GUEST_COMMAND_PARAMS, guestArgv } from '../../../shared/guest-exec';
import { defineVerb } from '../../../shared/verb';
import { checkConfigPairs } from '../config-policy';
import { configPair, cpuValue, lxdImageRef, lxdInstanceName, lxdObjectName, memoryValue } from '../names';
import { NAME, REMOTE, timeout, WAIT } from '../params';
import { BASE_SNAPSHOT, cloneFromBase as cloneOne, listBases as registered, registerBase as register, unregisterBase as unregister } from '../registry';

export const registerBase = defineVerb({
  name: 'register_base',
  summary: 'make an instance a base: optionally create it from image= and run prepare= once, stop it, take the fixed snapshot clones start from; all or nothing',
  params: {
    ...NAME,
    image: { type: 'string', rule: lxdImageRef, doc: 'create the instance from this image first (RC 4 when it exists: leave image= out to register it as it is)' },
    memory: { type: 'string', rule: memoryValue, doc: 'with image=: limits.memory, e.g. 256MiB' },
    cpus: { type: 'string', rule: cpuValue, doc: 'with image=: limits.cpu: a count or a CPU set' },
    storage: { type: 'string', rule: lxdObjectName, doc: 'with image=: storage pool for the root disk' },
    profile: { type: 'list', rule: lxdObjectName, doc: 'with image=: profile to apply (repeat; default: the default profile)' },
    config: { type: 'list', rule: configPair, doc: 'with image=: config KEY=VALUE (repeat)' },
    prepare: { ...GUEST_COMMAND_PARAMS.command, doc: "command line run once in the started instance before the snapshot, by its /bin/sh -c (its changes are undone if a later step fails)" },
    ...DESCRIPTION_PARAM,
    refresh: { type: 'bool', default: false, doc: 're-take the snapshot of an already registered base (also repairs a base whose snapshot was deleted outside the handler)' },
    ...timeout(120_000, 'how long start, prepare and stop may take'),
    ...REMOTE,
  },
  positional: ['name'],
  examples: ['register_base name=web image=tiny prepare="echo ready > /etc/motd"', 'register_base name=web refresh=true'],
  vars: { BASE: 'the base name', SNAPSHOT: 'the fixed snapshot clones come from', CREATED: 'registration time (ISO 8601)', ...EXEC_VARS },
  async run(p, ctx) {
    if (!p.image && (p.memory || p.cpus || p.storage || p.profile.length || p.config.length)) {
      throw usageError('register_base: memory=, cpus=, storage=, profile= and config= apply only when image= creates the instance');
    }
    checkConfigPairs(ctx, 'register_base', p.config);
    const prepare = p.prepare === undefined ? undefined : guestArgv('register_base', { command: p.prepare, arg: [], shell: 'always' });
    const { created } = await register(ctx, {
      remote: p.remote, name: p.name, image: p.image, init: p, prepare, description: p.description, refresh: p.refresh, timeoutMs: p.timeout,
    });
    return { result: p.name, vars: { BASE: p.name, SNAPSHOT: BASE_SNAPSHOT, CREATED: created } };
  },
});

export const cloneFromBase = defineVerb({
  name: 'clone_from_base',
  long: true,
  summary: 'copy-on-write clone(s) of a registered base: count=N makes NAME-1..NAME-N in parallel; start=true starts them',
  params: {
    ...NAME,
    ...CLONE_PARAMS,
    base: { ...CLONE_PARAMS.base, rule: lxdInstanceName },
    start: { type: 'bool', default: false, doc: 'start each clone (and wait as wait= says)' },
    ...WAIT,
    profile: { type: 'list', rule: lxdObjectName, doc: 'profile for the clones (repeat; default: the base\'s profiles)' },
    config: { type: 'list', rule: configPair, doc: 'config KEY=VALUE for the clones (repeat)' },
    storage: { type: 'string', rule: lxdObjectName, doc: 'storage pool (default: the base\'s pool, where the copy is copy-on-write)' },
    target: { type: 'string', rule: lxdObjectName, doc: 'cluster member every clone goes to (lxc --target; default: the cluster places each, spreading them over the members)' },
    ...timeout(120_000, 'how long each clone (and its start) may take'),
    ...REMOTE,
  },
  positional: ['base', 'name'],
  examples: ['clone_from_base base=web name=web-1', 'clone_from_base base=web name=web count=3 start=true'],
  vars: CLONE_VARS,
  async run(p, ctx) {
    checkConfigPairs(ctx, 'clone_from_base', p.config);
    const names = cloneNames(p.name, p.count, lxdInstanceName);
    const o = { remote: p.remote, base: p.base, profile: p.profile, config: p.config, storage: p.storage, target: p.target, start: p.start, wait: p.wait, timeoutMs: p.timeout };
    return cloneAll(ctx, names, p.concurrency, (name) => cloneOne(ctx, o, name));
  },
});

export const listBases = defineVerb({
  name: 'list_bases',
  summary: 'list registered bases: stem BASES, BASE_SNAPSHOTS; RESULT "name snapshot created" per line',
  params: { ...REMOTE },
  vars: BASES_VARS,
  async run(p, ctx) {
    return basesOutput(await registered(ctx, p.remote));
  },
});

export const unregisterBase = defineVerb({
  name: 'unregister_base',
  summary: 'stop treating an instance as a base: remove its keys and its fixed snapshot (existing clones are independent copies and stay)',
  params: { ...NAME, ...REMOTE },
  positional: ['name'],
  vars: {},
  async run(p, ctx) {
    await unregister(ctx, p.remote, p.name);
    return { result: p.name };
  },
});
