# The embedded stream with a new random domain order every round, drawn
# from the run's seed (--seed); results.json lists the orders used.
_base_ = ['./synthetic_3rounds.py']
test_cfg = dict(order='random')
