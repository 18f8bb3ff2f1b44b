/** The dispatcher (shared/dispatch.ts): call shapes, validation, help, dryrun, never throwing. */
import { describe, expect, it } from 'vitest';
import { createHandler, findVerb, methodsOf } from '../../../shared/dispatch';
import { notFound } from '../../../shared/errors';
import { lxdInstanceName } from '../../../handlers/lxd/names';
import { defineVerb, type HandlerTable } from '../../../shared/verb';
import { table as lxd } from '../../../handlers/lxd';
import { TABLES } from '../../../handlers';

const seen: Array<Record<string, unknown>> = [];

const capture = defineVerb({
  name: 'capture',
  aliases: ['cap'],
  summary: 'record the params it got',
  params: {
    name: { type: 'string', rule: lxdInstanceName, doc: 'a name' },
    count: { type: 'int', default: 1, doc: 'n' },
    force: { type: 'bool', default: false, doc: 'f' },
    env: { type: 'list', doc: 'e' },
    command: { type: 'string', free: true, doc: 'c' },
  },
  positional: ['name', 'command'],
  vars: { NAMES: { stem: 'the name it got' } },
  async run(p) {
    seen.push({ ...p });
    return { result: `got ${p.name ?? ''}`, vars: { NAMES: { 0: 1, 1: p.name } } };
  },
});
const boom = defineVerb({ name: 'boom', summary: 'throws a plain Error', params: {}, vars: {}, async run() { throw new Error('kaboom'); } });
const missing = defineVerb({ name: 'missing', summary: 'throws notFound', params: {}, vars: {}, async run() { throw notFound('no such thing'); } });
const runs = defineVerb({
  name: 'runs',
  summary: 'runs echo, then polls',
  params: {},
  vars: {},
  async run(_p, ctx) {
    const r = await ctx.run(['echo', 'hi']);
    const q = await ctx.run(['echo', 'query'], { readOnly: true });
    ctx.log('a log line');
    const polled = await ctx.poll(async () => 'done', { timeoutMs: 1000, what: 'x' });
    return { result: `${r.stdout}|${q.stdout}|${String(polled.value)}|${await ctx.effect(() => 'real', 'planned')}` };
  },
});
const T: HandlerTable = { target: 'test', summary: 'test table', tools: 'echo', verbs: [capture, boom, missing, runs] };

const last = () => seen[seen.length - 1]!;
const SC = { lineNumber: 3, sourceLine: '"capture"', sourceFilename: 't.rexx', interpreter: {}, interpolation: {} };

describe('call shapes (rexxjs-contract.md)', () => {
  const h = createHandler(T);

  it('(command, variables, sourceContext)', async () => {
    const r = await h('capture name=web count=3 env=A=1 env=B="x y"', { SOME: 'var', params: 'x' }, SC);
    expect(r).toEqual({ success: true, errorCode: 0, errorMessage: '', output: 'got web', rexxVariables: { NAMES: { 0: 1, 1: 'web' }, COMMANDS: { 0: 0 }, ERRORTEXT: '' } });
    expect(last()).toEqual({ name: 'web', count: 3, force: false, env: ['A=1', 'B=x y'] });
  });

  it('just the command string', async () => {
    expect((await h('cap web')).output).toBe('got web');
  });

  it('LET v = verb: (verb, {params: "..."}, sourceContext)', async () => {
    const r = await h('capture', { params: 'name=let count=2' }, SC);
    expect(r.success).toBe(true);
    expect(last()).toMatchObject({ name: 'let', count: 2 });
    expect((await h('capture', { params: '' }, SC)).success).toBe(true);
    expect(last()).toEqual({ count: 1, force: false, env: [] });
  });

  it('a whole command whose script has only a variable named params does not get it appended', async () => {
    const r = await h('capture name=web', { params: 'count=9 force=true' }, SC);
    expect(r.success).toBe(true);
    expect(last()).toEqual({ name: 'web', count: 1, force: false, env: [] });
  });

  it('function call: (name, {named args}) without sourceContext', async () => {
    const r = await h('capture', { name: 'fn', count: 4, force: true, env: ['A=1', 'B=2'] });
    expect(r.success).toBe(true);
    expect(last()).toEqual({ name: 'fn', count: 4, force: true, env: ['A=1', 'B=2'] });
  });

  it('function call with {value: ...} fills the positional slots', async () => {
    expect((await h('capture', { value: 'val' })).output).toBe('got val');
    await h('CAP', { value: 'v1', arg2: 'echo hi' });
    expect(last()).toMatchObject({ name: 'v1', command: 'echo hi' });
  });

  it('function call skips null/undefined args, keys are case-insensitive', async () => {
    await h('capture', { NAME: 'up', count: undefined, force: null });
    expect(last()).toEqual({ name: 'up', count: 1, force: false, env: [] });
  });

  it('function call args are validated like a command', async () => {
    const r = await h('capture', { name: '1bad' });
    expect(r.errorCode).toBe(2);
    expect(r.errorMessage).toMatch(/name="1bad" is not a valid LXD instance name/);
    expect((await h('capture', { name: { x: 1 } })).errorMessage).toMatch(/argument 'name' is an object/);
    expect((await h('capture', { command: 'a\0b' })).errorMessage).toMatch(/NUL/);
  });

  it('the LXD table in every shape: create ... dryrun=true', async () => {
    const l = createHandler(lxd);
    const want = 'lxc init tiny x';
    for (const r of [
      await l('create name=x image=tiny dryrun=true', {}, SC),
      await l('create', { params: 'name=x image=tiny dryrun=true' }, SC),
      await l('create', { name: 'x', image: 'tiny', dryrun: true }),
      await l('init', { value: 'x', arg2: 'tiny', dryrun: 'true' }),
    ]) {
      expect(r.success).toBe(true);
      expect(r.output).toBe(want);
    }
  });
});

describe('errors are returned, never thrown', () => {
  const h = createHandler(T);

  it('unknown verb → RC 2 listing the verbs', async () => {
    const r = await h('frobnicate x=1');
    expect(r.errorCode).toBe(2);
    expect(r.errorMessage).toBe("unknown verb 'frobnicate' for ADDRESS TEST — verbs: capture, boom, missing, runs, help");
    expect(r.rexxVariables.ERRORTEXT).toBe(r.errorMessage);
  });

  it('empty command → RC 2 listing the verbs', async () => {
    for (const c of ['', '   ']) {
      const r = await h(c);
      expect(r.errorCode).toBe(2);
      expect(r.errorMessage).toMatch(/no verb given — verbs: capture/);
    }
  });

  it('unknown key → RC 2 naming verb and key and listing valid keys (incl. dryrun, trace)', async () => {
    const r = await h('capture colour=red');
    expect(r.errorCode).toBe(2);
    expect(r.errorMessage).toBe("capture: unknown key 'colour' — valid keys for capture: name, count, force, env, command, dryrun, trace");
  });

  it('too many bare words → RC 2', async () => {
    const r = await h('capture a "b c" extra');
    expect(r.errorCode).toBe(2);
    expect(r.errorMessage).toMatch(/unexpected word 'extra'/);
  });

  it('unquoted operator → RC 2', async () => {
    expect((await h('capture command=ls; rm -rf /')).errorCode).toBe(2);
  });

  it('a plain Error from a verb → RC 1 internal error', async () => {
    const r = await h('boom');
    expect(r).toEqual({ success: false, errorCode: 1, errorMessage: 'internal error: kaboom', output: '', rexxVariables: { COMMANDS: { 0: 0 }, ERRORTEXT: 'internal error: kaboom' } });
  });

  it('an AddressError from a verb keeps its RC', async () => {
    expect((await h('missing')).errorCode).toBe(3);
  });

  const ODD: Array<[string, unknown[]]> = [
    ['null', [null]],
    ['undefined', [undefined]],
    ['no args', []],
    ['a number', [42]],
    ['an object', [{ verb: 'capture' }]],
    ['an array', [['capture']]],
    ['a function', [() => 'capture']],
    ['a symbol', [Symbol('x')]],
    ['a bigint', [10n]],
    ['numbers everywhere', [1, 2, 3]],
    ['array variables', ['capture', ['a', 'b']]],
    ['string variables', ['capture', 'name=x']],
    ['params not a string', ['capture', { params: 5 }, SC]],
    ['params object', ['capture', { params: { a: 1 } }]],
    ['named arg array of objects', ['capture', { env: [{}] }]],
    ['NUL in command', ['capture\0x']],
    ['sentinel chars', ['capture name=\uE000']],
    ['huge command', [`capture ${'x'.repeat(200_000)}`]],
    ['only operators', ['|&;']],
    ['unterminated quote', ['capture name="abc']],
    ['circular object', ['capture', (() => { const o: Record<string, unknown> = {}; o.self = o; return o; })()]],
  ];

  it.each(ODD)('%s: resolves to a result object', async (_l, args) => {
    const r = await (h as (...a: unknown[]) => Promise<unknown>)(...args);
    expect(r).toMatchObject({ success: expect.any(Boolean), errorCode: expect.any(Number), errorMessage: expect.any(String) });
    expect((r as { rexxVariables: Record<string, unknown> }).rexxVariables).toHaveProperty('ERRORTEXT');
  });

  it('a non-string command is RC 2', async () => {
    for (const c of [null, 42, {}, []]) expect((await h(c)).errorCode).toBe(2);
  });
});

describe('help', () => {
  const h = createHandler(T);
  it('help lists every verb, help itself, dryrun/trace and the RC table', async () => {
    const r = await h('help');
    expect(r.success).toBe(true);
    for (const v of ['capture', 'boom', 'missing', 'runs', 'help']) expect(r.output).toMatch(new RegExp(`^  ${v}\\s`, 'm'));
    expect(r.output).toContain('(also cap)');
    expect(r.output).toContain('dryrun=true and trace=true');
    expect(r.output).toMatch(/^ {2}7 {2}refused/m);
  });
  it('help VERB (or alias, any case, or verb=) describes it', async () => {
    for (const c of ['help capture', 'HELP CAP', 'help verb=capture']) {
      const r = await h(c);
      expect(r.output).toMatch(/^capture \[name=…\] \[count=…\]/);
      expect(r.output).toContain('aliases: cap');
      expect(r.output).toContain('bare words fill: name, command');
      expect(r.output).toContain('dryrun=bool (default false)');
    }
  });
  it('help of an unknown verb → RC 2', async () => {
    const r = await h('help nope');
    expect(r.errorCode).toBe(2);
    expect(r.errorMessage).toMatch(/help: unknown verb 'nope' — verbs: capture/);
  });
  it('LXD help lists every verb of the table', async () => {
    const r = await createHandler(lxd)('help');
    for (const v of lxd.verbs) expect(r.output).toContain(`  ${v.name} `);
  });
});

describe('positional words and bare booleans', () => {
  const h = createHandler(T);
  it('bare words fill positional slots in order; key=value wins its slot', async () => {
    await h('capture web "echo hi"');
    expect(last()).toMatchObject({ name: 'web', command: 'echo hi' });
    await h('capture "echo hi" name=web');
    expect(last()).toMatchObject({ name: 'web', command: 'echo hi' });
  });
  it('a bare word naming a bool param sets it true (any case)', async () => {
    await h('capture web FORCE');
    expect(last()).toMatchObject({ name: 'web', force: true });
  });
  it('delete web force (LXD, dryrun) → lxc delete web --force', async () => {
    const r = await createHandler(lxd)('delete web force dryrun');
    expect(r.output).toBe('lxc delete web --force');
  });
});

describe('dryrun and trace', () => {
  it('LXD create dryrun returns the exact argv lines and the COMMANDS stem', async () => {
    const r = await createHandler(lxd)(
      'create name=x image=tiny profile=default profile=rexx-net storage=fast memory=256MiB cpus=2 config=user.a="b c" type=virtual-machine dryrun=true',
    );
    const line = "lxc init tiny x --profile default --profile rexx-net --storage fast --config limits.memory=256MiB --config limits.cpu=2 --config 'user.a=b c' --vm";
    expect(r.success).toBe(true);
    expect(r.output).toBe(line);
    expect(r.rexxVariables).toEqual({ COMMANDS: { 0: 1, 1: line }, ERRORTEXT: '' });
  });

  it('dryrun skips mutating runs, still runs readOnly ones, and the poller returns at once', async () => {
    const h = createHandler(T, { env: process.env });
    const r = await h('runs dryrun=true');
    expect(r.output).toBe('echo hi');
    expect(r.rexxVariables.COMMANDS).toEqual({ 0: 1, 1: 'echo hi' });
    const real = await h('runs');
    expect(real.output).toBe('hi|query|done|real');
  });

  it('trace=true sends each argv with its ms and the log lines to the sink', async () => {
    const lines: string[] = [];
    const h = createHandler(T, { traceSink: (l) => lines.push(l) });
    await h('runs trace=true');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\+ \d+(\.\d+)?ms echo hi$/);
    expect(lines[1]).toMatch(/^\+ \d+(\.\d+)?ms echo query$/);
    expect(lines[2]).toBe('a log line');
  });

  it('env REXX_ADDRESS_TRACE=1 turns trace on; without it nothing is traced', async () => {
    const lines: string[] = [];
    await createHandler(T, { env: { ...process.env, REXX_ADDRESS_TRACE: '1' }, traceSink: (l) => lines.push(l) })('runs');
    expect(lines).toHaveLength(3);
    const none: string[] = [];
    await createHandler(T, { env: { ...process.env, REXX_ADDRESS_TRACE: '0' }, traceSink: (l) => none.push(l) })('runs');
    expect(none).toEqual([]);
  });
});

describe('METHODS and findVerb', () => {
  it('METHODS has every verb, alias and help with params', () => {
    const m = methodsOf(T);
    expect(Object.keys(m)).toEqual(['capture', 'cap', 'boom', 'missing', 'runs', 'help']);
    expect(m.cap).toEqual({ description: 'record the params it got', params: ['name', 'count', 'force', 'env', 'command'] });
  });
  it('findVerb is case-insensitive and knows aliases', () => {
    expect(findVerb(T, 'CAP')?.name).toBe('capture');
    expect(findVerb(lxd, 'Clone')?.name).toBe('copy');
    expect(findVerb(lxd, 'state')?.name).toBe('info');
    expect(findVerb(T, 'nope')).toBeUndefined();
  });
});

describe('keys and values named like Object.prototype members (no prototype lookups)', () => {
  const PROTO = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'];
  const h = createHandler(T);

  it.each(PROTO)('key %s is an unknown key (RC 2) in both call shapes, on every verb of every handler', async (key) => {
    for (const table of Object.values(TABLES)) {
      const th = createHandler(table, { env: { PATH: '/nonexistent' } });
      for (const v of table.verbs) {
        const r1 = await th(`${v.name} ${key}=1`);
        const usage = v.exitStatus ? -2 : 2; // an exec verb answers "never ran" with the negative code
        expect(r1.errorCode, `${table.target} ${v.name} ${key}=1: ${r1.errorMessage}`).toBe(usage);
        expect(r1.errorMessage).toContain(`unknown key '${key.toLowerCase()}'`);
        const r2 = await th(v.name, JSON.parse(`{${JSON.stringify(key)}: "1"}`));
        expect(r2.errorCode, `${table.target} ${v.name}(${key}): ${r2.errorMessage}`).toBe(usage);
      }
    }
  });

  it.each(PROTO)('value %s arrives as plain data', async (value) => {
    const r = await h(`capture command=${value} env=${value}=${value}`);
    expect(r.errorCode).toBe(0);
    expect(last().command).toBe(value);
    expect(last().env).toEqual([`${value}=${value}`]);
    expect(Object.getPrototypeOf(last())).toBe(Object.prototype);
  });
});

describe('declared variables: every call sets them all, so none is stale', () => {
  const info = defineVerb({
    name: 'info',
    summary: 'one thing',
    params: { name: { type: 'string', required: true, rule: lxdInstanceName, doc: 'n' } },
    positional: ['name'],
    vars: { STATUS: 'status', PID: 'pid', ITEMS: { stem: 'items' } },
    async run(p) {
      if (p.name === 'missing') throw notFound('instance missing not found');
      if (p.name === 'partial') return { result: 'x', vars: { STATUS: 'Stopped' } };
      return { result: 'Running', vars: { STATUS: 'Running', PID: 42, ITEMS: { 0: 1, 1: 'a' } } };
    },
  });
  const runx = defineVerb({
    name: 'exec',
    summary: 'an exec verb',
    params: { name: { type: 'string', required: true, rule: lxdInstanceName, doc: 'n' }, code: { type: 'int', default: 0, doc: 'c' } },
    positional: ['name'],
    vars: { EXIT_CODE: 'code', STDERR: 'err' },
    exitStatus: true,
    async run(p) {
      if (p.name === 'missing') throw notFound('instance missing not found');
      return p.code ? { rc: p.code, errorText: 'boom', vars: { EXIT_CODE: p.code, STDERR: 'boom' } } : { vars: { EXIT_CODE: 0, STDERR: '' } };
    },
  });
  const sloppy = defineVerb({ name: 'sloppy', summary: 'sets an undeclared variable', params: {}, vars: {}, async run() { return { vars: { SURPRISE: 1 } }; } });
  const t: HandlerTable = { target: 'vt', summary: 's', tools: 't', verbs: [info, runx, sloppy] };
  const h = createHandler(t, { env: { REXX_ADDRESS_STRICT_VARS: '1' } });

  it('success, then a failure, then the variables read back: the failure cleared them', async () => {
    const ok = await h('info name=web');
    expect(ok.rexxVariables).toMatchObject({ STATUS: 'Running', PID: 42, ITEMS: { 0: 1, 1: 'a' }, ERRORTEXT: '' });
    const bad = await h('info name=missing');
    expect(bad.errorCode).toBe(3);
    expect(bad.rexxVariables).toEqual({ STATUS: '', PID: '', ITEMS: { 0: 0 }, COMMANDS: { 0: 0 }, ERRORTEXT: 'instance missing not found' });
  });

  it('a usage error (bad key) clears them too, and a shorter answer blanks the rest', async () => {
    expect((await h('info name=web bogus=1')).rexxVariables).toMatchObject({ STATUS: '', PID: '', ITEMS: { 0: 0 } });
    expect((await h('info name=partial')).rexxVariables).toMatchObject({ STATUS: 'Stopped', PID: '', ITEMS: { 0: 0 } });
  });

  it('an exec verb: RC is the command exit status; a command that never ran is negative and EXIT_CODE is empty', async () => {
    expect((await h('exec web code=3')).errorCode).toBe(3);
    expect((await h('exec web code=3')).rexxVariables).toMatchObject({ EXIT_CODE: 3, STDERR: 'boom' });
    const never = await h('exec missing');
    expect(never.errorCode).toBe(-3);
    expect(never.rexxVariables).toMatchObject({ EXIT_CODE: '', STDERR: '' });
    expect((await h('exec web code=x')).errorCode).toBe(-2);
    expect((await h('exec web ; reboot')).errorCode).toBe(-2);
  });

  it('strict mode: a variable the verb did not declare is an internal error (RC 1)', async () => {
    const r = await h('sloppy');
    expect(r.errorCode).toBe(1);
    expect(r.errorMessage).toContain('undeclared variables SURPRISE');
    const lax = createHandler(t, { env: {} });
    expect((await lax('sloppy')).rexxVariables).toMatchObject({ SURPRISE: 1 });
  });

  it('every verb of every handler declares its variables, with docs', () => {
    for (const table of Object.values(TABLES)) {
      for (const v of table.verbs) {
        expect(v.vars, `${table.target} ${v.name}`).toBeDefined();
        for (const [k, d] of Object.entries(v.vars)) {
          expect(k, `${table.target} ${v.name}`).toMatch(/^[A-Z][A-Z0-9_]*$/);
          expect(typeof d === 'string' ? d : d.stem, `${table.target} ${v.name} ${k}`).not.toBe('');
        }
      }
    }
  });
});
