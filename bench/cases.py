"""The benchmark's networks and rows, shared by the data generator, the PyTorch engine and the report.

Each row is (id, network, batch, inference). The C++ engines hard-code the same architectures as
types and check them against the header of the data file, so a mismatch is an error, not a skew.
"""

# name: (layer sizes, hidden activation per layer (last entry = output activation), loss)
NETWORKS = {
    "seed": ([2, 3], ["identity"], "mse"),
    "xor": ([2, 8, 1], ["tanh", "sigmoid"], "bce"),
    "cancer": ([30, 16, 16, 1], ["relu", "relu", "sigmoid"], "bce"),
    "mnist": ([784, 128, 10], ["relu", "identity"], "ce"),
    "wide": ([256, 256, 256, 256], ["relu", "relu", "identity"], "mse"),
}

# (row id, network, batch, inference only)
ROWS = [
    ("seed_b2", "seed", 2, False),
    ("xor_b1", "xor", 1, False),
    ("xor_b4", "xor", 4, False),
    ("cancer_b1", "cancer", 1, False),
    ("cancer_b32", "cancer", 32, False),
    ("mnist_b1", "mnist", 1, False),
    ("mnist_b64", "mnist", 64, False),
    ("wide_b64", "wide", 64, False),
    ("cancer_infer_b1", "cancer", 1, True),
    ("mnist_infer_b1", "mnist", 1, True),
]

LR = 0.01
VERIFY_STEPS = 10


def matmul_flops(net, batch, inference):
    """Matmul FLOPs per step, counting a multiply-add as 2. Forward F = 2·B·Σ in·out over the layers;
    a training step adds dL/dW (another F) and dL/dX for every layer but the first (no engine computes
    the gradient of the input): 3F − 2·B·in₀·out₀. The issue's "≈ 3F" would overstate the work done
    (by 1.5× for the 2-layer mnist network). Activations, loss, bias and update are not counted."""
    sizes = NETWORKS[net][0]
    fwd = 2 * batch * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    if inference:
        return fwd
    return 3 * fwd - 2 * batch * sizes[0] * sizes[1]
