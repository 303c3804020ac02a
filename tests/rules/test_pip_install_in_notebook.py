"""pip-install-in-notebook (NBH103): installs only, in every shape a notebook runs them."""

from __future__ import annotations

import pytest
from hygiene_cells import findings, flagged, notebook

from nbhygiene.rules.pip_install_in_notebook import install_command


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("pip install pandas", "pip install"),
        ("pip3 install -q pandas", "pip install"),
        ("pip -q install pandas", "pip install"),
        ("pip install -r requirements.txt", "pip install"),
        ("pip install -e .", "pip install"),
        ("python -m pip install -U pip", "python -m pip install"),
        ("python3.11 -m pip install x", "python -m pip install"),
        ("{sys.executable} -m pip install x", "python -m pip install"),
        ("/usr/bin/python3 -m pip install x", "python -m pip install"),
        ("sudo pip install x", "pip install"),
        ("PIP_NO_CACHE_DIR=1 pip install x", "pip install"),
        ("cd repo && pip install .", "pip install"),
        ("uv pip install polars", "uv pip install"),
        ("conda install -y -c conda-forge lightgbm", "conda install"),
        ("mamba install xgboost", "mamba install"),
        ("pip list", None),
        ("pip freeze > requirements.txt", None),
        ("pip --version", None),
        ("pip show pandas", None),
        ("pip download pandas", None),
        ("pip uninstall -y pandas", None),
        ("conda list", None),
        ("conda env export", None),
        ("apt-get install -y graphviz", None),
        ("echo pip install pandas", None),
        ("ls install", None),
    ],
)
def test_install_commands(command: str, expected: str | None) -> None:
    found = install_command(command)
    assert (found[0] if found else None) == expected


@pytest.mark.parametrize(
    ("source", "fires"),
    [
        ("%pip install pandas", True),
        ("%pip install -q 'pandas>=2'", True),
        ("%conda install -y numpy", True),
        ("%mamba install numpy", True),
        ("!pip install pandas", True),
        ("!pip3 install --user pandas", True),
        ("!{sys.executable} -m pip install pandas", True),
        ("import sys\n!{sys.executable} -m pip install pandas", True),
        ("files = !pip install pandas", True),
        ("%%bash\necho hi\npip install pandas", True),
        ("%%sh\nconda install -y numpy", True),
        ("%%capture\n!pip install pandas", True),
        ("if IN_COLAB:\n    !pip install pandas", True),
        ("%time !pip install pandas", True),
        ('subprocess.check_call([sys.executable, "-m", "pip", "install", "pandas"])', True),
        ('subprocess.run(["pip", "install", "pandas"])', True),
        ('os.system("pip install pandas")', True),
        ("%pip list", False),
        ("%pip --version", False),
        ("%pip freeze", False),
        ("!pip show pandas", False),
        ("!pip list | grep torch", False),
        ("# !pip install pandas", False),
        ("# %pip install pandas", False),
        ('print("run pip install pandas first")', False),
        ("%%bash\n# pip install pandas\necho done", False),
        ("%%writefile setup.sh\npip install pandas", False),
        ('help_text = """\npip install pandas\n"""', False),
    ],
)
def test_cells(source: str, fires: bool) -> None:
    assert flagged([source], "pip-install-in-notebook") == ([0] if fires else [])


def test_message_lists_plain_package_names_only() -> None:
    source = "!pip install -q 'pandas>=2' tqdm git+https://user:pw@example.com/repo.git -r reqs.txt"
    [finding] = findings(notebook([source]), "pip-install-in-notebook")
    assert finding.message.startswith("`!pip install` (pandas>=2, tqdm) installs packages")
    assert "pw@" not in finding.message and "reqs.txt" not in finding.message
    assert (finding.line, finding.column) == (1, 1)


def test_one_finding_per_install_line() -> None:
    source = "%pip install pandas\n%pip install numpy\nimport pandas"
    assert [f.line for f in findings(notebook([source]), "pip-install-in-notebook")] == [1, 2]
