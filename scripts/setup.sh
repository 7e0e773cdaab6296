#!/usr/bin/env bash
# Install what a make target needs and is missing: Debian packages (as root) and the Python venv.
# Idempotent and quick when everything is already there.
#
#   scripts/setup.sh run     PostgreSQL 15 + PostGIS 3, mosquitto (make run, db, mqtt, load)
#   scripts/setup.sh test    + chromium (browser tests), mosquitto (MQTT tests), gdal-bin (ogr2ogr)
#                            and python3-qgis (QGIS edits the register) (make lint, test)
#   scripts/setup.sh bench   + gdal-bin, for ogr2ogr, and mosquitto (make bench)
#   scripts/setup.sh [all]   everything above (make setup)
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:-all}
postgis=0 chromium=0 mosquitto=0 gdal=0 qgis=0
case $target in
  run) postgis=1 mosquitto=1 ;;
  test) postgis=1 chromium=1 mosquitto=1 gdal=1 qgis=1 ;;
  bench) postgis=1 gdal=1 mosquitto=1 ;;
  all) postgis=1 chromium=1 mosquitto=1 gdal=1 qgis=1 ;;
  *)
    echo "usage: scripts/setup.sh [run|test|bench|all] (got: $target)" >&2
    exit 2
    ;;
esac

need=()
if ((postgis)) && [ ! -f /usr/share/postgresql/15/extension/postgis.control ]; then
  need+=(postgresql-15-postgis-3)
fi
if ((chromium)) && [ ! -x /usr/bin/chromium ]; then # the browser tests run /usr/bin/chromium
  need+=(chromium)
fi
if ((mosquitto)) && [ ! -x /usr/sbin/mosquitto ] && ! command -v mosquitto >/dev/null; then
  need+=(mosquitto)
fi
if ((gdal)) && ! command -v ogr2ogr >/dev/null; then
  need+=(gdal-bin)
fi
if ((qgis)) && ! /usr/bin/python3 -c 'import qgis.core' 2>/dev/null; then # Debian's Python
  need+=(python3-qgis)
fi
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian packages for '$target': ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "setup: '$target' needs missing system packages: ${need[*]}; run: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi

py=${PYTHON:-}
if [ -z "$py" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      py=$candidate; break
    fi
  done
fi
if [ -z "$py" ]; then
  echo "setup: Python 3.11 not found; install it (apt-get install python3.11-venv) or set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $py" >&2
  "$py" -m venv .venv
fi
stamp=.venv/.twin-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  echo "setup: installing Python packages into .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -c constraints.txt -e '.[dev]'
  touch "$stamp"
fi
