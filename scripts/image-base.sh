#!/usr/bin/env bash
# Builds the images' base from Debian's packages, with no image registry: a minimal Debian bookworm root
# filesystem with a headless Java 17 runtime and an unprivileged user (uid/gid 10001, 'steadyrun'), written as a
# one-layer image in `docker save` form, which Jib takes as a base through `tar://`.
#
#   scripts/image-base.sh OUTPUT.tar        (needs root and debootstrap; skips the work when OUTPUT exists)
#
# STEADYRUN_DEBIAN_MIRROR overrides the mirror (default: the first one in this machine's apt sources).
set -euo pipefail

out=${1:?usage: image-base.sh OUTPUT.tar}
if [ -s "$out" ]; then
  echo "image-base: $out exists, kept"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "image-base: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }

mirror=${STEADYRUN_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | grep -oE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' | head -n 1 | awk '{print $2}' || true)
  mirror=${mirror:-http://deb.debian.org/debian}
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/steadyrun-base.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root" "$work/image"

# minbase: essential packages only. libgomp1: the trainer's native math library (nd4j's OpenBLAS) links it.
debootstrap --variant=minbase --include=openjdk-17-jre-headless,libgomp1,ca-certificates \
  bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || { tail -n 40 "$work/debootstrap.log" >&2; exit 1; }

# The unprivileged user the images run as (the chart's securityContext names the same ids).
echo 'steadyrun:x:10001:10001:steadyrun:/home/steadyrun:/usr/sbin/nologin' >>"$root/etc/passwd"
echo 'steadyrun:x:10001:' >>"$root/etc/group"
mkdir -p "$root/home/steadyrun"
chown 10001:10001 "$root/home/steadyrun"

# What an image needs at run time only: apt's lists and caches, docs, man pages and locales go.
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
  "$root"/usr/share/locale/* "$root"/var/log/* "$root"/tmp/*
# Device nodes cannot live in an image layer; the container runtime provides /dev.
rm -rf "$root"/dev/*

java_home=$(dirname "$(dirname "$(readlink -f "$root/usr/bin/java" | sed "s|^$root||")")")
tar --numeric-owner --sort=name --mtime='2000-01-01 00:00:00Z' -C "$root" -cf "$work/image/layer.tar" .
diff_id=$(sha256sum "$work/image/layer.tar" | cut -d' ' -f1)
cat >"$work/image/config.json" <<JSON
{"architecture":"amd64","os":"linux",
 "config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","JAVA_HOME=$java_home"],
           "User":"10001:10001","WorkingDir":"/home/steadyrun"},
 "rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},
 "history":[{"created_by":"scripts/image-base.sh: debootstrap bookworm minbase + openjdk-17-jre-headless"}]}
JSON
echo '[{"Config":"config.json","RepoTags":["steadyrun/base:bookworm-jre17"],"Layers":["layer.tar"]}]' \
  >"$work/image/manifest.json"
mkdir -p "$(dirname "$out")"
tar -C "$work/image" -cf "$out.part" manifest.json config.json layer.tar
mv "$out.part" "$out"
echo "image-base: wrote $out ($(du -h "$out" | cut -f1))"
