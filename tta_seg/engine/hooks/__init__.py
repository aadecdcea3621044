from .show_predictions import ShowPredictionsHook

__all__ = ['ShowPredictionsHook']
