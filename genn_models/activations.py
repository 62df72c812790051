"""Transfer functions as code-string expressions, shared by every rate-neuron family.

Each entry turns an argument expression into a C expression of the GeNN 5 code language, so a
model's code reads ``r = <phi(u_hat)>``. ``threshold`` is the parameter name that bounds the
piecewise forms (it must be a parameter of the model that uses them).

| name             | definition                                                            |
|------------------|-----------------------------------------------------------------------|
| ``sigmoid``      | 1 / (1 + exp(-x))                                                     |
| ``soft_relu``    | 0 if x < -theta; log(1 + exp(x)) if abs(x) <= theta; x if x > theta     |
| ``sigmoid_stable`` | sigmoid, clamped to 0 below -theta and to 1 above theta             |

(Max et al., arXiv:2212.10249, and its reference configurations: sigmoid in every shipped config.)
"""

ACTIVATIONS = ("sigmoid", "soft_relu", "sigmoid_stable")


def activation_expression(name, arg, threshold="threshold"):
    """C expression for transfer function ``name`` applied to the expression ``arg``."""
    x = f"({arg})"
    if name == "sigmoid":
        return f"(1.0 / (1.0 + exp(-{x})))"
    if name == "soft_relu":
        return f"({x} < -{threshold} ? 0.0 : ({x} > {threshold} ? {x} : log1p(exp({x}))))"
    if name == "sigmoid_stable":
        return (f"({x} < -{threshold} ? 0.0 : ({x} > {threshold} ? 1.0 : "
                f"(1.0 / (1.0 + exp(-{x})))))")
    raise ValueError(f"unknown activation '{name}' (choose one of {', '.join(ACTIVATIONS)})")


def activation_numpy(name, x, threshold=15.0):
    """The same functions in NumPy (for readouts and tests)."""
    import numpy as np
    x = np.asarray(x)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if name == "soft_relu":
        return np.where(x < -threshold, 0.0, np.where(x > threshold, x, np.log1p(np.exp(np.minimum(x, threshold)))))
    if name == "sigmoid_stable":
        return np.where(x < -threshold, 0.0, np.where(x > threshold, 1.0, 1.0 / (1.0 + np.exp(-x))))
    raise ValueError(f"unknown activation '{name}' (choose one of {', '.join(ACTIVATIONS)})")
