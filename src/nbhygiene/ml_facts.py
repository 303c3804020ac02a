"""Data lineage and machine-learning events of a whole notebook, shared by the ML-pitfall rules (NBH3xx).

Built once per notebook (``NotebookAnalysis.ml``) by one pass over the module-level statements of the
code cells in notebook order, which is what "Restart & Run All" executes. The pass is a tiny abstract
interpreter over values, not over names:

* every binding creates a :class:`Value` that records the values it was derived from
  (``a = f(b)``, ``a = b[...]``, ``a, b = g(c)``, ``a += b``, ``df["x"] = ...`` all derive), so a name
  re-bound later (``X = scaler.fit_transform(X)``) is a new value and the order of events is kept;
* scikit-learn-style objects are :class:`Estimator`\\ s (created by a known constructor, or by the first
  ``.fit`` on an unknown object), and their method calls are events: :class:`Fit` (``fit``,
  ``fit_transform``, ``fit_resample``, ``partial_fit``), :class:`Apply` (``transform``),
  :class:`Prediction` (``predict``, ``predict_proba``, ...), :class:`Evaluation` (``score``, a metric
  of a prediction, ``Display.from_estimator``), :class:`Split` (``train_test_split`` by position:
  even outputs are the train side, odd ones the test side; ``KFold(...).split`` yields train and test
  indexes) and :class:`CrossValidation` (``cross_val_score`` & co., ``GridSearchCV(...).fit``);
* calls that draw random numbers and calls that seed a generator are recorded for
  ``unseeded-randomness``.

Estimators passed to a ``Pipeline``/``make_pipeline``/``ColumnTransformer``/search/ensemble are
marked ``contained``: they are fitted by their container, fold by fold, so they never leak.

Function bodies are not interpreted (a call to a notebook function is an opaque value derived from its
arguments), except that random draws and seeds inside them count where the function is defined.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbhygiene.analysis import NotebookAnalysis

EMPTY: frozenset[int] = frozenset()

# -- what scikit-learn (and friends) classes are -----------------------------------------------------
# Fitted on data they later transform: their statistics (means, variances, vocabularies, selected
# columns, ...) leak when they see the test rows. Stateless transformers (Normalizer, Binarizer,
# PolynomialFeatures, FunctionTransformer) and label encoders (the label set is no secret) are absent.
TRANSFORMERS = frozenset(
    {
        "StandardScaler",
        "MinMaxScaler",
        "RobustScaler",
        "MaxAbsScaler",
        "QuantileTransformer",
        "PowerTransformer",
        "KBinsDiscretizer",
        "SimpleImputer",
        "KNNImputer",
        "IterativeImputer",
        "PCA",
        "IncrementalPCA",
        "KernelPCA",
        "SparsePCA",
        "MiniBatchSparsePCA",
        "TruncatedSVD",
        "FactorAnalysis",
        "FastICA",
        "NMF",
        "MiniBatchNMF",
        "LatentDirichletAllocation",
        "DictionaryLearning",
        "MiniBatchDictionaryLearning",
        "TfidfVectorizer",
        "TfidfTransformer",
        "CountVectorizer",
        "TargetEncoder",
        "ColumnTransformer",
        "make_column_transformer",
        "FeatureUnion",
        "make_union",
    }
)
SELECTORS = frozenset(
    {
        "SelectKBest",
        "SelectPercentile",
        "SelectFpr",
        "SelectFdr",
        "SelectFwe",
        "GenericUnivariateSelect",
        "VarianceThreshold",
        "RFE",
        "RFECV",
        "SelectFromModel",
        "SequentialFeatureSelector",
    }
)
RESAMPLERS = frozenset(
    {
        "SMOTE",
        "SMOTENC",
        "SMOTEN",
        "ADASYN",
        "BorderlineSMOTE",
        "SVMSMOTE",
        "KMeansSMOTE",
        "RandomOverSampler",
        "RandomUnderSampler",
        "NearMiss",
        "TomekLinks",
        "EditedNearestNeighbours",
        "RepeatedEditedNearestNeighbours",
        "AllKNN",
        "CondensedNearestNeighbour",
        "OneSidedSelection",
        "NeighbourhoodCleaningRule",
        "InstanceHardnessThreshold",
        "ClusterCentroids",
        "SMOTEENN",
        "SMOTETomek",
    }
)
# Objects that fit the estimators given to them (fold by fold for searches).
PIPELINES = frozenset({"Pipeline", "make_pipeline"})
SEARCHES = frozenset(
    {"GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV", "HalvingRandomSearchCV", "BayesSearchCV"}
)
CONTAINERS = (
    PIPELINES
    | SEARCHES
    | frozenset(
        {
            "ColumnTransformer",
            "make_column_transformer",
            "FeatureUnion",
            "make_union",
            "TransformedTargetRegressor",
            "VotingClassifier",
            "VotingRegressor",
            "StackingClassifier",
            "StackingRegressor",
            "BaggingClassifier",
            "BaggingRegressor",
            "AdaBoostClassifier",
            "AdaBoostRegressor",
            "OneVsRestClassifier",
            "OneVsOneClassifier",
            "MultiOutputClassifier",
            "MultiOutputRegressor",
            "CalibratedClassifierCV",
            "SelectFromModel",
            "RFE",
            "RFECV",
            "SequentialFeatureSelector",
        }
    )
)
SPLITTERS = frozenset(
    {
        "KFold",
        "StratifiedKFold",
        "GroupKFold",
        "StratifiedGroupKFold",
        "ShuffleSplit",
        "StratifiedShuffleSplit",
        "GroupShuffleSplit",
        "RepeatedKFold",
        "RepeatedStratifiedKFold",
        "TimeSeriesSplit",
        "LeaveOneOut",
        "LeavePOut",
        "LeaveOneGroupOut",
        "LeavePGroupsOut",
        "PredefinedSplit",
    }
)
# Fitted without a target, evaluated on their own data by design (inertia, silhouette, likelihood).
UNSUPERVISED = frozenset(
    {
        "KMeans",
        "MiniBatchKMeans",
        "BisectingKMeans",
        "DBSCAN",
        "HDBSCAN",
        "OPTICS",
        "AgglomerativeClustering",
        "Birch",
        "MeanShift",
        "AffinityPropagation",
        "SpectralClustering",
        "GaussianMixture",
        "BayesianGaussianMixture",
        "KernelDensity",
        "IsolationForest",
        "LocalOutlierFactor",
        "OneClassSVM",
        "EllipticEnvelope",
        "TSNE",
        "MDS",
        "Isomap",
        "LocallyLinearEmbedding",
        "SpectralEmbedding",
        "NearestNeighbors",
    }
)
CV_FUNCTIONS = frozenset(
    {
        "cross_val_score",
        "cross_validate",
        "cross_val_predict",
        "learning_curve",
        "validation_curve",
        "permutation_test_score",
    }
)
SPLIT_FUNCTIONS = frozenset({"train_test_split"})
FIT_METHODS = frozenset({"fit", "partial_fit", "fit_transform", "fit_resample", "fit_predict"})
APPLY_METHODS = frozenset({"transform", "inverse_transform"})
PREDICT_METHODS = frozenset(
    {
        "predict",
        "predict_proba",
        "predict_log_proba",
        "decision_function",
        "staged_predict",
        "staged_predict_proba",
    }
)
SCORE_METHODS = frozenset({"score", "evaluate"})
# Metrics of (y_true, y_pred): a prediction among the arguments is an evaluation of its model.
METRIC_FUNCTIONS = frozenset(
    {
        "classification_report",
        "confusion_matrix",
        "multilabel_confusion_matrix",
        "roc_curve",
        "precision_recall_curve",
        "det_curve",
        "precision_recall_fscore_support",
        "from_predictions",
        "plot_confusion_matrix",
    }
)
METRIC_SUFFIXES = ("_score", "_error", "_loss")
# `Display.from_estimator(model, X, y)` and the old `plot_*(model, X, y)` evaluate the model on X.
ESTIMATOR_DISPLAYS = frozenset(
    {
        "from_estimator",
        "plot_roc_curve",
        "plot_precision_recall_curve",
        "plot_det_curve",
        "permutation_importance",
    }
)
# Calls that take an estimator without evaluating or changing it.
HARMLESS_CALLS = frozenset(
    {
        "print",
        "display",
        "repr",
        "str",
        "type",
        "isinstance",
        "len",
        "id",
        "hash",
        "clone",
        "deepcopy",
        "copy",
    }
)

# -- randomness ----------------------------------------------------------------------------------
# scikit-learn (and imbalanced-learn) callables that are random unless `random_state` is given.
RANDOM_ESTIMATORS = frozenset(
    {
        "RandomForestClassifier",
        "RandomForestRegressor",
        "ExtraTreesClassifier",
        "ExtraTreesRegressor",
        "ExtraTreeClassifier",
        "ExtraTreeRegressor",
        "GradientBoostingClassifier",
        "GradientBoostingRegressor",
        "DecisionTreeClassifier",
        "DecisionTreeRegressor",
        "BaggingClassifier",
        "BaggingRegressor",
        "AdaBoostClassifier",
        "AdaBoostRegressor",
        "IsolationForest",
        "RandomTreesEmbedding",
        "MLPClassifier",
        "MLPRegressor",
        "BernoulliRBM",
        "SGDClassifier",
        "SGDRegressor",
        "SGDOneClassSVM",
        "Perceptron",
        "PassiveAggressiveClassifier",
        "PassiveAggressiveRegressor",
        "KMeans",
        "MiniBatchKMeans",
        "BisectingKMeans",
        "GaussianMixture",
        "BayesianGaussianMixture",
        "SpectralClustering",
        "TSNE",
        "MDS",
        "TruncatedSVD",
        "FastICA",
        "LatentDirichletAllocation",
        "MiniBatchDictionaryLearning",
        "RANSACRegressor",
        "Nystroem",
        "RBFSampler",
        "SparseRandomProjection",
        "GaussianRandomProjection",
        "ShuffleSplit",
        "StratifiedShuffleSplit",
        "GroupShuffleSplit",
        "RepeatedKFold",
        "RepeatedStratifiedKFold",
        "RandomizedSearchCV",
        "HalvingRandomSearchCV",
        "permutation_importance",
        "make_classification",
        "make_regression",
        "make_blobs",
        "make_moons",
        "make_circles",
        "make_gaussian_quantiles",
        "make_multilabel_classification",
        "make_friedman1",
        "make_friedman2",
        "make_friedman3",
        "make_s_curve",
        "make_swiss_roll",
        "make_hastie_10_2",
        "make_low_rank_matrix",
        "make_sparse_uncorrelated",
        "make_biclusters",
        "make_checkerboard",
        *(name for name in RESAMPLERS if name not in ("TomekLinks", "EditedNearestNeighbours")),
    }
)
# Random only with these keyword values (the defaults are deterministic).
CONDITIONALLY_RANDOM = {
    "KFold": ("shuffle", (True,)),
    "StratifiedKFold": ("shuffle", (True,)),
    "StratifiedGroupKFold": ("shuffle", (True,)),
    "GroupKFold": ("shuffle", (True,)),
    "LogisticRegression": ("solver", ("sag", "saga", "liblinear")),
    "SVC": ("probability", (True,)),
    "NuSVC": ("probability", (True,)),
}
SKLEARN_UTILS_RANDOM = frozenset({"shuffle", "resample"})  # only as sklearn.utils.*
NUMPY_NOT_DRAWS = frozenset(
    {
        "seed",
        "get_state",
        "set_state",
        "default_rng",
        "RandomState",
        "Generator",
        "SeedSequence",
        "BitGenerator",
        "MT19937",
        "PCG64",
        "PCG64DXSM",
        "Philox",
        "SFC64",
        "bit_generator",
        "mtrand",
    }
)
NUMPY_GENERATORS = frozenset({"default_rng", "RandomState"})
PYTHON_DRAWS = frozenset(
    {
        "random",
        "uniform",
        "randint",
        "randrange",
        "choice",
        "choices",
        "shuffle",
        "sample",
        "gauss",
        "normalvariate",
        "lognormvariate",
        "expovariate",
        "vonmisesvariate",
        "gammavariate",
        "betavariate",
        "paretovariate",
        "weibullvariate",
        "triangular",
        "getrandbits",
        "randbytes",
        "binomialvariate",
    }
)
TORCH_DRAWS = frozenset(
    {
        "rand",
        "randn",
        "randint",
        "randperm",
        "rand_like",
        "randn_like",
        "randint_like",
        "normal",
        "bernoulli",
        "multinomial",
        "poisson",
    }
)
TORCH_SEEDS = frozenset(
    {"torch.manual_seed", "torch.random.manual_seed", "torch.cuda.manual_seed", "torch.cuda.manual_seed_all"}
)
# Helpers that seed Python, NumPy and the deep-learning framework at once.
GLOBAL_SEED_FUNCTIONS = frozenset(
    {
        "seed_everything",
        "set_random_seed",
        "set_global_seed",
        "set_seed",
        "set_seeds",
        "seed_all",
        "set_all_seeds",
        "fix_seed",
        "fix_seeds",
        "fix_random_seed",
        "setup_seed",
        "reset_seeds",
        "reset_random_seeds",
    }
)


# -- the facts -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Site:
    """Where something happens: cell index (0-based) and 1-based line/column (characters) in the cell."""

    cell: int
    line: int
    column: int
    end_line: int
    end_column: int


@dataclass(eq=False, slots=True)
class Estimator:
    cls: str  # class (or factory) name; "?" when created outside the notebook's view
    kind: str  # transformer, selector, resampler, pipeline, search, splitter, unsupervised, model
    site: Site | None
    contained: bool = False  # a step of a Pipeline / ColumnTransformer / search / ensemble (fitted by it)
    escaped: bool = False  # handed to code we cannot see (a notebook function, a container literal)
    inner: tuple[Estimator, ...] = ()
    current: Fit | None = None  # the fit in effect now (updated as the pass goes)


@dataclass(eq=False, slots=True)
class Fit:
    estimator: Estimator
    method: str
    data: tuple[frozenset[int], ...]  # value ids of each data argument: (X, y, ...)
    site: Site
    order: int
    text: str = ""  # the call, shortened: `StandardScaler().fit_transform(X)`
    argument: str = ""  # the features argument as written: `X_train`

    @property
    def features(self) -> frozenset[int]:
        return self.data[0] if self.data else EMPTY

    @property
    def supervised(self) -> bool:
        return len(self.data) >= 2


@dataclass(eq=False, slots=True)
class Apply:
    estimator: Estimator
    fit: Fit | None
    data: frozenset[int]
    site: Site
    order: int
    output: int  # value id
    argument: str = ""


@dataclass(eq=False, slots=True)
class Prediction:
    estimator: Estimator
    fit: Fit | None
    data: frozenset[int]
    site: Site
    order: int
    output: int
    argument: str = ""


@dataclass(eq=False, slots=True)
class Evaluation:
    estimator: Estimator
    fit: Fit | None
    data: frozenset[int]  # the features the model was evaluated on
    site: Site
    order: int
    how: str  # "score", "metric", "display"
    text: str
    argument: str = ""


@dataclass(eq=False, slots=True)
class Split:
    function: str  # "train_test_split", "KFold.split", ...
    inputs: tuple[frozenset[int], ...]
    parts: tuple[int, ...]  # value ids: train/test sides alternate
    site: Site
    order: int


@dataclass(eq=False, slots=True)
class CrossValidation:
    function: str
    estimator: Estimator | None
    data: tuple[frozenset[int], ...]
    site: Site
    order: int


@dataclass(eq=False, slots=True)
class Value:
    id: int
    name: str | None
    site: Site | None
    sources: frozenset[int]
    kind: str = "data"  # data, import, function, selection, split-part, fit-output, apply-output, prediction
    module: str | None = None  # for imports: the dotted path
    estimator: Estimator | None = None
    items: tuple[Info, ...] | None = None  # known elements (tuple results)
    split: Split | None = None
    side: str | None = None  # "train" or "test" for split parts
    fit: Fit | None = None  # for fit outputs and predictions: the fit in effect
    model: Estimator | None = None  # for predictions: the estimator that predicted
    argument: str = ""  # for predictions: the features argument as written


@dataclass(frozen=True, slots=True)
class Info:
    """What an expression evaluates to: the values it derives from, an estimator, known elements."""

    sources: frozenset[int] = EMPTY
    estimator: Estimator | None = None
    items: tuple[Info, ...] | None = None


NOTHING = Info()


@dataclass(eq=False, slots=True)
class RandomCall:
    site: Site
    text: str  # short display of the callee, e.g. "np.random.randint"
    family: str  # numpy, python, torch, sklearn, generator
    order: int
    fixable: bool = False  # a `random_state=` keyword can be added
    callee: str = ""  # the callee as written: `train_test_split`, `ensemble.RandomForestClassifier`


@dataclass(eq=False, slots=True)
class Seed:
    families: frozenset[str]
    order: int
    site: Site


@dataclass(eq=False)
class MLFacts:
    values: list[Value] = field(default_factory=list)
    estimators: list[Estimator] = field(default_factory=list)
    fits: list[Fit] = field(default_factory=list)
    applies: list[Apply] = field(default_factory=list)
    predictions: list[Prediction] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)
    splits: list[Split] = field(default_factory=list)
    cross_validations: list[CrossValidation] = field(default_factory=list)
    random_calls: list[RandomCall] = field(default_factory=list)
    seeds: list[Seed] = field(default_factory=list)
    _outputs: dict[int, set[int]] | None = field(default=None, repr=False)

    # -- lineage queries (depth-first over ``sources``; only run for the few values events name) --
    def walk(self, start: Iterable[int], stop: Callable[[Value], bool] | None = None) -> Iterator[Value]:
        """``start`` and every value it derives from; a value for which ``stop`` is true is yielded but
        not walked through."""
        seen: set[int] = set()
        stack = list(start)
        values = self.values
        while stack:
            vid = stack.pop()
            if vid in seen:
                continue
            seen.add(vid)
            value = values[vid]
            yield value
            if stop is not None and stop(value):
                continue
            stack.extend(value.sources)

    def derives_from(
        self, start: Iterable[int], targets: Iterable[int], stop: Callable[[Value], bool] | None = None
    ) -> bool:
        wanted = set(targets)
        return bool(wanted) and any(v.id in wanted for v in self.walk(start, stop))

    def nearest_parts(self, start: Iterable[int]) -> list[Value]:
        """Split parts the data comes from, nearest first on each path: data from the train side of a
        second split is train data, even when that split divided an earlier test side."""
        return [v for v in self.walk(start, is_split_part) if v.kind == "split-part"]

    def test_part(self, start: Iterable[int]) -> Value | None:
        for part in self.nearest_parts(start):
            if part.side == "test":
                return part
        return None

    def fitted_on_whole(self, fit: Fit, split: Split) -> bool:
        """The fit's features are the data ``split`` divides (or derived from it), not one of its sides:
        ``fit(X)`` or ``fit(X.values)`` for ``train_test_split(X, y)``; not ``fit(X[train_idx])``."""
        features = fit.features
        if not split.inputs or not self.derives_from(features, split.inputs[0], is_split_part):
            return False
        return not any(part.split is split for part in self.nearest_parts(features))

    def same_data(self, used: frozenset[int], fitted: frozenset[int]) -> bool:
        """``used`` is the fitted data or derived from it without a split in between."""
        if not used or not fitted:
            return False
        if used == fitted:
            return True
        return all(self.derives_from((vid,), fitted, is_split_part) for vid in used)

    def name_of(self, ids: Iterable[int]) -> str | None:
        for vid in sorted(ids):
            name = self.values[vid].name
            if name:
                return name
        return None

    def estimator_name(self, estimator: Estimator) -> str | None:
        """The first name the estimator was bound to (``clf``), if any."""
        for value in self.values:
            if value.estimator is estimator and value.name and value.kind == "data":
                return value.name
        return None

    def outputs_of(self, fit: Fit) -> frozenset[int]:
        """The rows the fit learned from, as the fitted object returned them: its ``fit_transform`` /
        ``fit_resample`` result, and ``transform`` of the same data while this fit was in effect
        (``selector.fit(X, y)``; ``selector.transform(X)``). Transforming other rows (``X_test``) is not
        among them: those rows were not learned from."""
        index = self._outputs
        if index is None:
            index = {}
            for value in self.values:
                if value.kind == "fit-output" and value.fit is not None:
                    index.setdefault(id(value.fit), set()).add(value.id)
            for apply in self.applies:
                if apply.fit is not None and self.same_data(apply.data, apply.fit.features):
                    index.setdefault(id(apply.fit), set()).add(apply.output)
            self._outputs = index
        return frozenset(index.get(id(fit), ()))


def is_split_part(value: Value) -> bool:
    return value.kind == "split-part"


# -- the pass ------------------------------------------------------------------------------------
_NEEDLES = ("fit", "split", "cross_val", "rand", "seed", "shuffle", "sample", "choice", "Forest", "make_")


def build_ml_facts(analysis: NotebookAnalysis) -> MLFacts:
    builder = _Builder(analysis)
    if any(any(n in cell.source for n in _NEEDLES) for cell in analysis.code_cells):
        builder.run()
    return builder.facts


class _Builder:
    def __init__(self, analysis: NotebookAnalysis) -> None:
        self.analysis = analysis
        self.facts = MLFacts()
        self.env: dict[str, int] = {}
        self.selections: dict[tuple[frozenset[int], frozenset[int], str], int] = {}
        self.order = 0
        self.cell = 0
        self.code_lines: list[str] = []
        self.line_offset = 0
        star_roots: set[str] = set()
        for flow in analysis.flows.values():
            star_roots.update(module.split(".", 1)[0] for module, _line in flow.star_imports)
        self.sklearn_star = bool(star_roots & {"sklearn", "imblearn"})

    # -- driver ---------------------------------------------------------------------------------
    def run(self) -> None:
        for index, parsed in sorted(self.analysis.parsed.items()):
            if parsed.tree is None or parsed.kind != "python":
                continue
            self.cell = index
            self.code_lines = parsed.code.splitlines()
            self.line_offset = parsed.line_offset
            for statement in parsed.tree.body:
                try:
                    self.statement(statement)
                except RecursionError:
                    continue  # absurdly nested code: skip the statement, not the notebook

    def tick(self) -> int:
        self.order += 1
        return self.order

    def site(self, node: ast.AST) -> Site:
        line = getattr(node, "lineno", 1) or 1
        end_line = getattr(node, "end_lineno", None) or line
        # Column offsets are characters: source.parse_cell converts CPython's UTF-8 byte offsets.
        column = getattr(node, "col_offset", 0) or 0
        end_column = getattr(node, "end_col_offset", None) or 0
        return Site(self.cell, line, column + 1, end_line, end_column + 1)

    def new_value(
        self,
        name: str | None,
        node: ast.AST | None,
        sources: frozenset[int],
        kind: str = "data",
        estimator: Estimator | None = None,
        items: tuple[Info, ...] | None = None,
    ) -> Value:
        site = self.site(node) if node is not None else None
        value = Value(len(self.facts.values), name, site, sources, kind, estimator=estimator, items=items)
        self.facts.values.append(value)
        return value

    def bind(self, name: str, info: Info, node: ast.AST) -> None:
        if len(info.sources) == 1:
            (source,) = info.sources
            part = self.facts.values[source]
            if part.kind == "split-part" and part.name is None:
                part.name = name  # `X_val` names the test side it was unpacked from
        self.env[name] = self.new_value(
            name, node, info.sources, estimator=info.estimator, items=info.items
        ).id

    # -- statements -----------------------------------------------------------------------------
    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Assign):
            info = self.expr(node.value)
            for target in node.targets:
                self.assign(target, info, node)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.assign(node.target, self.expr(node.value), node)
        elif isinstance(node, ast.AugAssign):
            info = self.expr(node.value)
            target = node.target
            if isinstance(target, ast.Name):
                old = self.env.get(target.id)
                self.bind(target.id, Info(info.sources | ({old} if old is not None else EMPTY)), target)
            else:
                self.mutate(target, info)
        elif isinstance(node, ast.Expr):
            self.expr(node.value)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            info = self.expr(node.iter)
            self.assign(node.target, self.element(node.iter, info), node)
            self.body(node.body)
            self.body(node.orelse)
        elif isinstance(node, (ast.While, ast.If)):
            self.expr(node.test)
            self.body(node.body)
            self.body(node.orelse)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                info = self.expr(item.context_expr)
                if item.optional_vars is not None:
                    self.assign(item.optional_vars, info, node)
            self.body(node.body)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            handlers: list[ast.ExceptHandler] = getattr(node, "handlers", [])
            self.body(getattr(node, "body", []))
            for handler in handlers:
                self.body(handler.body)
            self.body(getattr(node, "orelse", []))
            self.body(getattr(node, "finalbody", []))
        elif isinstance(node, ast.Match):
            self.expr(node.subject)
            for case in node.cases:
                self.body(case.body)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.env[node.name] = self.new_value(node.name, node, EMPTY, kind="function").id
            self.deferred(node)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                module = alias.name if alias.asname else alias.name.split(".")[0]
                self.bind_import(bound, module, node)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            for alias in node.names:
                if alias.name != "*":
                    path = f"{module}.{alias.name}" if module and not node.level else alias.name
                    self.bind_import(alias.asname or alias.name, path, node)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.env.pop(target.id, None)
        elif isinstance(node, (ast.Return, ast.Raise, ast.Assert)):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.expr(child)

    def body(self, statements: list[ast.stmt]) -> None:
        for statement in statements:
            self.statement(statement)

    def bind_import(self, bound: str, module: str, node: ast.AST) -> None:
        value = self.new_value(bound, node, EMPTY, kind="import")
        value.module = module
        self.env[bound] = value.id

    def deferred(self, node: ast.AST) -> None:
        """Code that runs later (function, class and lambda bodies): only its draws and seeds count,
        where it is defined."""
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                self.randomness(sub, self.qualname(sub.func))

    def element(self, iterable: ast.expr, info: Info) -> Info:
        """What a ``for`` loop over ``iterable`` binds: ``(train, test)`` for a splitter's folds."""
        node = iterable
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "enumerate"
            and node.args
        ):
            inner = self.element(node.args[0], Info(info.sources, items=info.items))
            return (
                Info(info.sources, items=(NOTHING, inner)) if inner.items is not None else Info(info.sources)
            )
        splits = (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "split"
        )
        if splits and info.items is not None:
            return info
        return Info(info.sources)

    def assign(self, target: ast.AST, info: Info, node: ast.AST) -> None:
        if isinstance(target, ast.Name):
            self.bind(target.id, info, target)
        elif isinstance(target, (ast.Tuple, ast.List)):
            elements = target.elts
            starred = any(isinstance(e, ast.Starred) for e in elements)
            if info.items is not None and not starred and len(info.items) == len(elements):
                for element, item in zip(elements, info.items, strict=True):
                    self.assign(element, item, node)
            else:
                # Elements we cannot match: each derives from everything, but never from one side
                # of a split more than from the other.
                sideless = Info(self.without_parts(info.sources))
                for element in elements:
                    self.assign(element, sideless, node)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, Info(self.without_parts(info.sources)), node)
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            self.mutate(target, info)

    def without_parts(self, sources: frozenset[int]) -> frozenset[int]:
        values = self.facts.values
        if not any(values[v].kind == "split-part" for v in sources):
            return sources
        result: set[int] = set()
        for vid in sources:
            result.update(values[vid].sources if values[vid].kind == "split-part" else (vid,))
        return frozenset(result)

    def mutate(self, target: ast.AST, info: Info) -> None:
        """``df["x"] = v``, ``obj.attr = v``, ``X[:, 0] += v``: the root name now also derives from ``v``."""
        extra = info.sources
        if isinstance(target, ast.Subscript):
            extra = extra | self.expr(target.slice).sources
        if info.estimator is not None:
            info.estimator.escaped = True
        root = target
        while isinstance(root, (ast.Attribute, ast.Subscript)):
            root = root.value
        if isinstance(root, ast.Name) and root.id in self.env:
            old = self.facts.values[self.env[root.id]]
            if old.kind in ("import", "function"):
                return
            self.env[root.id] = self.new_value(root.id, root, extra | {old.id}, estimator=old.estimator).id

    # -- expressions ----------------------------------------------------------------------------
    def expr(self, node: ast.AST | None) -> Info:
        if node is None or isinstance(node, ast.Constant):
            return NOTHING
        if isinstance(node, ast.Name):
            vid = self.env.get(node.id)
            if vid is None:
                return NOTHING
            value = self.facts.values[vid]
            if value.kind in ("import", "function"):
                return NOTHING
            return Info(frozenset((vid,)), value.estimator, value.items)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Attribute):
            base = self.expr(node.value)
            if base.estimator is not None and node.attr in ("best_estimator_", "estimator_"):
                return Info(base.sources, base.estimator)
            return Info(base.sources)
        if isinstance(node, ast.Subscript):
            base = self.expr(node.value)
            index = node.slice
            if (
                base.items is not None
                and isinstance(index, ast.Constant)
                and isinstance(index.value, int)
                and -len(base.items) <= index.value < len(base.items)
            ):
                return base.items[index.value]
            selector = self.expr(index)
            if not base.sources or (
                isinstance(index, ast.Slice) and not (index.lower or index.upper or index.step)
            ):
                return Info(base.sources | selector.sources)
            # A selection is other data than its base (`X[:300]` vs `X[300:]`), derived from it; the same
            # selection written twice is the same data.
            key = (base.sources, selector.sources, ast.dump(index))
            vid = self.selections.get(key)
            if vid is None:
                vid = self.new_value(None, node, base.sources | selector.sources, kind="selection").id
                self.selections[key] = vid
            return Info(frozenset((vid,)))
        if isinstance(node, (ast.Tuple, ast.List)):
            items = tuple(self.expr(e) for e in node.elts)
            _escape(items)
            return Info(_union(items), items=items)
        if isinstance(node, ast.NamedExpr):
            info = self.expr(node.value)
            self.assign(node.target, info, node)
            return info
        if isinstance(node, ast.Lambda):
            self.deferred(node.body)
            return NOTHING
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            return self.comprehension(node)
        children = tuple(self.expr(c) for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr))
        if isinstance(node, (ast.Dict, ast.Set)):
            _escape(children)
        return Info(_union(children))

    def comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> Info:
        saved = dict(self.env)
        parts: list[Info] = []
        try:
            for generator in node.generators:
                info = self.expr(generator.iter)
                parts.append(info)
                self.assign(generator.target, Info(self.without_parts(info.sources)), generator)
                parts.extend(self.expr(condition) for condition in generator.ifs)
            if isinstance(node, ast.DictComp):
                parts.append(self.expr(node.key))
                parts.append(self.expr(node.value))
            else:
                parts.append(self.expr(node.elt))
        finally:
            self.env = saved
        return Info(_union(parts))

    def qualname(self, node: ast.AST) -> str | None:
        """The dotted path a callee names (imports resolved); None for a method of a notebook value."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        vid = self.env.get(node.id)
        if vid is not None:
            value = self.facts.values[vid]
            if value.kind != "import" or value.module is None:
                return None if parts else node.id
            root = value.module
        else:
            root = node.id
        return ".".join([root, *reversed(parts)])

    def _is_library(self, qual: str | None, name: str) -> bool:
        """``name`` comes from scikit-learn/imbalanced-learn (or a star import of them)."""
        if qual is None:
            return False
        root = qual.split(".", 1)[0]
        if root in ("sklearn", "imblearn"):
            return True
        return qual == name and self.sklearn_star and name not in self.env

    def call(self, node: ast.Call) -> Info:
        func = node.func
        receiver = self.expr(func.value) if isinstance(func, ast.Attribute) else NOTHING
        if any(isinstance(a, ast.Starred) for a in node.args):
            args = [Info(_union(self.expr(a.value if isinstance(a, ast.Starred) else a) for a in node.args))]
            starred = True
        else:
            args = [self.expr(a) for a in node.args]
            starred = False
        keywords = {kw.arg: self.expr(kw.value) for kw in node.keywords}
        qual = self.qualname(func)
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        self.randomness(node, qual)
        everything = Info(_union([*args, *keywords.values()]))

        if isinstance(func, ast.Attribute) and (
            receiver.estimator is not None or (qual is None and name in FIT_METHODS)
        ):
            return self.method(node, func, name, receiver, args, keywords)
        if qual is None:  # a method of a data value: `df.drop(...)`, `X.values.reshape(...)`
            return Info(receiver.sources | everything.sources)

        library = self._is_library(qual, name)
        if library and (name[:1].isupper() or name in CONTAINERS):
            return self.construct(node, name, args, keywords)
        if name in SPLIT_FUNCTIONS and (library or qual == name) and not starred:
            return self.split(node, name, args)
        if name in CV_FUNCTIONS:
            self.cross_validation(node, name, args, keywords)
            return everything
        if name in ESTIMATOR_DISPLAYS and args and args[0].estimator is not None:
            features = args[1].sources if len(args) > 1 else EMPTY
            shown = _short(node.args[1], 40) if len(node.args) > 1 else ""
            self.evaluation(node, args[0].estimator, features, "display", shown)
            return NOTHING
        if name not in HARMLESS_CALLS:
            _escape([*args, *keywords.values()])  # a notebook function may evaluate it: we cannot see
        if name in METRIC_FUNCTIONS or name.endswith(METRIC_SUFFIXES):
            self.metric(node, [*args, *keywords.values()])
        return everything

    def construct(self, node: ast.Call, cls: str, args: list[Info], keywords: dict[str | None, Info]) -> Info:
        if cls in SELECTORS:
            kind = "selector"
        elif cls in TRANSFORMERS:
            kind = "transformer"
        elif cls in RESAMPLERS:
            kind = "resampler"
        elif cls in PIPELINES:
            kind = "pipeline"
        elif cls in SEARCHES:
            kind = "search"
        elif cls in SPLITTERS:
            kind = "splitter"
        elif cls in UNSUPERVISED:
            kind = "unsupervised"
        else:
            kind = "model"
        inner: list[Estimator] = []
        if cls in CONTAINERS:
            for info in [*args, *keywords.values()]:
                inner.extend(_estimators_in(info))
            for estimator in inner:
                estimator.contained = True
        estimator = Estimator(cls, kind, self.site(node), inner=tuple(inner))
        self.facts.estimators.append(estimator)
        return Info(_union([*args, *keywords.values()]), estimator)

    def method(
        self,
        node: ast.Call,
        func: ast.Attribute,
        name: str,
        receiver: Info,
        args: list[Info],
        keywords: dict[str | None, Info],
    ) -> Info:
        estimator = receiver.estimator
        if estimator is None:
            # `.fit` on something built outside our view (a Keras model, an XGBoost model, ...).
            estimator = Estimator("?", "model", None)
            self.facts.estimators.append(estimator)
            root = func.value
            if isinstance(root, ast.Name) and root.id in self.env:
                self.facts.values[self.env[root.id]].estimator = estimator
        data = self._data_arguments(args, keywords)
        features = data[0] if data else EMPTY
        argument = _argument_text(node)
        site = self.site(node)
        if name in FIT_METHODS:
            fit = Fit(estimator, name, data, site, self.tick(), _short(node), argument)
            estimator.current = fit
            self.facts.fits.append(fit)
            if estimator.kind == "search":
                inner = estimator.inner[0] if estimator.inner else None
                self.facts.cross_validations.append(
                    CrossValidation(estimator.cls, inner, data, site, fit.order)
                )
            if name == "fit_transform":
                output = self.new_value(None, node, features, kind="fit-output")
                output.fit = fit
                return Info(frozenset((output.id,)))
            if name == "fit_resample":
                outputs: list[Info] = []
                for part in data[:2]:
                    output = self.new_value(None, node, part, kind="fit-output")
                    output.fit = fit
                    outputs.append(Info(frozenset((output.id,))))
                return Info(_union(outputs), items=tuple(outputs))
            if name == "fit_predict":
                return Info(features)
            return Info(receiver.sources, estimator)
        if name in APPLY_METHODS:
            output = self.new_value(None, node, features, kind="apply-output")
            self.facts.applies.append(
                Apply(estimator, estimator.current, features, site, self.tick(), output.id, argument)
            )
            return Info(frozenset((output.id,)))
        if name in PREDICT_METHODS:
            output = self.new_value(None, node, features, kind="prediction")
            output.fit = estimator.current
            output.model = estimator
            output.argument = argument
            self.facts.predictions.append(
                Prediction(estimator, estimator.current, features, site, self.tick(), output.id, argument)
            )
            return Info(frozenset((output.id,)))
        if name in SCORE_METHODS:
            self.evaluation(node, estimator, features, "score", argument)
            return NOTHING
        if name == "split" and estimator.kind == "splitter":
            return self.split(node, f"{estimator.cls}.split", args)
        return Info(receiver.sources | _union([*args, *keywords.values()]))

    @staticmethod
    def _data_arguments(args: list[Info], keywords: dict[str | None, Info]) -> tuple[frozenset[int], ...]:
        data = [a.sources for a in args]
        for i, key in enumerate(("X", "y")):
            if key in keywords:
                if len(data) <= i:
                    data.extend([EMPTY] * (i + 1 - len(data)))
                data[i] = keywords[key].sources
        return tuple(data)

    def split(self, node: ast.Call, function: str, args: list[Info]) -> Info:
        site = self.site(node)
        inputs = tuple(a.sources for a in args) if function in SPLIT_FUNCTIONS else (_union(args),)
        split = Split(function, inputs, (), site, self.tick())
        parts: list[Info] = []
        ids: list[int] = []
        for data in inputs:
            for side in ("train", "test"):
                value = self.new_value(None, node, data, kind="split-part")
                value.split = split
                value.side = side
                ids.append(value.id)
                parts.append(Info(frozenset((value.id,))))
        split.parts = tuple(ids)
        self.facts.splits.append(split)
        return Info(_union(parts), items=tuple(parts))

    def cross_validation(
        self, node: ast.Call, function: str, args: list[Info], keywords: dict[str | None, Info]
    ) -> None:
        estimator = args[0].estimator if args else None
        if "estimator" in keywords:
            estimator = keywords["estimator"].estimator
        data = self._data_arguments(args[1:], keywords)
        self.facts.cross_validations.append(
            CrossValidation(function, estimator, data, self.site(node), self.tick())
        )

    def evaluation(
        self, node: ast.Call, estimator: Estimator, data: frozenset[int], how: str, argument: str
    ) -> None:
        self.facts.evaluations.append(
            Evaluation(
                estimator, estimator.current, data, self.site(node), self.tick(), how, _short(node), argument
            )
        )

    def metric(self, node: ast.Call, arguments: list[Info]) -> None:
        """A metric of predictions evaluates the models that made them, on the data they predicted."""
        seen: set[int] = set()
        for argument in arguments:
            for value in self.facts.walk(argument.sources, _is_prediction):
                if value.kind != "prediction" or value.model is None or value.id in seen:
                    continue
                seen.add(value.id)
                self.facts.evaluations.append(
                    Evaluation(
                        value.model,
                        value.fit,
                        value.sources,
                        self.site(node),
                        self.tick(),
                        "metric",
                        _short(node),
                        value.argument,
                    )
                )

    # -- randomness -----------------------------------------------------------------------------
    def randomness(self, node: ast.Call, qual: str | None) -> None:
        if qual is None:
            return
        parts = qual.split(".")
        last = parts[-1]
        root = parts[0]
        facts = self.facts
        first = node.args[0] if node.args else None
        seeded_call = bool(node.args or node.keywords) and not (
            isinstance(first, ast.Constant) and first.value is None
        )

        # seeds
        if qual == "numpy.random.seed" and seeded_call:
            facts.seeds.append(Seed(frozenset({"numpy", "sklearn"}), self.tick(), self.site(node)))
            return
        if qual == "random.seed" and seeded_call:
            facts.seeds.append(Seed(frozenset({"python"}), self.tick(), self.site(node)))
            return
        if qual in TORCH_SEEDS and seeded_call:
            facts.seeds.append(Seed(frozenset({"torch"}), self.tick(), self.site(node)))
            return
        if root in ("tensorflow", "tf") and "keras" not in parts:
            return  # TensorFlow seeds TensorFlow only; its draws are not tracked
        if last in GLOBAL_SEED_FUNCTIONS or (
            len(parts) == 1 and "seed" in last.lower() and self._defined_here(last)
        ):
            facts.seeds.append(Seed(ALL_FAMILIES, self.tick(), self.site(node)))
            return

        # draws
        family: str | None = None
        fixable = False
        if root == "numpy" and len(parts) == 3 and parts[1] == "random":
            if last in NUMPY_GENERATORS:
                family = None if seeded_call else "generator"
            elif last not in NUMPY_NOT_DRAWS:
                family = "numpy"
        elif root == "random" and len(parts) == 2:
            if last in PYTHON_DRAWS:
                family = "python"
            elif last == "Random" and not seeded_call:
                family = "generator"
        elif root == "torch" and len(parts) == 2 and last in TORCH_DRAWS:
            family = "torch"
        elif self._sklearn_random(node, qual, last):
            family = "sklearn"
            fixable = True
        if family is None:
            return
        text = qual if len(parts) == 1 else ast.unparse(node.func)
        callee = ast.unparse(node.func)
        facts.random_calls.append(RandomCall(self.site(node), text, family, self.tick(), fixable, callee))

    def _sklearn_random(self, node: ast.Call, qual: str, last: str) -> bool:
        if not self._is_library(qual, last):
            return False
        if last in SKLEARN_UTILS_RANDOM and not qual.startswith("sklearn.utils"):
            return False
        for kw in node.keywords:
            if kw.arg is None or kw.arg == "random_state":
                return False  # seeded, deliberately None, or maybe inside `**params`
        if last == "train_test_split" or last in SKLEARN_UTILS_RANDOM:
            return not any(
                kw.arg == "shuffle" and isinstance(kw.value, ast.Constant) and kw.value.value is False
                for kw in node.keywords
            )
        if last in CONDITIONALLY_RANDOM:
            keyword, values = CONDITIONALLY_RANDOM[last]
            return any(
                kw.arg == keyword and isinstance(kw.value, ast.Constant) and kw.value.value in values
                for kw in node.keywords
            )
        return last in RANDOM_ESTIMATORS

    def _defined_here(self, name: str) -> bool:
        vid = self.env.get(name)
        return vid is not None and self.facts.values[vid].kind == "function"


ALL_FAMILIES = frozenset({"numpy", "sklearn", "python", "torch"})


def _is_prediction(value: Value) -> bool:
    return value.kind == "prediction"


def _short(node: ast.AST, limit: int = 80) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _argument_text(node: ast.Call) -> str:
    """The features argument of an estimator method as written (`X_train`)."""
    if node.args and not isinstance(node.args[0], ast.Starred):
        return _short(node.args[0], 40)
    for keyword in node.keywords:
        if keyword.arg == "X":
            return _short(keyword.value, 40)
    return ""


def _escape(items: Iterable[Info]) -> None:
    for item in items:
        if item.estimator is not None:
            item.estimator.escaped = True


def _union(infos: Iterable[Info]) -> frozenset[int]:
    result: frozenset[int] = EMPTY
    for info in infos:
        if info.sources:
            result = result | info.sources if result else info.sources
    return result


def _estimators_in(info: Info) -> Iterator[Estimator]:
    if info.estimator is not None:
        yield info.estimator
    for item in info.items or ():
        yield from _estimators_in(item)
