#!/usr/bin/env bash
# Offline checks of the Dockerfiles (there is no Docker engine here): for
# each image, the builder builds the program the final stage copies and runs;
# both stages are Debian 12 with a pinned tag; the final stage installs every
# runtime library the built binary links (ldd of ./build's binary, mapped to
# Debian packages with dpkg -S), each a real installed package name; it runs
# as a numeric non-root user. Prints one line per image; exits 1 on a problem.
#   k8s/tools/check-images.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
# In debian:12-slim already (essential and required packages).
base="libc6 libgcc-s1 libstdc++6 zlib1g libzstd1 liblzma5 libbz2-1.0 libcrypt1 libgnutls30 libselinux1 libpcre2-8-0"
status=0
for spec in feedback-service:feedback-service/feedback-service journey-service:journey-service/journey-service \
            metrics-service:metrics-service/metrics-service cxctl:tools/cxctl; do
  name=${spec%%:*}
  bin=${spec#*:}
  dockerfile=$(dirname "$bin")/Dockerfile
  [[ $name == cxctl ]] && dockerfile=tools/cxctl/Dockerfile
  problems=()
  [[ -f $dockerfile ]] || { echo "$name: no $dockerfile"; status=1; continue; }
  mapfile -t froms < <(grep -E '^FROM ' "$dockerfile")
  ((${#froms[@]} >= 2)) || problems+=("not multi-stage")
  for f in "${froms[@]}"; do
    [[ $f =~ ^FROM\ debian:12\.[0-9]+(-slim)?( AS [a-z]+)?$ ]] || problems+=("base image not a pinned Debian 12: $f")
  done
  [[ ${froms[-1]} == *-slim ]] || problems+=("final stage is not slim")
  grep -q -- "--target $name " "$dockerfile" || problems+=("builder does not build --target $name")
  grep -q "^COPY --from=build /build/$bin /usr/local/bin/$name\$" "$dockerfile" || problems+=("final stage does not copy /build/$bin")
  grep -q "^ENTRYPOINT \[\"/usr/local/bin/$name\"\]\$" "$dockerfile" || problems+=("entrypoint is not /usr/local/bin/$name")
  user=$(grep -E '^USER ' "$dockerfile" | tail -1 | awk '{print $2}')
  [[ $user =~ ^[1-9][0-9]*(:[0-9]+)?$ ]] || problems+=("USER is not a numeric non-root user: '$user'")
  # The final stage's apt packages.
  runtime=$(awk '/^FROM .*-slim/{f=1} f' "$dockerfile" | sed -n '/apt-get install/,/rm -rf/p' |
    tr ' \\' '\n\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -vE '^(apt-get|install|rm|rf|update)$' | sort -u)
  for p in $runtime; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || problems+=("package $p is not a Debian package installed here")
  done
  if [[ ! -x $build/$bin ]]; then
    problems+=("no $build/$bin to check the libraries of")
  else
    libs=$(ldd "$build/$bin" | awk '/=>/{print $3}')
    needed=()
    for lib in $libs; do
      pkg=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "$(realpath "$lib")" 2>/dev/null || dpkg -S "${lib/#\/usr\/lib/\/lib}" 2>/dev/null || true)
      pkg=${pkg%%:*}
      [[ -n $pkg ]] || { problems+=("no Debian package holds $lib"); continue; }
      needed+=("$pkg")
    done
    for p in $(printf '%s\n' "${needed[@]}" | sort -u); do
      grep -qx "$p" <<<"$runtime" || [[ " $base " == *" $p "* ]] || problems+=("links a library of $p, which the final stage does not install")
    done
  fi
  if ((${#problems[@]})); then
    status=1
    echo "$name ($dockerfile): ${#problems[@]} problems"
    printf '  %s\n' "${problems[@]}"
  else
    echo "$name ($dockerfile): multi-stage Debian 12, user $user, ${#needed[@]} linked libraries all installed by the final stage"
  fi
done
exit $status
