#!/usr/bin/env bash
# kill -9 at random moments under QoS 1/2 load, many rounds: every round starts mq broker with
# persistence, runs MQTT 3.1.1 and 5 publishers and a persistent subscriber, kills the broker at a random
# moment, restarts it, and checks that every acknowledged message arrives and no QoS 2 message twice.
# CI runs 2 rounds of the same test; this runs ROUNDS (default 200).
set -euo pipefail
cd "$(dirname "$0")/.."
MQ_CRASH_ROUNDS=${ROUNDS:-200} cargo test --release -p mq --test e2e \
  a_kill_at_a_random_moment_loses_nothing_acknowledged -- --nocapture --test-threads 1
