"""Where the flagship example's compile time goes. Copies of examples/03 are compiled with the
flagship's own command (bench/driver.py): without its weights-file I/O (save_weights and
load_weights removed, the model copied instead), and with that I/O replaced by the least use of
nlohmann-json any safetensors header reader and writer needs (nlohmann_floor.hpp). A TU holding
only `#include <nlohmann/json.hpp>` gives the cost of parsing that header. The copies are made
from the example at bench time, so they follow it; a change that removes the lines replaced here
fails loudly."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
FLAGSHIP = "examples/03_breast_cancer_diagnosis.cpp"

SAVE = "  tg::save_weights(model.net, file, meta);\n"
LOAD = "  reloaded.scaler.from_metadata(tg::load_weights(reloaded.net, file));\n"
REMOVE = "  std::filesystem::remove(file);\n"


def variants(flagship_source):
    """(label, source text) of each variant of the flagship source."""
    for marker in (SAVE, LOAD, REMOVE):
        if marker not in flagship_source:
            raise SystemExit(f"bench: {FLAGSHIP} no longer has the line {marker.strip()!r} that "
                             "bench/compile_cost/flagship_variants.py replaces; update it")
    no_io = flagship_source.replace(SAVE, "").replace(
        LOAD, "  reloaded.net = model.net;\n  reloaded.scaler = model.scaler;\n")
    floor = open(os.path.join(HERE, "nlohmann_floor.hpp")).read().replace("#pragma once\n", "")
    with_floor = floor + no_io.replace(
        REMOVE, "  std::printf(\"(%zu)\\n\", floor_probe::read_and_write(file.string()));\n" + REMOVE)
    return [
        ("flagship without save_weights / load_weights", no_io),
        ("flagship with them replaced by a do-nothing nlohmann-json reader and writer", with_floor),
        ("only `#include <nlohmann/json.hpp>`", "#include <nlohmann/json.hpp>\nint main() {}\n"),
    ]
