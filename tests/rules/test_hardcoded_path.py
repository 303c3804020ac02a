"""hardcoded-path (NBH105): which string literals are machine-specific paths, and in which contexts."""

from __future__ import annotations

import pytest
from hygiene_cells import findings, flagged, notebook

from nbhygiene.rules.hardcoded_path import classify_path

PATHS = [
    ("/home/alice/data.csv", "Absolute path"),
    ("/home/alice", "Absolute path"),
    ("/Users/bob/Documents/churn/train.parquet", "Absolute path"),
    ("/mnt/data/images", "Absolute path"),
    ("/content/drive/MyDrive/train.csv", "Absolute path"),
    ("/kaggle/input/titanic/train.csv", "Absolute path"),
    ("/dbfs/FileStore/tables/sales.csv", "Absolute path"),
    ("/data/train.csv", "Absolute path"),
    ("/usr/local/lib/python3.11/site-packages", "Absolute path"),
    ("/srv/models/{}.pkl", "Absolute path"),
    ("/foo/bar/train.csv", "Absolute path"),  # unknown first directory, but a data file
    ("/Users/bob/My Drive/x.csv", "Absolute path"),  # a single space is fine
    ("~/data", "Home-directory path"),
    ("~/data/train.csv", "Home-directory path"),
    ("~alice/projects", "Home-directory path"),
    ("C:\\data\\x.csv", "Windows path"),
    ("C:/data", "Windows path"),
    ("d:\\Users\\alice", "Windows path"),
    ("\\\\server\\share", "Network share path"),
    ("\\\\fileserver.corp\\team\\data.csv", "Network share path"),
]
NOT_PATHS = [
    "/",
    "//",
    "~",
    "~/",
    "/api/v1",
    "/api/v1/predict",
    "/predict",
    "/data",  # a route as often as a directory
    "text/plain",
    "image/png",
    "1/2/2020",
    "3/4",
    "data/train.csv",
    "./data/train.csv",
    "../outputs",
    "https://example.com/home/alice/data.csv",
    "file:///home/alice/data.csv",
    "s3://bucket/home/alice",
    "/dev/null",
    "/dev/stdout",
    "/proc/cpuinfo",
    "/tmp",
    "/tmp/scratch.csv",
    "/var/tmp/x",
    "/usr/bin/env",
    "/bin/bash",
    "/etc/hosts",
    r"^/home/(\w+)$",
    r"/home/.*\.csv$",
    "/home/alice\n/home/bob",
    "/ 255",
    "/{}/data",
    "C:",
    "a:b",
    "~x",
    "k--",
    "/home/alice?page=2",
    "/home -la",
]


@pytest.mark.parametrize(("value", "kind"), PATHS)
def test_machine_specific_paths(value: str, kind: str) -> None:
    assert classify_path(value) == kind


@pytest.mark.parametrize("value", NOT_PATHS)
def test_not_machine_specific(value: str) -> None:
    assert classify_path(value) is None


def test_cd_arguments_are_paths_even_one_level_deep() -> None:
    assert classify_path("/content", command=True) == "Absolute path"
    assert classify_path("/data", command=True) == "Absolute path"
    assert classify_path("/tmp", command=True) is None
    assert classify_path("data", command=True) is None


@pytest.mark.parametrize(
    ("source", "fires"),
    [
        ('df = pd.read_csv("/home/alice/data.csv")', True),
        ("df = pd.read_csv('/home/alice/data.csv')", True),
        ('df = pd.read_csv(r"C:\\Users\\alice\\data.csv")', True),
        ('path = f"/home/{user}/data/train.csv"', True),
        ('path = f"{root}/home/alice/data.csv"', False),  # the absolute part is a fragment
        ('path = os.path.join("/mnt/data", name)', True),
        ('url = BASE_URL + "/home/alice/data.csv"', False),
        ('path = root / "/home/alice"', False),
        ('url = urljoin(base, "/data/users.json")', False),
        ('@app.route("/home/dashboard")\ndef home():\n    return "ok"', False),
        ('def load():\n    """Reads /home/alice/data.csv."""\n    return 1', False),
        ('"""/home/alice/notes.txt"""', False),
        ('drive.mount("/content/drive")', False),
        ('x = "/dev/null"', False),
        ("%cd /home/alice/project", True),
        ("%cd ~/project", True),
        ("%cd data", False),
        ("%cd -", False),
        ("!cd /home/alice && ls", True),
        ("!ls /home/alice", False),  # only cd-like commands are read
        ('print("see /home/alice/data.csv")', False),  # a path inside prose is not a path literal
    ],
)
def test_contexts(source: str, fires: bool) -> None:
    assert flagged([source], "hardcoded-path") == ([0] if fires else [])


def test_one_finding_per_distinct_path_with_position() -> None:
    source = 'a = "/home/alice/x.csv"\nb = "/home/alice/x.csv"\nc = ["é", "/home/bob/y.csv"]'
    found = findings(notebook([source]), "hardcoded-path")
    assert [(f.line, f.column) for f in found] == [(1, 5), (3, 11)]  # characters, not UTF-8 bytes
    assert found[0].message.startswith("Absolute path `/home/alice/x.csv`")
