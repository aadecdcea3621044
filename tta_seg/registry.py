"""tta_seg registries: children of mmseg's, so every mmseg/mmengine
component (``EncoderDecoder``, ``CityscapesDataset``, ``IoUMetric``,
``Adam``...) is found from a ``default_scope='tta_seg'`` config, and
tta_seg's own components are imported lazily from ``locations``.

Users add their own adapters, layers or datasets in a module of their own::

    from tta_seg.registry import MODELS

    @MODELS.register_module()
    class MyAdapter(BaseAdapter): ...

and load it with ``custom_imports = dict(imports=['my_module'])`` in a config.
"""
from mmengine.registry import Registry
from mmseg.utils import register_all_modules
from mmseg.registry import DATA_SAMPLERS as MMSEG_DATA_SAMPLERS
from mmseg.registry import DATASETS as MMSEG_DATASETS
from mmseg.registry import EVALUATOR as MMSEG_EVALUATOR
from mmseg.registry import HOOKS as MMSEG_HOOKS
from mmseg.registry import LOOPS as MMSEG_LOOPS
from mmseg.registry import METRICS as MMSEG_METRICS
from mmseg.registry import MODELS as MMSEG_MODELS
from mmseg.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMSEG_OPTIM_WRAPPER_CONSTRUCTORS
from mmseg.registry import OPTIM_WRAPPERS as MMSEG_OPTIM_WRAPPERS
from mmseg.registry import OPTIMIZERS as MMSEG_OPTIMIZERS
from mmseg.registry import LOG_PROCESSORS as MMSEG_LOG_PROCESSORS
from mmseg.registry import PARAM_SCHEDULERS as MMSEG_PARAM_SCHEDULERS
from mmseg.registry import TRANSFORMS as MMSEG_TRANSFORMS
from mmseg.registry import VISBACKENDS as MMSEG_VISBACKENDS
from mmseg.registry import VISUALIZERS as MMSEG_VISUALIZERS
from mmseg.registry import WEIGHT_INITIALIZERS as MMSEG_WEIGHT_INITIALIZERS

# Child registries look keys up in their parents' tables without importing
# the parents' lazy locations, so mmseg's modules are registered here.
register_all_modules(init_default_scope=False)
import mmseg.visualization  # noqa: E402,F401  (SegLocalVisualizer)

MODELS = Registry(
    'model', parent=MMSEG_MODELS,
    locations=['tta_seg.adapters', 'tta_seg.models'])
LOOPS = Registry('loop', parent=MMSEG_LOOPS, locations=['tta_seg.engine'])
HOOKS = Registry('hook', parent=MMSEG_HOOKS, locations=['tta_seg.engine'])
DATASETS = Registry(
    'dataset', parent=MMSEG_DATASETS, locations=['tta_seg.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMSEG_TRANSFORMS, locations=['tta_seg.datasets'])
METRICS = Registry(
    'metric', parent=MMSEG_METRICS, locations=['tta_seg.evaluation'])
OPTIMIZERS = Registry(
    'optimizer', parent=MMSEG_OPTIMIZERS, locations=['tta_seg.optim'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper', parent=MMSEG_OPTIM_WRAPPERS,
    locations=['tta_seg.engine'])

# Pass-through children (nothing of ours yet), so every registry the Runner
# builds from in the 'tta_seg' scope exists and resolves to mmseg's.
DATA_SAMPLERS = Registry('data sampler', parent=MMSEG_DATA_SAMPLERS)
EVALUATOR = Registry('evaluator', parent=MMSEG_EVALUATOR)
PARAM_SCHEDULERS = Registry('parameter scheduler',
                            parent=MMSEG_PARAM_SCHEDULERS)
LOG_PROCESSORS = Registry('log_processor', parent=MMSEG_LOG_PROCESSORS)
VISBACKENDS = Registry('vis_backend', parent=MMSEG_VISBACKENDS)
VISUALIZERS = Registry('visualizer', parent=MMSEG_VISUALIZERS)
WEIGHT_INITIALIZERS = Registry('weight initializer',
                               parent=MMSEG_WEIGHT_INITIALIZERS)
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=MMSEG_OPTIM_WRAPPER_CONSTRUCTORS)
