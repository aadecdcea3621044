"""Small image helpers shared by the weather renderers."""
import numpy as np

#: Display gamma used to move between sRGB-like values and linear light.
GAMMA = 2.2
#: Largest 8-bit intensity.
MAX_LEVEL = 255.0
#: Image width that pixel sizes in the weather constants refer to.
REFERENCE_WIDTH = 512.0


def to_float(image: np.ndarray) -> np.ndarray:
    """uint8 image -> float32 in [0, 1]."""
    return image.astype(np.float32) / MAX_LEVEL


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] -> rounded, clipped uint8."""
    return np.clip(image * MAX_LEVEL + 0.5, 0, MAX_LEVEL).astype(np.uint8)


def scaled(width: int, value: float) -> float:
    """A pixel size given for REFERENCE_WIDTH-wide images, at ``width``."""
    return value * width / REFERENCE_WIDTH


def scatter(image: np.ndarray, depth: np.ndarray, beta,
            airlight) -> np.ndarray:
    """Koschmieder's law ``J t + A (1 - t)`` with ``t = exp(-beta d)``.

    Args:
        image (np.ndarray): Clear radiance ``J`` (H, W, 3) in [0, 1].
        depth (np.ndarray): Distance along the ray ``d`` (H, W), metres.
        beta (float | np.ndarray): Extinction coefficient (1/m), scalar
            or per pixel (H, W).
        airlight (array-like): Airlight ``A``, RGB.
    """
    t = np.exp(-beta * depth)[..., None]
    return image * t + np.asarray(airlight, np.float32) * (1.0 - t)
