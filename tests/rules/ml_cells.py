"""Notebooks made of code cells in memory, for the ML-pitfall rules' unit tests (NBH301-NBH304).

The fixture notebooks under tests/fixtures/rules/ are real (executed); these tables cover many more
shapes of code cheaply, including libraries that are not installed here (imbalanced-learn, PyTorch).
"""

from __future__ import annotations

from typing import Any

from nbhygiene.config import Config
from nbhygiene.engine import check_data
from nbhygiene.findings import Finding

IMPORTS = """\
import random
import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.model_selection import (
    GridSearchCV, KFold, StratifiedKFold, cross_val_score, cross_validate, train_test_split,
)
from sklearn.preprocessing import StandardScaler, MinMaxScaler
from sklearn.impute import SimpleImputer
from sklearn.decomposition import PCA
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.ensemble import RandomForestClassifier
from sklearn.cluster import KMeans
from sklearn.metrics import accuracy_score, classification_report, silhouette_score
from imblearn.over_sampling import SMOTE"""


def notebook(cells: list[str], imports: str | None = IMPORTS) -> dict[str, Any]:
    sources = [imports, *cells] if imports else list(cells)
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
        "cells": [
            {
                "cell_type": "code",
                "id": f"c{i}",
                "metadata": {},
                "execution_count": i + 1,
                "outputs": [],
                "source": source,
            }
            for i, source in enumerate(sources)
        ],
    }


def findings(cells: list[str], rule: str, imports: str | None = IMPORTS) -> list[Finding]:
    """What ``rule`` reports on a notebook of ``cells`` (after an imports cell); cell indexes count the
    imports cell, so the first of ``cells`` is cell index 1."""
    result = check_data(notebook(cells, imports), "test.ipynb", Config(select=[rule]))
    assert result.error is None, result.error
    return [f for f in result.findings if f.rule == rule]


def where(cells: list[str], rule: str, imports: str | None = IMPORTS) -> list[tuple[int, int]]:
    """(cell index, line) of each finding."""
    return [(f.cell_index or 0, f.line or 0) for f in findings(cells, rule, imports)]
