_base_ = [
    '../_base_/models/deeplabv3plus_r18_synthetic.py',
    '../_base_/streams/synthetic_3rounds_time-budget.py',
    '../_base_/default_runtime.py',
    '../_base_/adapters/cotta.py'
]
# CoTTA under the time budget. relative_cost: its step costs 21.35 Source
# forwards on the 2-core CPU at 128x256 (docs/results/benchmark_cpu_r18.json),
# so it adapts on every 22nd frame; the others get one forward of its
# teacher (skip_prediction='forward'; 'adapter' gives them the gated
# 14-view prediction, whose cost the protocol does not charge).
test_cfg = dict(time_budget=dict(relative_cost=21.35))
