from __future__ import annotations

from collections.abc import Iterator

from nbhygiene.findings import Family, Fix, Severity
from nbhygiene.fixes import add_keyword, locate_call
from nbhygiene.ml_facts import RandomCall
from nbhygiene.rule import Context, Report, Rule

_WHY = {
    "sklearn": "is random and gets no `random_state`, and NumPy is not seeded before it",
    "numpy": "draws from NumPy's global generator, which is not seeded before it (`np.random.seed(...)`)",
    "python": "draws from Python's `random` module, which is not seeded before it (`random.seed(...)`)",
    "torch": "draws from PyTorch's generator, which is not seeded before it (`torch.manual_seed(...)`)",
    "generator": "creates a random generator without a seed",
}


class UnseededRandomness(Rule):
    """Random splits, models or draws without a seed: the numbers change on every run.

    ## What it does
    Reports, once per call, randomness that nothing seeds:

    * scikit-learn calls that are random unless given `random_state`: `train_test_split` (unless
      `shuffle=False`), `ShuffleSplit`/`RepeatedKFold`/..., `KFold(shuffle=True)`, random forests,
      extra trees, gradient boosting, decision trees, bagging, AdaBoost, MLPs, SGD models, k-means,
      Gaussian mixtures, t-SNE, `TruncatedSVD`, `RandomizedSearchCV`, `make_classification` & co.,
      imbalanced-learn samplers, `LogisticRegression` only with the `sag`/`saga`/`liblinear` solvers,
      `SVC` only with `probability=True` — when no `random_state` is passed and no
      `np.random.seed(...)` runs before it (scikit-learn then draws from NumPy's global generator);
    * `np.random.*` draws with no `np.random.seed(...)` above them, `random.*` draws with no
      `random.seed(...)`, `torch.rand*`/`torch.randn`/`torch.randperm`/... with no `torch.manual_seed(...)`;
    * `np.random.default_rng()`, `np.random.RandomState()` and `random.Random()` created without a seed
      (a global seed does not reach them).

    "Before" means above it in the notebook, as Restart & Run All executes it; seeding helpers such as
    `seed_everything(42)`, `set_random_seed(42)` or a notebook function whose name says `seed` count for
    every library. An explicit `random_state=None` is taken as a deliberate choice.
    Draws from a seeded generator (`rng = np.random.default_rng(0); rng.normal()`) are fine.

    The safe fix adds `random_state=0` to scikit-learn calls
    (`data: action=add-keyword, cell_index, line, column, keyword, value`; `nbhygiene check --fix`).

    ## Why it matters
    An unseeded split or model gives different numbers on every run: a re-run cannot reproduce the
    saved outputs, a colleague cannot reproduce your score, and a change that "improved accuracy by
    0.5%" may be noise.

    ## Example
    ```python
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)
    guess = np.random.randint(0, 2, size=len(y_test))
    ```

    ## What to do instead
    Pass `random_state=` to every scikit-learn call that takes one (from a `seed` in the parameters
    cell), seed the global generators once at the top (`np.random.seed(seed)`, `random.seed(seed)`,
    `torch.manual_seed(seed)`), or draw from an explicit `np.random.default_rng(seed)`.
    """

    code = "NBH304"
    name = "unseeded-randomness"
    summary = "Random splits, models or draws run without a seed, so every run gives different numbers."
    severity = Severity.WARNING
    family = Family.ML_PITFALLS

    def check(self, ctx: Context) -> Iterator[Report]:
        ml = ctx.analysis.ml
        if not ml.random_calls:
            return
        cells = ctx.notebook.cells
        for call in ml.random_calls:
            if call.family != "generator" and any(
                seed.order < call.order and call.family in seed.families for seed in ml.seeds
            ):
                continue
            site = call.site
            cell = cells[site.cell]
            yield Report(
                f"`{call.text}(...)` {_WHY[call.family]}: its results change on every run",
                cell,
                site.line,
                site.column,
                site.end_line,
                site.end_column,
                fix=_fix(call, cell.source),
            )


def _fix(call: RandomCall, source: str) -> Fix | None:
    if not call.fixable:
        return None
    site = call.site
    span = locate_call(source, site.line, site.column)
    if span is None or span.callee != call.callee.replace(" ", ""):
        return None  # the call is not where the cell's text says (IPython syntax around it)
    if add_keyword(source, site.line, site.column, "random_state", "0") is None:
        return None  # it cannot take one more keyword (a lone generator argument, ...)
    return Fix(
        f"Add `random_state=0` to `{call.text}(...)`",
        safe=True,
        data=(
            ("action", "add-keyword"),
            ("cell_index", site.cell),
            ("line", site.line),
            ("column", site.column),
            ("keyword", "random_state"),
            ("value", "0"),
        ),
    )
