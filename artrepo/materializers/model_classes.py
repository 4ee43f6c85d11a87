"""Well-known model classes, recognised by name: a model saved with no type is typed MODEL.

ZenML's integrations type these MODEL through their materializers
(SklearnMaterializer, PyTorchModuleMaterializer, KerasMaterializer…).
artrepo pickles them like any other object, but recognises them by the
module and name of a class in their MRO, so that neither scikit-learn nor
torch nor tensorflow is imported to decide.

    is_model_class(sklearn.svm.SVC)  # True
"""
from __future__ import annotations

# (top-level package, class name): a class in the MRO with that name, defined in that package.
MODEL_BASES = frozenset({
    ("sklearn", "BaseEstimator"),            # every estimator (and the xgboost/lightgbm sklearn APIs)
    ("torch", "Module"),                     # torch.nn.Module, lightning modules
    ("keras", "Model"), ("tf_keras", "Model"), ("tensorflow", "Model"),
    ("xgboost", "Booster"), ("lightgbm", "Booster"), ("catboost", "CatBoost"),
    ("transformers", "PreTrainedModel"), ("transformers", "TFPreTrainedModel"),
    ("transformers", "PreTrainedTokenizerBase"),
    ("pyspark", "Transformer"), ("pyspark", "Estimator"),
    ("neuralprophet", "NeuralProphet"),
})


def is_model_class(t: type) -> bool:
    """Whether `t` is (a subclass of) one of the MODEL_BASES."""
    for klass in getattr(t, "__mro__", ()):
        package = getattr(klass, "__module__", "").partition(".")[0]
        if (package, klass.__name__) in MODEL_BASES:
            return True
    return False
