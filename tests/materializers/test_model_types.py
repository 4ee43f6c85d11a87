"""Issue 12 item 10 (part): a model saved with no type is typed MODEL, as ZenML's integrations type it.

Recognised by the module and name of a class in its MRO (scikit-learn
estimators, torch modules, keras models, xgboost/lightgbm boosters…),
without importing those libraries.
"""
import subprocess
import sys
import warnings

import numpy as np
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from artrepo import ArtifactType, load_artifact, pipeline, save_artifact, step


def fake_class(module: str, name: str) -> type:
    """A class that looks like the library's own base class, without the library."""
    return type(name, (), {"__module__": module})


def test_scikit_learn_estimators_saved_with_no_type_are_models(project):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "no materializer" warning: pickling is how these are stored
        model = save_artifact(SVC(gamma=0.001), "my_model", version="1")
        scaler = save_artifact(StandardScaler(), "scaler")
    assert model.type is ArtifactType.MODEL and scaler.type is ArtifactType.MODEL
    assert model.materializer == "cloudpickle/v1"
    assert isinstance(load_artifact("my_model"), SVC)


def test_a_step_returning_an_estimator_types_its_output_model(project):
    @step
    def train():
        return LinearRegression().fit(np.arange(4).reshape(-1, 1), np.arange(4))

    @pipeline
    def training():
        train()

    run = training()
    assert run.steps["train"].outputs["output"].type is ArtifactType.MODEL


def test_the_well_known_model_bases_are_recognised_by_name(project):
    torch_module = fake_class("torch.nn.modules.module", "Module")
    keras_model = fake_class("keras.src.models.model", "Model")
    booster = fake_class("xgboost.core", "Booster")
    for base in (torch_module, keras_model, booster):
        net = type("Net", (base,), {"__module__": "mynets"})()
        assert save_artifact(net, f"net_{base.__module__.split('.')[0]}").type is ArtifactType.MODEL
    look_alike = type("Model", (), {"__module__": "mylib.keras_like"})()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert save_artifact(look_alike, "not_a_model").type is ArtifactType.DATA
    assert any("no materializer for mylib.keras_like.Model" in str(w.message) for w in caught)


def test_an_explicit_type_wins(project):
    assert save_artifact(SVC(), "svc_as_data", artifact_type=ArtifactType.DATA).type is ArtifactType.DATA


def test_deciding_imports_none_of_the_libraries():
    code = ("import sys\nfrom artrepo.materializers.model_classes import is_model_class\n"
            "Module = type('Module', (), {'__module__': 'torch.nn.modules.module'})\n"
            "assert is_model_class(type('Net', (Module,), {})) and not is_model_class(dict)\n"
            "print(sorted(m for m in ('torch', 'sklearn', 'tensorflow', 'keras', 'xgboost') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr
