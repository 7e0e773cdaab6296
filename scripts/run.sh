#!/usr/bin/env bash
# The last step of `make run`: the MQTT ingest worker (and, with a rate above 0, the sensor
# simulator) in the background, the app in the foreground. When the app ends (Ctrl-C), the
# background processes are stopped too; the worker stores what it buffered before it exits.
#
#   scripts/run.sh PORT [SIM_RATE]
set -euo pipefail
cd "$(dirname "$0")/.."

port=${1:-8501}
rate=${2:-0}
bin=.venv/bin
logs=$("$bin/python" -c 'from twin.config import get_settings; print(get_settings().cluster_dir.resolve() / "log")')
mkdir -p "$logs"

pids=()
stop_background() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_background EXIT
trap 'exit 130' INT TERM

"$bin/twin" ingest mqtt >>"$logs/mqtt-worker.log" 2>&1 &
pids+=("$!")
echo "run: MQTT ingest worker started (log: $logs/mqtt-worker.log)" >&2
if [ "$rate" != 0 ]; then
  "$bin/twin" simulate --rate "$rate" --duration 0 >>"$logs/simulate.log" 2>&1 &
  pids+=("$!")
  echo "run: simulating the synthetic sensors at $rate msg/s (log: $logs/simulate.log)" >&2
fi
"$bin/twin" serve app --port "$port"
