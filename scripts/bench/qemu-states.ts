/**
 * Benchmark (not a test): ADDRESS QEMU saved states and live migration against the
 * same QMP steps done by hand, side by side in one run, interleaved, on one guest
 * (the cached busybox guest, rexx.counter=1, memory 256 MB, TCG).
 *   1. save: `save_state compress=lz4` vs by hand: QMP stop, blockdev-snapshot-sync,
 *      `socat -u UNIX-LISTEN | lz4 -1` started, QMP migrate to the socket, query-migrate
 *      polled every 10 ms, cont. (Each pipe joined as the runner joins it: through
 *      this process, the first stage's output not buffered.)
 *   2. restore: `restore_state` (the VM stopped before each) vs by hand: qemu-img create
 *      the overlay on the disk the same state froze (the same backing chain), the same
 *      qemu argv with -incoming defer, migrate-incoming,
 *      `lz4 -dc | socat` into the socket, query-migrate polled, cont.
 *   3. bytes on disk of the memory file: compress=none vs lz4 vs zstd.
 *   4. migrate over a unix socket: `migrate` vs by hand (a second QEMU with -incoming
 *      defer, migrate-incoming, migrate, query-migrate polled; then the hand-made one is
 *      quit and the original resumed): wall time, and total-time / downtime as
 *      query-migrate reports them.
 * Run: npm run bench:qemu-states  (BENCH_N rounds per side, default 5)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { createHandler } from '../../shared/dispatch';
import { createEffects } from '../../shared/effects';
import { Qmp } from '../../shared/qmp';
import { table } from '../../handlers/qemu';
import { loadVm, vmPaths } from '../../handlers/qemu/state';
import { qemuArgv } from '../../handlers/qemu/vm';
import type { MigrateInfo } from '../../handlers/qemu/migration';
import { fmt, median, ms, ratio, strict } from './stats';

const N = Number(process.env.BENCH_N ?? 5);
const G = process.env.REXX_QEMU_GUEST_DIR || '/var/lib/rexx-address/qemu-guest';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-qsbench-'));
const raw = path.join(dir, 'raw');
fs.mkdirSync(raw);
const env = { ...process.env, REXX_QEMU_DIR: dir, REXX_QEMU_PATHS: G };
const q = createHandler(table, { env });
const must = strict(q);
const VM = 'b1';
const p = vmPaths({ env }, VM);
const sleep = (n: number) => new Promise((r) => setTimeout(r, n));
const def = () => loadVm({ env, ...createEffects({ dryrun: false, log: () => undefined }) }, VM);

async function qmp<T>(sock: string, fn: (c: Qmp) => Promise<T>): Promise<T> {
  const c = await Qmp.connect(sock, 10_000);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}
async function completed(c: Qmp): Promise<MigrateInfo> {
  for (;;) {
    const i = await c.execute<MigrateInfo>('query-migrate');
    if (i.status === 'completed') return i;
    if (i.status === 'failed' || i.status === 'cancelled') throw new Error(`migration ${i.status}: ${i['error-desc'] ?? ''}`);
    await sleep(10);
  }
}
async function waitFile(f: string) {
  while (!fs.existsSync(f)) await sleep(2);
}

/** save by hand: the handler's steps, without the handler. */
async function rawSave(i: number): Promise<{ ms: number; file: string }> {
  const sock = path.join(raw, 's.sock');
  const file = path.join(raw, `mem-${i}.lz4`);
  fs.rmSync(sock, { force: true });
  const t = performance.now();
  await qmp(p.qmp, async (c) => {
    await c.execute('stop');
    const blocks = await c.execute<Array<{ inserted?: { 'node-name'?: string } }>>('query-block');
    const node = blocks.map((b) => b.inserted?.['node-name'] ?? '').find((n) => n.startsWith('disk0'))!;
    await c.execute('blockdev-snapshot-sync', { 'node-name': node, 'snapshot-file': path.join(raw, `top-${i}.qcow2`), 'snapshot-node-name': `disk0-raw${i}`, format: 'qcow2' });
    const listen = execa('socat', ['-u', `UNIX-LISTEN:${sock}`, 'STDOUT'], { buffer: false });
    const lz4 = execa('lz4', ['-q', '-1', '-', file], { stdin: 'pipe' });
    listen.stdout!.pipe(lz4.stdin!);
    await waitFile(sock);
    await c.execute('migrate', { uri: `unix:${sock}` });
    await completed(c);
    await Promise.all([listen, lz4]);
    await c.execute('cont');
  });
  return { ms: ms(t), file };
}

/** restore by hand: overlay, qemu -incoming defer, migrate-incoming, lz4 -dc | socat, cont. */
async function rawRestore(i: number, file: string, disk: string): Promise<number> {
  const sock = path.join(raw, 'r.sock');
  const top = path.join(raw, `restore-${i}.qcow2`);
  const t = performance.now();
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', disk, top]);
  const argv = qemuArgv({ ...def(), top }, p, 'tcg', undefined, { incoming: 'defer' });
  await execa(argv[0]!, argv.slice(1));
  await qmp(p.qmp, async (c) => {
    await c.execute('migrate-incoming', { uri: `unix:${sock}` });
    const dec = execa('lz4', ['-q', '-d', '-c', file], { buffer: false });
    const feed = execa('socat', ['-u', 'STDIN', `UNIX-CONNECT:${sock}`], { stdin: 'pipe' });
    dec.stdout!.pipe(feed.stdin!);
    await Promise.all([dec, feed]);
    await completed(c);
    await c.execute('cont');
  });
  const took = ms(t);
  await must(`stop ${VM} force=true`);
  return took;
}

/** migrate by hand to a second QEMU; then that one quits and the original goes on. */
async function rawMigrate(): Promise<{ ms: number; info: MigrateInfo }> {
  const beside = { dir: raw, pid: path.join(raw, 'in.pid'), qmp: path.join(raw, 'in.qmp'), qga: path.join(raw, 'in.qga'), serial: path.join(raw, 'in.serial') };
  const sock = path.join(raw, 'm.sock');
  const argv = qemuArgv(def(), beside, 'tcg', undefined, { incoming: 'defer' });
  const t = performance.now();
  await execa(argv[0]!, argv.slice(1));
  await qmp(beside.qmp, (c) => c.execute('migrate-incoming', { uri: `unix:${sock}` }));
  const info = await qmp(p.qmp, async (c) => {
    await c.execute('migrate', { uri: `unix:${sock}` });
    return completed(c);
  });
  const took = ms(t);
  await qmp(beside.qmp, (c) => c.execute('quit')).catch(() => undefined);
  while (fs.existsSync(beside.pid)) await sleep(10);
  await qmp(p.qmp, (c) => c.execute('cont'));
  return { ms: took, info };
}

async function main() {
  await must('create_disk name=d size=64M');
  await must(`create name=${VM} disk=d kernel=${G}/vmlinuz initrd=${G}/initrd.img append="console=ttyS0 quiet rexx.counter=1" accel=tcg memory=256M`);
  await must(`start ${VM} wait=serial:REXX-COUNTER timeout=120s`);
  console.log(`state ${dir}, N=${N}, guest 256 MB (TCG), load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);

  const save = { h: [] as number[], r: [] as number[] };
  const ids: string[] = [];
  const rawFiles: string[] = [];
  for (let i = 0; i < N; i++) {
    const viaHandler = async () => {
      const t = performance.now();
      const s = await must(`save_state ${VM} snapshot=h${i}`);
      save.h.push(ms(t));
      ids.push(s.rexxVariables.SNAPSHOT as string);
    };
    const byHand = async () => {
      const x = await rawSave(i);
      save.r.push(x.ms);
      rawFiles.push(x.file);
    };
    if (i % 2) { await byHand(); await viaHandler(); } else { await viaHandler(); await byHand(); }
  }

  // Bytes: the same guest saved with each compressor.
  const sizes: Record<string, number> = {};
  for (const c of ['none', 'lz4', 'zstd']) {
    await must(`save_state ${VM} snapshot=size-${c} compress=${c}`);
    const f = fs.readdirSync(path.join(p.dir, 'states', `size-${c}`)).find((x) => x.startsWith('memory.'))!;
    sizes[c] = fs.statSync(path.join(p.dir, 'states', `size-${c}`, f)).size;
  }

  const mig = { h: [] as number[], r: [] as number[], hTotal: [] as number[], rTotal: [] as number[], hDown: [] as number[], rDown: [] as number[] };
  for (let i = 0; i < N; i++) {
    const viaHandler = async () => {
      const t = performance.now();
      const m = await must(`migrate ${VM}`);
      mig.h.push(ms(t));
      mig.hTotal.push(Number(m.rexxVariables.TOTAL_MS));
      mig.hDown.push(Number(m.rexxVariables.DOWNTIME_MS));
    };
    const byHand = async () => {
      const x = await rawMigrate();
      mig.r.push(x.ms);
      mig.rTotal.push(x.info['total-time'] ?? 0);
      mig.rDown.push(x.info.downtime ?? 0);
    };
    if (i % 2) { await byHand(); await viaHandler(); } else { await viaHandler(); await byHand(); }
  }

  await must(`stop ${VM} force=true`);
  const restore = { h: [] as number[], r: [] as number[] };
  // The disk each state froze (snapshot.json data.disk): the restore by hand starts from the
  // same one, so both sides open a backing chain of the same depth (the interleaved saves
  // grow it by two layers a round; restoring on the base disk instead made the hand side
  // open one layer while the handler opened up to 2N, and cost it ~0.1 s a restore).
  const stateDisk = (id: string) => (JSON.parse(fs.readFileSync(path.join(p.dir, 'states', id, 'snapshot.json'), 'utf8')) as { data: { disk: string } }).data.disk;
  for (let i = 0; i < N; i++) {
    const viaHandler = async () => {
      const t = performance.now();
      await must(`restore_state ${VM} snapshot=${ids[i]}`);
      restore.h.push(ms(t));
      await must(`stop ${VM} force=true`);
    };
    const byHand = async () => restore.r.push(await rawRestore(i, rawFiles[i]!, stateDisk(ids[i]!)));
    if (i % 2) { await byHand(); await viaHandler(); } else { await viaHandler(); await byHand(); }
  }

  const M = (xs: number[]) => median(xs);
  console.log('\nmetric (256 MB guest, TCG)                              median ms   ratio');
  console.log(`save by hand (stop, snapshot-sync, migrate | lz4, cont) ${fmt(M(save.r))}`);
  console.log(`save_state compress=lz4                                 ${fmt(M(save.h))}   ${ratio(M(save.h), M(save.r))}x raw   (goal <= 1.10x)`);
  console.log(`restore by hand (overlay, -incoming, lz4 -dc | socat)   ${fmt(M(restore.r))}`);
  console.log(`restore_state                                           ${fmt(M(restore.h))}   ${ratio(M(restore.h), M(restore.r))}x raw   (goal <= 1.10x)`);
  console.log(`migrate by hand (unix socket), wall                     ${fmt(M(mig.r))}`);
  console.log(`migrate (unix socket), wall                             ${fmt(M(mig.h))}   ${ratio(M(mig.h), M(mig.r))}x raw`);
  console.log(`  query-migrate total-time: by hand ${fmt(M(mig.rTotal), 6)}   migrate ${fmt(M(mig.hTotal), 6)}`);
  console.log(`  query-migrate downtime:   by hand ${fmt(M(mig.rDown), 6)}   migrate ${fmt(M(mig.hDown), 6)}`);
  console.log(`memory file bytes: none ${sizes.none}, lz4 ${sizes.lz4} (${ratio(sizes.lz4!, sizes.none!)}x), zstd ${sizes.zstd} (${ratio(sizes.zstd!, sizes.none!)}x)`);
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(async () => {
    await q(`stop ${VM} force=true`);
    fs.rmSync(dir, { recursive: true, force: true });
  });
