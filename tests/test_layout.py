"""The project's shape: few scripts at the top, imports that run one way (down), and
scripts that do not pay for Keras where they do not need it."""
import ast
import subprocess
import sys

import pytest

from helpers import ROOT

# Each layer may import from the layers above it in this list, never from its own or a later
# one, except a module of its own package. app/ and training/ are independent of each other.
LAYERS = [
    ["data", "common", "common.native_logs", "common.stopping", "common.entry_point", "common.plots"],
    ["artefacts"],
    ["common.arguments", "model"],
    ["inference"],
    ["app", "training"],
    ["batch_analysis", "service"],
    ["main", "train", "evaluate", "export", "batch", "serve"],
]
PACKAGES = ("app", "batch_analysis", "common", "inference", "service", "training")


def project_modules():
    """{dotted name: path} of every module of the product (not its tests or benchmarks)."""
    modules = {path.stem: path for path in ROOT.glob("*.py")}
    for package in PACKAGES:
        for path in (ROOT / package).glob("*.py"):
            modules[f"{package}.{path.stem}".removesuffix(".__init__")] = path
    return modules


def imports_of(path, modules):
    """The project modules that the module at `path` imports, at its top or in a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in modules}
    return found


def layer_of(module):
    """Its layer: the one that names it, else the one that names its package."""
    for name in (module, module.split(".")[0]):
        for index, layer in enumerate(LAYERS):
            if name in layer:
                return index
    raise AssertionError(f"{module} is in no layer of tests/test_layout.py")


def test_imports_run_down_the_layers_and_never_in_a_circle():
    modules = project_modules()
    graph = {name: imports_of(path, modules) - {name} for name, path in modules.items()}
    upward = [f"{name} imports {target}" for name, targets in graph.items() for target in targets
              if layer_of(target) >= layer_of(name) and target.split(".")[0] != name.split(".")[0]]
    assert not upward

    def visit(name, trail):
        assert name not in trail, "import circle: " + " -> ".join(trail + [name])
        for target in graph[name]:
            visit(target, trail + [name])
    for name in graph:
        visit(name, [])


def test_the_top_level_holds_at_most_nine_scripts_and_modules():
    # six scripts (main, train, evaluate, export, batch, serve) and the design card's model.py,
    # data.py and artefacts.py (the on-disk format)
    assert len(list(ROOT.glob("*.py"))) <= 9


@pytest.mark.parametrize("module", ["main", "train", "evaluate", "export", "batch", "serve"])
def test_importing_a_script_does_not_import_keras(module):
    code = f"import sys; import {module}; print('keras' in sys.modules or 'tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
