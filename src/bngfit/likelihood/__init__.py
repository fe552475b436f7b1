"""The likelihood stage: noise families (negative log-likelihood kernels with
their derivatives) and penalties (PyBNF constraints).
"""

from ._noise import kernel_terms, laplace, neg_binomial, normal, student_t
from ._penalties import penalty

__all__ = ["kernel_terms", "laplace", "neg_binomial", "normal", "penalty", "student_t"]
