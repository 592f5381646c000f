// Planning benchmark: 100 nodes × 24 disks × 20 needs (10 `total` needs of 3 replicas, 10
// `perNode` needs on every node), timed over several runs, with the heap and RSS used.
// Build first (`npm run build`): it imports from dist/. `node bench/storage-plan.mjs [nodes] [disks] [needs]`.
import { defineSolution } from '../dist/index.js';
import { describeDevices, parseLsblk, planVolumes } from '../dist/storage/index.js';

const [nodesN = 100, disksN = 24, needsN = 20] = process.argv.slice(2).map(Number);
const GiB = 2 ** 30;

const nodes = [];
for (let n = 0; n < nodesN; n++) {
  const blockdevices = [];
  for (let d = 0; d < disksN; d++) {
    // Mixed sizes and media; every 7th disk holds a filesystem, every 11th is partitioned.
    const dev = { name: `sd${String.fromCharCode(97 + (d % 26))}${d >= 26 ? d : ''}`, type: 'disk', size: (100 + ((n * 7 + d * 13) % 900)) * GiB, rota: d % 3 !== 0 };
    if (d % 7 === 6) dev.fstype = 'xfs';
    if (d % 11 === 10) dev.children = [{ name: `${dev.name}1`, type: 'part', size: 10 * GiB }];
    blockdevices.push(dev);
  }
  const lsblk = parseLsblk({ blockdevices });
  const links = new Map(lsblk.map((d) => [d.name, [`/dev/disk/by-id/wwn-0x5000${n}${d.name}`]]));
  nodes.push({ name: `node-${String(n).padStart(3, '0')}`, roles: ['node'], metalk8sVersion: '129.0.0', devices: describeDevices({ lsblk, links }), volumeGroups: [] });
}
const components = [];
for (let i = 0; i < needsN; i++) {
  const perNode = i % 2 === 1;
  components.push({
    name: `svc${i}`,
    image: 'app',
    volumes: [{ name: 'data', size: `${50 + i * 10}Gi`, storageClass: 'metalk8s', ...(i % 4 === 0 ? { media: 'ssd' } : {}), count: perNode ? { perNode: 1, role: 'node' } : { total: 3 } }],
  });
}
const solution = defineSolution({
  name: 'bench',
  version: '1.0.0',
  operator: { image: 'app' },
  images: [{ name: 'app', tag: '1.0.0', source: { kind: 'registry', reference: 'registry.example.com/app:1.0.0' } }],
  components,
});
const inventory = { nodes };

const runs = 5;
const times = [];
let plan;
const heapBefore = process.memoryUsage().heapUsed;
for (let r = 0; r < runs; r++) {
  const t = process.hrtime.bigint();
  plan = planVolumes({ solution, inventory });
  times.push(Number(process.hrtime.bigint() - t) / 1e6);
}
const mem = process.memoryUsage();
times.sort((a, b) => a - b);
console.log(`inventory: ${nodesN} nodes × ${disksN} disks; ${needsN} needs → ${plan.volumes.length} Volumes, ok=${plan.ok}`);
console.log(`planVolumes: median ${times[Math.floor(runs / 2)].toFixed(0)} ms, min ${times[0].toFixed(0)} ms, max ${times[runs - 1].toFixed(0)} ms (${runs} runs)`);
console.log(`memory: heap used ${(mem.heapUsed / 2 ** 20).toFixed(0)} MiB (+${((mem.heapUsed - heapBefore) / 2 ** 20).toFixed(0)} MiB during planning), RSS ${(mem.rss / 2 ** 20).toFixed(0)} MiB`);
