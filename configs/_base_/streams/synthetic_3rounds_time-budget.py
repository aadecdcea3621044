# The embedded stream under the time-constrained online protocol (Alfarra
# et al., ICML 2024): frames arrive at the rate of Source inference; a
# method costing k Source forwards adapts on every ceil(k)-th frame and
# predicts the others without adapting. k is measured in the run by
# default; for a reproducible run give a number or a tools/benchmark.py
# JSON (the row of the run's own config), e.g.
#   --cfg-options test_cfg.time_budget.relative_cost=docs/results/benchmark_cpu_r18.json
# Frames skipped while the method is busy get one forward of its current
# model (skip_prediction='forward'; 'adapter': its full prediction).
_base_ = ['./synthetic_3rounds.py']
test_cfg = dict(time_budget=dict(relative_cost='measure', measure_frames=5,
                                 skip_prediction='forward'))
