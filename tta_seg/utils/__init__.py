from .checkpoint import (CheckpointError, UnsafeCheckpointError,
                         load_checkpoint_file, load_source_weights,
                         load_state_file)

__all__ = ['CheckpointError', 'UnsafeCheckpointError', 'load_checkpoint_file',
           'load_source_weights', 'load_state_file']
