"""The benchmark's networks and rows, shared by the data generator, the PyTorch engine and the report.

Each row is (id, network, batch, inference). The C++ engines hard-code the same architectures as
types and check them against the header of the data file, so a mismatch is an error, not a skew.
(The libtorch engine builds the convolutional networks from the module list written into their
data files, i.e. from CONV_NETWORKS below.)
"""

# name: (layer sizes, hidden activation per layer (last entry = output activation), loss)
NETWORKS = {
    "seed": ([2, 3], ["identity"], "mse"),
    "xor": ([2, 8, 1], ["tanh", "sigmoid"], "bce"),
    "cancer": ([30, 16, 16, 1], ["relu", "relu", "sigmoid"], "bce"),
    "mnist": ([784, 128, 10], ["relu", "identity"], "ce"),
    "wide": ([256, 256, 256, 256], ["relu", "relu", "identity"], "mse"),
}

# Convolutional networks: name -> (input size, output size, loss, modules). The modules are PyTorch's
# nn.Sequential, in order, one per string: "<kind> <int args...> [key=int ...]", with the arguments of
# the torch.nn constructor (Conv1d(in, out, kernel, stride=, padding=), MaxPool1d(kernel), Unflatten's
# shape after the batch dimension, Linear(in, out)). gen_data.py writes this text into the row file,
# so the parameters are those of the modules with weights, in state_dict order (weight [O, C, K...], bias [O]).
CONV_NETWORKS = {
    # A 1-D conv net on a 360-sample (one second at 360 Hz, MIT-BIH's rate) ECG window, binary label.
    "ecg": (360, 1, "bce", [
        "unflatten 1 360",
        "conv1d 1 8 7 stride=2",
        "relu",
        "maxpool1d 2",
        "conv1d 8 16 5",
        "relu",
        "maxpool1d 2",
        "conv1d 16 16 5",
        "relu",
        "adaptiveavgpool1d 1",
        "flatten",
        "linear 16 1",
        "sigmoid",
    ]),
    # The 8x8 digits of scikit-learn (UCI optdigits), 10 classes.
    "digits": (64, 10, "ce", [
        "unflatten 1 8 8",
        "conv2d 1 16 3 padding=1",
        "relu",
        "maxpool2d 2",
        "conv2d 16 32 3 padding=1",
        "relu",
        "adaptiveavgpool2d 1",
        "flatten",
        "linear 32 10",
    ]),
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
    # Convolutional rows last, so that the dense rows keep their data (gen_data seeds by position).
    ("ecg_b1", "ecg", 1, False),
    ("ecg_b32", "ecg", 32, False),
    ("digits_b1", "digits", 1, False),
    ("digits_b64", "digits", 64, False),
    ("ecg_infer_b1", "ecg", 1, True),
]

LR = 0.01
VERIFY_STEPS = 10


def is_conv(net):
    return net in CONV_NETWORKS


def parse_module(text):
    """ "conv1d 1 8 7 stride=2" -> ("conv1d", [1, 8, 7], {"stride": 2})."""
    kind, *rest = text.split()
    args = [int(v) for v in rest if "=" not in v]
    kwargs = {k: int(v) for k, v in (r.split("=") for r in rest if "=" in r)}
    return kind, args, kwargs


def conv_layers(net):
    """The layers with weights of a convolutional network, with their shapes worked out:
    a list of (kind, weight shape, output shape per sample, MACs per sample)."""
    size, _, _, modules = CONV_NETWORKS[net]
    shape = [size]  # per sample, without the batch dimension
    out = []
    for text in modules:
        kind, args, kw = parse_module(text)
        if kind == "unflatten":
            shape = list(args)
        elif kind in ("conv1d", "conv2d"):
            c, o, k = args
            s, p = kw.get("stride", 1), kw.get("padding", 0)
            spatial = [(n + 2 * p - k) // s + 1 for n in shape[1:]]
            weight = [o, c] + [k] * len(spatial)
            shape = [o] + spatial
            taps = c * k ** len(spatial)
            out.append((kind, weight, list(shape), o * taps * _prod(spatial)))
        elif kind in ("maxpool1d", "maxpool2d"):
            shape = [shape[0]] + [n // args[0] for n in shape[1:]]
        elif kind in ("adaptiveavgpool1d", "adaptiveavgpool2d"):
            shape = [shape[0]] + [1] * (len(shape) - 1)
        elif kind == "flatten":
            shape = [_prod(shape)]
        elif kind == "linear":
            shape = [args[1]]
            out.append((kind, [args[1], args[0]], list(shape), args[0] * args[1]))
        elif kind not in ("relu", "sigmoid", "tanh"):
            raise ValueError(f"{net}: unknown module {text!r}")
    return out


def _prod(v):
    r = 1
    for n in v:
        r *= n
    return r


def matmul_flops(net, batch, inference):
    """FLOPs per step of the layers with weights, counting a multiply-add as 2.

    Convolutional networks: forward F = 2·B·Σ MACs over the conv and linear layers (a conv layer's MACs
    = output positions · out channels · in channels/groups · kernel taps, taps in the padding
    included, as PyTorch's profilers count them); a training step = 3F − 2·B·MACs₀ (the weight
    gradient and the input gradient each cost one more F, and no engine computes the first layer's
    input gradient), as for the dense networks below. Pooling, activations, loss, bias and update are
    not counted.

    Dense networks: matmul FLOPs per step, counting a multiply-add as 2. Forward F = 2·B·Σ in·out over the layers;
    a training step adds dL/dW (another F) and dL/dX for every layer but the first (no engine computes
    the gradient of the input): 3F − 2·B·in₀·out₀. The issue's "≈ 3F" would overstate the work done
    (by 1.5× for the 2-layer mnist network). Activations, loss, bias and update are not counted."""
    if is_conv(net):
        layers = conv_layers(net)
        fwd = 2 * batch * sum(macs for *_, macs in layers)
        return fwd if inference else 3 * fwd - 2 * batch * layers[0][3]
    sizes = NETWORKS[net][0]
    fwd = 2 * batch * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    if inference:
        return fwd
    return 3 * fwd - 2 * batch * sizes[0] * sizes[1]
