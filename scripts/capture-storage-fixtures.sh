#!/usr/bin/env bash
# Captures the outputs the storage parsers are tested on (test/fixtures/storage/), from loop
# devices on sparse files made here and removed afterwards (never the host's disks).
# Needs root, /dev/loop-control, util-linux, e2fsprogs, xfsprogs, gdisk, lvm2 and udev.
# Usage: scripts/capture-storage-fixtures.sh [out-dir]
set -euo pipefail
out=${1:-test/fixtures/storage/captured}
mkdir -p "$out"
work=$(mktemp -d /tmp/storage-fixtures.XXXXXX)
loops=()
udevd_pid=
vg=sdkfixvg
export LVM_SUPPRESS_FD_WARNINGS=1
cleanup() {
  set +e
  umount "$work/mnt" 2>/dev/null
  vgremove -f "$vg" >/dev/null 2>&1
  for l in "${loops[@]}"; do pvremove -ff -y "$l" >/dev/null 2>&1; partx -d "$l" 2>/dev/null; losetup -d "$l"; done
  [ -n "$udevd_pid" ] && kill "$udevd_pid"
  rm -rf "$work"
  # The links udevd made: all of /dev/disk when it did not exist before.
  [ "$had_disk_dir" = no ] && rm -rf /dev/disk
}
trap cleanup EXIT
# Sets $dev to a new loop device on a sparse file of size $2 (a global: loops must outlive subshells).
attach() { truncate -s "$2" "$work/$1.img"; dev=$(losetup --find --show "$work/$1.img"); loops+=("$dev"); }
# sgdisk's re-read races with partx: retry until the kernel has the partition.
partitions() { sync; for _ in 1 2 3 4 5 6 7 8 9 10; do partx -a "$1" 2>/dev/null || partx -u "$1" 2>/dev/null || true; [ -b "${1}p1" ] && return 0; sleep 0.2; done; echo "no partition on $1" >&2; return 1; }

attach blank 1G; blank=$dev
attach ext4 512M; ext4=$dev; mkfs.ext4 -q -F -U 0b5c2f7e-1111-4aaa-8bbb-000000000001 -m 0 "$ext4"
attach gpt 1G; gpt=$dev; sgdisk --largest-new 1 --partition-guid 1:0b5c2f7e-2222-4aaa-8bbb-000000000002 --change-name 1:vol-a "$gpt" >/dev/null
partitions "$gpt"; mkfs.xfs -q -f -m uuid=0b5c2f7e-3333-4aaa-8bbb-000000000003 "${gpt}p1"
attach pv 400M; pv=$dev; pvcreate -q -y "$pv"; vgcreate -q "$vg" "$pv" >/dev/null
attach mounted 300M; mounted=$dev; mkfs.ext4 -q -F -U 0b5c2f7e-4444-4aaa-8bbb-000000000004 "$mounted"
mkdir -p "$work/mnt"; mount "$mounted" "$work/mnt"
attach small 64M; small=$dev

names() { printf '%s\n' "${loops[@]}" "${gpt}p1"; }
# Without udevd: lsblk leaves FSTYPE/UUID/PARTUUID null (platform-reference §E).
lsblk --json --bytes --output-all "${loops[@]}" > "$out/lsblk-no-udev.json"
/lib/systemd/systemd-udevd --daemon >/dev/null 2>&1
udevd_pid=$(pgrep -n -x systemd-udevd || true)
udevadm trigger --action=change --type=devices --subsystem-match=block
udevadm settle --timeout=20
lsblk --json --bytes --output-all "${loops[@]}" > "$out/lsblk.json"
: > "$out/blkid.txt"
for d in $(names); do { echo "# $d"; blkid -p -o export "$d" || echo "# exit $?"; } >> "$out/blkid.txt"; done
vgs --reportformat json --units b -o vg_name,vg_size,vg_free,vg_uuid,vg_extent_size > "$out/vgs.json"
pvs --reportformat json --units b -o pv_name,vg_name,pv_size,pv_free > "$out/pvs.json"
{ echo "# loop devices: blank=$blank ext4=$ext4 gpt=$gpt pv=$pv mounted=$mounted small=$small"; lsblk --version; blkid --version; lvm version | head -1; } > "$out/README.txt"
ls -l /dev/disk/by-uuid /dev/disk/by-partuuid >> "$out/README.txt" 2>&1 || true
