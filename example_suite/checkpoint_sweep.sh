#!/bin/sh
# A checkpoint sweep as TensorBoard curves (needs: pip install 'pytest-llmeval[tensorboard]').
#
# The demo model ships at two training steps: 40 (the weak copy) and 150 (the model the suite runs
# by default). Each run goes into the history and, at its --llm-step, into the TensorBoard folder
# .llmeval/tensorboard: `tensorboard --logdir example_suite/.llmeval/tensorboard` then draws every
# pass rate (overall, per mode, file and tag) and metric mean as a curve over the steps, with each
# case's output as text. The gate is off: a sweep wants every checkpoint's numbers, not a verdict.
#
# Run it from anywhere: sh example_suite/checkpoint_sweep.sh [more pytest arguments, e.g. -k entities]
set -eu
cd "$(dirname "$0")"
llmeval demo-model .llmeval/demo-model-step40 --weak >/dev/null
for step in 40 150; do
  if [ "$step" = 40 ]; then model=.llmeval/demo-model-step40; else model=.llmeval/demo-model; fi
  # a checkpoint that fails cases still gets its point on the curves
  pytest . -q --tb=no --no-header -p no:cacheprovider --llm-gate=off --llm-model="$model" \
    --llm-step="$step" --llm-tensorboard=.llmeval/tensorboard "$@" | grep -E '^tensorboard: |^[0-9]+ (passed|failed)' || true
done
