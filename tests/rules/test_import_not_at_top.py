"""import-not-at-top (NBH102): which cells count as work, and which imports are late."""

from __future__ import annotations

import pytest
from hygiene_cells import code, findings, flagged, markdown, notebook

SETUP_CELLS = [
    "%matplotlib inline\n%load_ext autoreload\n%autoreload 2",
    "!pip install -q pandas",
    "%pip install pandas",
    "# TODO: tidy up\n# nothing here yet",
    "%%bash\necho setting up",
    "%%capture\n!pip install pandas",
    "import os\nimport warnings\nwarnings.filterwarnings('ignore')",
    "import pandas as pd\npd.set_option('display.max_columns', None)\npd.options.display.max_rows = 50",
    "import matplotlib.pyplot as plt\nplt.rcParams['figure.dpi'] = 80\nplt.style.use('ggplot')",
    "import seaborn as sns\nsns.set_theme(style='whitegrid')",
    "import sys, os\nsys.path.append(os.path.abspath(os.path.join('..', 'src')))",
    "import os\nos.environ['CUDA_VISIBLE_DEVICES'] = '0'",
    "import numpy as np\nimport random\nSEED = 42\nnp.random.seed(SEED)\nrandom.seed(SEED)",
    "DATA_DIR = 'data'\nBATCH_SIZE = 32\nCLASSES = ['cat', 'dog']",
    "import torch\ndevice = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\nprint(device)",
    "import tensorflow as tf\nprint(tf.__version__)\ntf.__version__",
    "try:\n    import google.colab\n    IN_COLAB = True\nexcept ImportError:\n    IN_COLAB = False",
    "import sys\nif sys.version_info < (3, 9):\n    raise SystemExit('needs Python 3.9')",
    "import logging\nlogging.basicConfig(level=logging.INFO)\nlogging.getLogger('x').setLevel(logging.WARNING)",
    "from dotenv import load_dotenv\nload_dotenv()",
    "import nltk\nnltk.download('punkt')",
    '"""Notebook docstring."""',
    "import torch\nimport pytorch_lightning as pl\npl.seed_everything(0)\ntorch.use_deterministic_algorithms(True)",
    "import tensorflow as tf\ntf.get_logger().setLevel('ERROR')",
    "import mlflow\nmlflow.set_tracking_uri('file:./mlruns')\nmlflow.autolog()",
]


@pytest.mark.parametrize("setup", SETUP_CELLS)
def test_setup_cells_do_not_count_as_work(setup: str) -> None:
    assert flagged([setup, "import json", "print(json.dumps({}))"], "import-not-at-top") == []


WORK_CELLS = [
    "import pandas as pd\ndf = pd.read_csv('data.csv')",
    "df = load()",
    "print(df.head())",
    "def helper(x):\n    return x + 1",
    "class Model:\n    pass",
    "for i in range(3):\n    print(i)",
    "import numpy as np\nnp.arange(10).sum()",
    "1 / 0",
    "%%timeit\nsum(range(100))",
    "x = [i for i in range(10)]",
]


@pytest.mark.parametrize("work", WORK_CELLS)
def test_imports_after_work_are_late(work: str) -> None:
    assert flagged([work, "import json", "print(json.dumps({}))"], "import-not-at-top") == [1]


def test_parameters_cell_is_not_work() -> None:
    cells = [code("data = load('x.csv')", "params", tags=["parameters"]), "import json", "json.dumps(data)"]
    assert flagged(cells, "import-not-at-top") == []


def test_markdown_and_empty_cells_are_not_work() -> None:
    cells = [markdown("# Title"), code("", "empty"), "import json", "json.dumps({})"]
    assert flagged(cells, "import-not-at-top") == []


def test_every_late_cell_is_reported_once() -> None:
    cells = [
        "import math",
        "values = [math.sqrt(i) for i in range(4)]",
        "import statistics\nimport json\nfrom collections import Counter\nprint(statistics.mean(values))",
        "import math\nmath.pi",
        "from json import *",
        "def f():\n    import json\n    return json.dumps(values)",
        "if True:\n    import csv",
    ]
    found = findings(notebook(cells), "import-not-at-top")
    assert [f.cell_index for f in found] == [2, 3, 4, 6]
    first, reimport = found[0], found[1]
    assert first.message == (
        "`import statistics` comes after cell 2 ran code; move imports to the top of the notebook (3 names imported in this cell)"
    )
    assert "re-imports" in reimport.message and "cell 1" in reimport.message
    assert (found[3].line, found[3].column) == (2, 5)


def test_imports_in_the_first_working_cell_are_fine() -> None:
    assert (
        flagged(["import pandas as pd\ndf = pd.DataFrame()\nimport numpy as np"], "import-not-at-top") == []
    )
