"""The observe stage: simulated outputs to observables.

Compiled observable formulas (:func:`compile_kernel`) and normalizations of
simulated trajectories (:func:`normalize`).
"""

from ._kernels import Kernel, compile_kernel
from ._transforms import NormSpec, normalize, normalize_values

__all__ = ["Kernel", "NormSpec", "compile_kernel", "normalize", "normalize_values"]
