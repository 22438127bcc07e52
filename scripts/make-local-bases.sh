#!/usr/bin/env bash
# Local stand-ins for the images' public bases, for machines that cannot pull images:
#   localhost/simplechat-python-base  ~ python:3.11-slim-bookworm  (Debian's python3 + venv + pip)
#   localhost/simplechat-nginx-base   ~ nginxinc/nginx-unprivileged (Debian's nginx + envsubst)
# Built with debootstrap from Debian's packages and imported into podman. Idempotent: an image
# that exists is kept (FORCE=1 rebuilds). Needs root (debootstrap), podman and debootstrap.
set -euo pipefail
[[ "${DEBUG:-0}" == 1 ]] && set -x

SUITE=${SUITE:-bookworm}
PODMAN=(podman --runtime runc)

die() { echo "make-local-bases: $*" >&2; exit 1; }
command -v podman >/dev/null || die "podman not found — apt-get install podman runc"
command -v debootstrap >/dev/null || die "debootstrap not found — apt-get install debootstrap"
[[ $(id -u) -eq 0 ]] || die "debootstrap needs root"

build_base() {  # image packages...
  local image=$1; shift
  if [[ "${FORCE:-0}" != 1 ]] && "${PODMAN[@]}" image exists "$image"; then
    echo "base $image: present"
    return
  fi
  local root
  root=$(mktemp -d "${TMPDIR:-/tmp}/simplechat-rootfs.XXXXXX")
  trap 'rm -rf "$root"' RETURN
  echo "base $image: debootstrap $SUITE with $*"
  local include
  include=$(IFS=,; echo "$*")
  debootstrap --variant=minbase --include="$include" "$SUITE" "$root" >/dev/null
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  # As Debian's slim images: no documentation (its copyright files stay), manual pages or
  # translations, and dpkg leaves them out of later installs too.
  find "$root"/usr/share/doc -type f ! -name copyright -delete
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/usr/share/info/*
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/locale/*' 'path-exclude /usr/share/info/*' \
    > "$root"/etc/dpkg/dpkg.cfg.d/slim
  # The package's default site would listen on 80 as root: the image brings its own config.
  rm -f "$root"/etc/nginx/sites-enabled/default
  tar -C "$root" -c . | "${PODMAN[@]}" import --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
  echo "base $image: imported"
}

build_base localhost/simplechat-python-base python3 python3-venv python3-pip ca-certificates
build_base localhost/simplechat-nginx-base nginx gettext-base ca-certificates
