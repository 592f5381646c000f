import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeDevices, parseBlkidExport, parseLsblk, parsePvs, parseSmartctl, parseVgs, stableLink } from '../../../src/storage/index.js';

const fixture = (name: string) => readFileSync(`test/fixtures/storage/${name}`, 'utf8');

describe('lsblk parser (captured on loop devices)', () => {
  it('reads typed JSON: sizes, media, partitions, mounts, signatures', () => {
    const devices = parseLsblk(fixture('captured/lsblk.json'));
    expect(devices.map((d) => d.name)).toEqual(['loop0', 'loop1', 'loop2', 'loop2p1', 'loop3', 'loop4', 'loop5']);
    const part = devices.find((d) => d.name === 'loop2p1');
    expect(part).toMatchObject({ parent: 'loop2', type: 'part', fsType: 'xfs', partLabel: 'vol-a', partUuid: '0b5c2f7e-2222-4aaa-8bbb-000000000002' });
    expect(devices.find((d) => d.name === 'loop2')?.children).toEqual(['loop2p1']);
    expect(devices.find((d) => d.name === 'loop0')).toMatchObject({ size: 1073741824, rotational: true, readOnly: false, removable: false, mountpoints: [] });
    expect(devices.find((d) => d.name === 'loop4')?.mountpoints[0]).toMatch(/\/mnt$/);
  });

  it('reads the all-strings form of older util-linux the same way', () => {
    const typed = parseLsblk(fixture('captured/lsblk-no-udev.json'));
    const strings = parseLsblk(fixture('captured/lsblk-all-strings.json'));
    expect(strings).toEqual(typed);
  });

  it('says what is wrong with output that is not lsblk JSON', () => {
    expect(() => parseLsblk('lsblk: unknown column')).toThrow(/not JSON/);
    expect(() => parseLsblk('{}')).toThrow(/blockdevices/);
  });
});

describe('blkid, vgs, pvs parsers (captured)', () => {
  it('reads blkid -p -o export per device, unescaping values', () => {
    const ids = parseBlkidExport(fixture('captured/blkid.txt'));
    expect(ids.has('/dev/loop0')).toBe(false);
    expect(ids.get('/dev/loop1')).toMatchObject({ TYPE: 'ext4', UUID: '0b5c2f7e-1111-4aaa-8bbb-000000000001' });
    expect(ids.get('/dev/loop2')).toMatchObject({ PTTYPE: 'gpt' });
    expect(ids.get('/dev/loop3')).toMatchObject({ TYPE: 'LVM2_member', VERSION: 'LVM2 001' });
    expect(ids.get('/dev/loop2p1')).toMatchObject({ TYPE: 'xfs', PART_ENTRY_NAME: 'vol-a' });
  });

  it('reads vgs and pvs JSON reports in bytes', () => {
    expect(parseVgs(fixture('captured/vgs.json'))).toEqual([
      { name: 'sdkfixvg', size: 415236096, free: 415236096, uuid: 'ASaiX1-pGdw-LU6O-JjaV-FiqN-jn16-7Add1W', extentSize: 4194304 },
    ]);
    expect(parsePvs(fixture('captured/pvs.json'))).toEqual([{ path: '/dev/loop3', vgName: 'sdkfixvg', size: 415236096, free: 415236096 }]);
  });
});

describe('smartctl --json parser (outputs of real SATA, SAS, NVMe disks)', () => {
  it('reads ATA attributes 5 and 197 and the overall health', () => {
    expect(parseSmartctl(fixture('smartctl/sata-WDC_WD20EFRX.json'))).toMatchObject({
      protocol: 'ATA',
      passed: true,
      reallocatedSectors: 0,
      pendingSectors: 0,
      model: 'WDC WD20EFRX-68EUZN0',
    });
  });
  it('reads the SCSI grown defect list', () => {
    expect(parseSmartctl(fixture('smartctl/sas-SEAGATE_ST373453LC.json'))).toMatchObject({ protocol: 'SCSI', passed: true, reallocatedSectors: 260 });
  });
  it('reads NVMe wear', () => {
    expect(parseSmartctl(fixture('smartctl/nvme-KXG60ZNV512G.json'))).toMatchObject({ protocol: 'NVMe', passed: true, percentageUsed: 1 });
  });
});

describe('eligibility', () => {
  const probe = (lsblk: string) =>
    describeDevices({
      lsblk: parseLsblk(fixture(lsblk)),
      blkid: parseBlkidExport(fixture('captured/blkid.txt')),
      volumeDevices: new Map([['/dev/loop5', 'taken-volume']]),
    });

  it('refuses each captured device for the reason a user would look for', () => {
    // Loop devices play disks here: accept the type to see the other rules.
    const devices = describeDevices(
      { lsblk: parseLsblk(fixture('captured/lsblk-no-udev.json')), blkid: parseBlkidExport(fixture('captured/blkid.txt')), volumeDevices: new Map([['/dev/loop5', 'taken']]) },
      { types: ['loop', 'part'] },
    );
    const codes = Object.fromEntries(devices.map((d) => [d.name, d.deniedReasons.map((r) => r.code)]));
    expect(codes).toEqual({
      loop0: [],
      loop1: ['filesystem'],
      loop2: ['partitioned'],
      loop2p1: ['filesystem'],
      loop3: ['filesystem', 'too-small'],
      loop4: ['mounted', 'filesystem', 'too-small'],
      loop5: ['volume-device', 'too-small'],
    });
    expect(devices.find((d) => d.name === 'loop0')?.eligible).toBe(true);
    // Signatures come from blkid even where lsblk (no udevd) shows none.
    expect(devices.find((d) => d.name === 'loop1')?.deniedReasons[0]?.message).toContain('ext4');
  });

  it('refuses loop devices by default: MetalK8s takes disks, partitions and LVM volumes', () => {
    const loop0 = probe('captured/lsblk.json').find((d) => d.name === 'loop0');
    expect(loop0?.deniedReasons.map((r) => r.code)).toEqual(['unsupported-type']);
  });

  it('denies a disk whose SMART health failed and warns about a worn one', () => {
    const lsblk = parseLsblk({ blockdevices: [{ name: 'sdb', type: 'disk', size: 2 ** 40, rota: true }, { name: 'nvme0n1', type: 'disk', size: 2 ** 40, rota: false }] });
    const failing = { ...JSON.parse(fixture('smartctl/sata-WDC_WD20EFRX.json')), smart_status: { passed: false } };
    const worn = JSON.parse(fixture('smartctl/nvme-KXG60ZNV512G.json'));
    worn.nvme_smart_health_information_log.percentage_used = 93;
    const devices = describeDevices({
      lsblk,
      smart: new Map([
        ['sdb', parseSmartctl(JSON.stringify(failing))],
        ['nvme0n1', parseSmartctl(JSON.stringify(worn))],
      ]),
      links: new Map([['nvme0n1', ['/dev/disk/by-id/nvme-eui.0001', '/dev/disk/by-id/nvme-KXG60']]]),
    });
    expect(devices[0]?.deniedReasons.map((r) => r.code)).toContain('smart-failed');
    expect(devices[1]?.eligible).toBe(true);
    expect(devices[1]?.warnings.map((w) => w.code)).toEqual(['smart-worn']);
    expect(devices[1]?.stablePath).toBe('/dev/disk/by-id/nvme-eui.0001');
    expect(devices[0]?.warnings.map((w) => w.code)).toContain('no-stable-path');
  });

  it('prefers the WWN link as the stable path', () => {
    expect(stableLink(['/dev/disk/by-id/ata-X_1', '/dev/disk/by-id/wwn-0x5000', '/dev/disk/by-path/pci-0'])).toBe('/dev/disk/by-id/wwn-0x5000');
    expect(stableLink(['/dev/disk/by-uuid/abc'])).toBeUndefined();
  });
});
