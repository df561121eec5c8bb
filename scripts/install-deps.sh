#!/usr/bin/env bash
# Installs the Debian packages sbgan needs to build and test.
#
#   scripts/install-deps.sh           build + test dependencies
#   scripts/install-deps.sh --torch   also python3-torch and libopenblas0-openmp
#                                     (for the PyTorch comparison benchmark)
#
# Packages are checked one by one with dpkg -s; apt-get update / install run
# only when something is missing. As root the missing packages are installed;
# otherwise the script prints the command to run and exits 1.
set -euo pipefail

packages=(
  build-essential cmake libeigen3-dev libxtensor-dev xtl-dev catch2
  libbenchmark-dev libstb-dev libcli11-dev nlohmann-json3-dev python3-numpy
)

for arg in "$@"; do
  case "$arg" in
    --torch) packages+=(python3-torch libopenblas0-openmp) ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-deps.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

if ! command -v dpkg >/dev/null 2>&1; then
  echo "install-deps.sh: no dpkg (not a Debian-based system); make sure the equivalents of these are installed:" >&2
  echo "  ${packages[*]}" >&2
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps.sh: missing Debian packages: ${missing[*]}" >&2
  echo "install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
