"""Contract tests over every method config and every registered adapter.

Each distinct adapter of the ``configs/<method>/*.py`` files is run with
its own hyper-parameters on the tiny segmentors (one test per adapter type
and segmentor kind; :mod:`tests.contract`): it must run, keep output shapes,
stay finite, be label-blind, start its teacher at the source weights and
reset exactly. On a user's own ``BaseSegmentor`` without ``decode_head``
(``'plain'``) an adapter either meets the same contract or refuses when it
is built, with a message naming what it needs.
"""

import pytest

from tests.contract import (build, build_or_refusal, check_contract,
                            configured_types, distinct_adapters,
                            method_configs)
from tests.tiny import make_batch
from tta_seg.apis.config import registered_adapters
from tta_seg.registry import MODELS

#: Adapter types of the method configs, read cheaply at collection; each
#: test builds every distinct adapter of its type from the parsed configs.
TYPES = configured_types()


@pytest.mark.slow
def test_every_registered_adapter_has_a_config():
    configured = {cfg['type'] for _, cfg in method_configs()}
    assert configured == set(TYPES)  # the cheap reading found them all
    # tests register adapters of their own (in tests/ or temporary
    # modules): only the package's must have a config
    shipped = {name for name in registered_adapters()
               if MODELS.get(name).__module__.startswith('tta_seg.')}
    missing = shipped - configured
    assert not missing, f'adapters without a method config: {missing}'


@pytest.mark.slow
@pytest.mark.parametrize('kind', ['bn', 'ln', 'plain'])
@pytest.mark.parametrize('adapter_type', TYPES)
def test_contract(adapter_type, kind):
    cases = distinct_adapters(adapter_type)
    assert cases, f'no method config uses {adapter_type}'
    for path, adapter_cfg in cases.items():
        adapter = build_or_refusal(adapter_cfg, kind)
        if adapter is not None:
            check_contract(adapter)


def test_diga_runs_on_a_plain_segmentor_given_its_classifier():
    cfg = next(iter(distinct_adapters('DIGA').values()))
    check_contract(build(dict(cfg, classifier_name='classifier'), 'plain'))


def test_adapter_never_receives_labels_or_paths(monkeypatch):
    adapter = build(dict(type='TENT', optim_wrapper=dict(
        optimizer=dict(type='Adam', lr=1e-3))), 'bn')
    seen = []
    original = type(adapter).forward_and_adapt

    def spy(self, inputs, metas):
        seen.extend(metas)
        return original(self, inputs, metas)

    monkeypatch.setattr(type(adapter), 'forward_and_adapt', spy)
    adapter.test_step(make_batch())
    assert seen
    for meta in seen:
        assert not any('path' in k for k in meta)
        assert 'gt_sem_seg' not in meta


def test_a_segmentor_without_inference_is_refused_at_build():
    """``inference`` is EncoderDecoder's, not BaseSegmentor's: an adapter
    built on a segmentor without it says so at once."""
    from tests.tiny import TinyPlainSegmentor, tiny_segmentor_cfg

    class NoInference(TinyPlainSegmentor):
        inference = None

    cfg = tiny_segmentor_cfg('plain')
    seg = NoInference(data_preprocessor=cfg['data_preprocessor'])
    with pytest.raises(TypeError, match='TENT needs a segmentor with '
                       'inference: NoInference lacks it'):
        MODELS.build(dict(type='TENT', segmentor=seg, optim_wrapper=dict(
            optimizer=dict(type='Adam', lr=1e-3))))
