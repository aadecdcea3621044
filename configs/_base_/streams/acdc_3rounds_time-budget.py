# The 3-round CoTTA protocol under the time-constrained online protocol
# (Alfarra et al., ICML 2024): a method costing k Source forwards adapts on
# every ceil(k)-th frame. k is measured in the run unless given (a number,
# or a tools/benchmark.py JSON measured with the same config, e.g.
# docs/results/benchmark_h200_r50.json).
# Frames skipped while the method is busy get one forward of its current
# model (skip_prediction='forward'; 'adapter': its full prediction).
_base_ = ['./acdc_3rounds.py']
test_cfg = dict(time_budget=dict(relative_cost='measure', measure_frames=5,
                                 skip_prediction='forward'))
