"""One continual-TTA run from a config: the library side of
``tools/test_tta.py``, shared by the command line and the sweeps
(:mod:`tta_seg.sweep`), which run it inside Ray workers."""
import logging
import os
from typing import List, Optional

from mmengine.config import Config
from mmengine.runner import Runner

from tta_seg.utils.lock import work_dir_lock
from .config import compose_model_cfg, load_config, prepare_data
from .values import check_values


def build_run_cfg(config: str, work_dir: Optional[str] = None,
                  cfg_options: Optional[dict] = None,
                  seed: Optional[int] = None, resume: bool = False,
                  data_roots: Optional[List[str]] = None,
                  checkpoint: Optional[str] = None,
                  unsafe_checkpoint: bool = False,
                  deterministic: bool = False, launcher: str = 'none',
                  show_dir: Optional[str] = None,
                  track: Optional[List[str]] = None) -> Config:
    """The resolved config of a run: overrides checked and merged
    (:func:`~tta_seg.apis.config.load_config`), seed and resume set, the
    adapter composed around the source segmentor, its values checked
    (:func:`~tta_seg.apis.values.check_values`). Arguments are those of
    ``tools/test_tta.py``; ``track`` names visualizer backends that
    receive the run live (:mod:`tta_seg.engine.hooks.live_tracking`)."""
    cfg = load_config(config, cfg_options, launcher, work_dir, data_roots)
    randomness = dict(cfg.get('randomness', {}))
    if seed is not None:
        randomness['seed'] = seed
    if deterministic:
        randomness['deterministic'] = True
    cfg.randomness = randomness
    cfg.test_cfg.resume = resume
    if show_dir:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='ShowPredictionsHook', out_dir=show_dir)]
    if track:
        from tta_seg.engine.hooks.live_tracking import tracking_cfg
        tracking = tracking_cfg(track)
        cfg.visualizer = tracking['visualizer']
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            tracking['hook']]
    cfg = compose_model_cfg(cfg, checkpoint, unsafe_checkpoint)
    check_values(cfg)
    return cfg


def build_runner(cfg: Config, verbose: bool = False) -> Runner:
    """The Runner; unless ``verbose``, without mmengine's environment and
    config dump on the console (the config is still saved in the work
    dir), and with the run's own INFO lines kept."""
    if verbose:
        return Runner.from_cfg(cfg)
    level = cfg.get('log_level', 'INFO')
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    cfg.log_level = level
    for handler in runner.logger.handlers:
        handler.setLevel(logging._nameToLevel.get(str(level), level))
    return runner


def run_tta(cfg: Config, verbose: bool = False) -> dict:
    """Lock the work dir (one run at a time: :mod:`tta_seg.utils.lock`),
    generate the embedded data if the config needs it, build the Runner
    and run the stream; returns the loop's ``dict(mean_mIoU=...)``.

    Raises:
        WorkDirBusy: Another run holds the work dir; nothing was written.
    """
    with work_dir_lock(cfg.work_dir):
        prepare_data(cfg)
        runner = build_runner(cfg, verbose)
        model = cfg.model
        runner.logger.info(
            f"{model['type']} on {os.path.basename(cfg.filename or '')}: "
            f"source weights {model.get('source_checkpoint')}, work dir "
            f'{cfg.work_dir}')
        return runner.test()
