import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryFromPrometheus } from '../../../src/storage/index.js';
import { freePort } from '../../../src/testing/_ports.js';

// What node-exporter v1.8.1's diskstats and uname collectors export (label sets of
// collector/diskstats_linux.go and uname), for a node with two disks, one holding xfs.
const METRICS = `# TYPE node_disk_info gauge
node_disk_info{device="sdb",major="8",minor="16",model="ST4000NM0035-1V4",path="pci-0000:00:1f.2-ata-2.0",revision="TN05",serial="ZC1ABCDE",wwn="0x5000c500a1b2c3d4"} 1
node_disk_info{device="sdc",major="8",minor="32",model="SAMSUNG MZ7LH480",path="pci-0000:00:1f.2-ata-3.0",revision="HXT7",serial="S45PNA0M",wwn="0x5002538e40a1b2c3"} 1
# TYPE node_disk_filesystem_info gauge
node_disk_filesystem_info{device="sdc",type="xfs",usage="filesystem",uuid="6f1c1a2e-0b5c-4d1e-9f7a-2b3c4d5e6f70",version=""} 1
# TYPE node_uname_info gauge
node_uname_info{domainname="(none)",machine="x86_64",nodename="node-1",release="4.18.0-553.el8_10.x86_64",sysname="Linux",version="#1 SMP"} 1
`;

describe('inventory from Prometheus (read-only fallback)', () => {
  let exporter: http.Server;
  let prom: ChildProcess;
  let dir: string;
  let url: string;

  beforeAll(async () => {
    exporter = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(METRICS);
    });
    await new Promise<void>((r) => exporter.listen(0, '127.0.0.1', () => r()));
    const target = `127.0.0.1:${(exporter.address() as AddressInfo).port}`;
    dir = await mkdtemp(path.join(tmpdir(), 'sdk-prom-inv-'));
    await writeFile(path.join(dir, 'prom.yml'), `global: { scrape_interval: 1s }\nscrape_configs:\n  - job_name: node-exporter\n    static_configs: [{ targets: ['${target}'] }]\n`);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    prom = spawn('prometheus', [`--config.file=${path.join(dir, 'prom.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
    const deadline = Date.now() + 60_000;
    for (;;) {
      // Until it is ready Prometheus answers 503 "Service Unavailable" as text: not JSON, not yet.
      const r = (await fetch(`${url}/api/v1/query?query=node_uname_info`)
        .then((x) => x.json())
        .catch(() => undefined)) as { data?: { result?: unknown[] } } | undefined;
      if ((r?.data?.result?.length ?? 0) > 0) break;
      if (Date.now() > deadline) throw new Error('Prometheus did not scrape the metrics within 60 s');
      await new Promise((res) => setTimeout(res, 500));
    }
  }, 90_000);
  afterAll(async () => {
    prom?.kill('SIGTERM');
    await new Promise((r) => (prom?.exitCode !== null ? r(undefined) : prom.once('exit', r)));
    await new Promise((r) => exporter?.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('lists each node\'s disks with models, serials, WWN paths and signatures, none plannable', async () => {
    const inv = await inventoryFromPrometheus({ url });
    expect(inv.nodes.map((n) => n.name)).toEqual(['node-1']);
    const [sdb, sdc] = inv.nodes[0]?.devices ?? [];
    expect(sdb).toMatchObject({ name: 'sdb', model: 'ST4000NM0035-1V4', serial: 'ZC1ABCDE', stablePath: '/dev/disk/by-id/wwn-0x5000c500a1b2c3d4', eligible: false });
    expect(sdb?.deniedReasons.map((r) => r.code)).toEqual(['not-probed']);
    expect(sdc?.deniedReasons.map((r) => r.code)).toEqual(['not-probed', 'filesystem']);
    expect(sdc?.deniedReasons[1]?.message).toContain('xfs');
  });

  it('says when Prometheus cannot be reached', async () => {
    await expect(inventoryFromPrometheus({ url: 'http://127.0.0.1:9' })).rejects.toMatchObject({ code: 'PROMETHEUS_UNREACHABLE' });
  });

  it('reads a refusal as cluster.metrics does: a URL that is not Prometheus\' API gives its status and message', async () => {
    // The exporter answers every path with metrics text, not Prometheus' JSON envelope; the real
    // Prometheus answers an unknown path with 404.
    const err = await inventoryFromPrometheus({ url: `${url}/not-the-api` }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PROMETHEUS_REQUEST_FAILED', status: 404, retryable: false });
    expect((err as Error).message).toMatch(/Prometheus \/api\/v1\/query: HTTP 404/);
  });
});
