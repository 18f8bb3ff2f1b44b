/**
 * The RexxJS shims dist/address-*.js, loaded the way RexxJS loads them
 * (../shared/rexxjs-contract.md): a pre-pass running the text with no module/exports/
 * require, then the text as CommonJS with a real require. `npm test` builds first.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TABLES } from '../../../handlers';

const DIST = path.join(__dirname, '..', '..', '..', 'dist');
const shims = fs.existsSync(DIST) ? fs.readdirSync(DIST).filter((f) => /^address-[a-z0-9]+\.js$/.test(f)).sort() : [];

/** Everything printed while `fn` runs (stdout, stderr, console). */
function captureOutput<T>(fn: () => T): { value: T; printed: string[] } {
  const printed: string[] = [];
  const grab = (...a: unknown[]) => {
    printed.push(a.map(String).join(' '));
    return true;
  };
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation(grab as never),
    vi.spyOn(process.stderr, 'write').mockImplementation(grab as never),
    ...(['log', 'info', 'warn', 'error', 'debug'] as const).map((m) => vi.spyOn(console, m).mockImplementation(grab)),
  ];
  try {
    return { value: fn(), printed };
  } finally {
    spies.forEach((s) => s.mockRestore());
  }
}

afterEach(() => vi.restoreAllMocks());

it('dist/ has a shim for every target (run npm run build first)', () => {
  expect(fs.existsSync(DIST), `${DIST} is missing: run npm run build (npm test does) before the unit tests`).toBe(true);
  expect(shims, 'dist/address-*.js missing or stale: run npm run build').toEqual(Object.keys(TABLES).map((t) => `address-${t}.js`).sort());
});

describe.each(Object.keys(TABLES))('dist/address-%s.js', (target) => {
  const T = target.toUpperCase();
  const file = path.join(DIST, `address-${target}.js`);
  const code = () => {
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: run npm run build`);
    return fs.readFileSync(file, 'utf8');
  };

  function loadCommonJs() {
    const text = code();
    const mod: { exports: Record<string, unknown> } = { exports: {} };
    const run = () =>
      new Function('require', 'module', 'exports', '__filename', '__dirname', text)(createRequire(file), mod, mod.exports, file, path.dirname(file));
    const { printed } = captureOutput(run);
    return { exports: mod.exports, printed };
  }

  it('has the @rexxjs-meta marker naming a global', () => {
    const m = /@rexxjs-meta=([A-Z_][A-Z0-9_]*)/.exec(code());
    expect(m?.[1]).toBe(`ADDRESS_${T}_META`);
  });

  it('the pre-pass (no module, exports or require) neither throws nor prints', () => {
    const text = code();
    // parameters shadow any module/exports/require the test runner may have in scope
    const { printed } = captureOutput(() => new Function('module', 'exports', 'require', text)(undefined, undefined, undefined));
    expect(printed).toEqual([]);
    // and run exactly as written, with only globals in scope
    expect(captureOutput(() => new Function(text)()).printed).toEqual([]);
  });

  it('as CommonJS it exports META, HANDLER and METHODS and prints nothing', () => {
    const { exports, printed } = loadCommonJs();
    expect(printed).toEqual([]);
    expect(Object.keys(exports).sort()).toEqual([`ADDRESS_${T}_HANDLER`, `ADDRESS_${T}_META`, `ADDRESS_${T}_METHODS`]);
    expect(typeof exports[`ADDRESS_${T}_HANDLER`]).toBe('function');
    expect(typeof exports[`ADDRESS_${T}_META`]).toBe('function');
  });

  it('META says address-target for this target, interpolation by the interpreter, no dependencies', () => {
    const meta = (loadCommonJs().exports[`ADDRESS_${T}_META`] as () => Record<string, unknown>)();
    expect(meta.type).toBe('address-target');
    expect(meta.provides).toEqual({ addressTarget: target });
    expect(meta.interpreterHandlesInterpolation).toBe(true);
    expect(Array.isArray(meta.dependencies)).toBe(true);
    expect(meta.dependencies).toEqual([]);
    expect(meta.name).toBe(`ADDRESS ${T}`);
    expect(meta.version).toBe(JSON.parse(fs.readFileSync(path.join(DIST, '..', 'package.json'), 'utf8')).version);
  });

  it('METHODS has every verb and alias of the table, and help', () => {
    const methods = loadCommonJs().exports[`ADDRESS_${T}_METHODS`] as Record<string, { description: string; params: string[] }>;
    const want = [...TABLES[target]!.verbs.flatMap((v) => [v.name, ...(v.aliases ?? [])]), 'help'];
    expect(Object.keys(methods).sort(), 'METHODS differ from the table: run npm run build').toEqual([...want].sort());
    for (const v of TABLES[target]!.verbs) {
      expect(methods[v.name]!.description).toBe(v.summary);
      expect(methods[v.name]!.params).toEqual(Object.keys(v.params));
    }
  });

  it('the handler takes the two-argument shapes and odd input without throwing', async () => {
    const handler = loadCommonJs().exports[`ADDRESS_${T}_HANDLER`] as (...a: unknown[]) => Promise<Record<string, unknown>>;
    const sc = { lineNumber: null, sourceLine: '', sourceFilename: 't.rexx', interpreter: {}, interpolation: {} };
    const help = await handler('help', { params: '' }, sc);
    expect(help).toMatchObject({ success: true, errorCode: 0, rexxVariables: { ERRORTEXT: '' } });
    expect(await handler('help', {})).toMatchObject({ success: true });
    for (const v of TABLES[target]!.verbs) {
      // an unknown key is refused before anything runs, in both two-argument shapes (an exec verb: -2)
      const usage = v.exitStatus ? -2 : 2;
      expect(await handler(v.name, { no_such_key_zz: 1 })).toMatchObject({ success: false, errorCode: usage });
      expect(await handler(v.name, { params: 'no_such_key_zz=1' }, sc)).toMatchObject({ success: false, errorCode: usage });
      expect(await handler('help', { value: v.name })).toMatchObject({ success: true });
    }
    for (const args of [[undefined], [null, {}], [42, { value: 1 }], [{}, {}], ['no_such_verb_zz', { value: 'x', arg2: 'y' }], ['', { params: '' }, sc]]) {
      const r = await handler(...args);
      expect(r).toMatchObject({ success: false, errorCode: 2 });
    }
  });
});
