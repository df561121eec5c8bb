# Shared by scripts/test.sh and scripts/demo.sh (sourced, not run): installs
# missing packages and configures the build directory.
#
# Sets: root, build, jobs. Environment: SBGAN_BUILD_DIR (default: build),
# SBGAN_JOBS (default: 2), SBGAN_CMAKE_ARGS (extra configure arguments).
# Usage: sbgan_configure [extra cmake arguments...]

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
build="${SBGAN_BUILD_DIR:-build}"
jobs="${SBGAN_JOBS:-2}"

sbgan_configure() {
  "$root/scripts/install-deps.sh"
  local generator=()
  if [[ ! -f "$build/CMakeCache.txt" ]]; then
    if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); else generator=(-G "Unix Makefiles"); fi
  fi
  # shellcheck disable=SC2086  # SBGAN_CMAKE_ARGS is a list of words
  cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "$@" ${SBGAN_CMAKE_ARGS:-}
}
