from .live_tracking import LiveTrackingHook
from .show_predictions import ShowPredictionsHook

__all__ = ['LiveTrackingHook', 'ShowPredictionsHook']
