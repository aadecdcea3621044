from .config import (compose_model_cfg, load_config, prepare_data,
                     resolve_path)

__all__ = ['compose_model_cfg', 'load_config', 'prepare_data', 'resolve_path']
