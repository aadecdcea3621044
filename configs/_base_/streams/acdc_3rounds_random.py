# The 3-round CoTTA protocol with a new random domain order every round,
# drawn from the run's seed; results.json lists the orders used.
_base_ = ['./acdc_3rounds.py']
test_cfg = dict(order='random')
