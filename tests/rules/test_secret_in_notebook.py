"""secret-in-notebook (NBH106): the pattern table, placeholders, outputs, and that no report ever
carries a secret.

Every credential below is FAKE: random characters in the shape of a real key. They are written in
pieces so that secret scanners reading this file do not mistake them for leaks.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hygiene_cells import code, display, error, findings, markdown, notebook, stream

from nbhygiene.cli import main
from nbhygiene.rules.secret_in_notebook import find_secrets, redact

FIXTURE = (
    Path(__file__).resolve().parents[1] / "fixtures" / "rules" / "secret-in-notebook" / "leaked_keys.ipynb"
)

AWS_ID = "AKIA" + "42CFSUOSG0WP8I8Z"
AWS_SECRET = "YVVA+jEnTYGUHe1L" + "dw6RxrrBR7RZ53l3a+rfzk1J"
GITHUB = "ghp_" + "SLU0FhEQBKuzK8UXgrsqlvYQqGL9TMknwnJN"
OPENAI = "sk-proj-" + "H6nysbCjCwBZWJOBrUgazX5M4W4Nc8OHuiXzSj9Cofgi4WZr"
HUGGING_FACE = "hf_" + "LcdOcNDUaJdiZqlOOYGmHkeFCqurdbwHYI"
PASSWORD = "Tr0ub4dor" + "-and-3"
PEM_BODY = "TwSL93D3WMZIpssSzcLZQBhap2R4KBpS7tEUe52B6TC5mQMATInnBnSgKbHBpY3i24zZa9G8Ez94L3VMjfk+jqTw"
FIXTURE_SECRETS = [AWS_ID, AWS_SECRET, GITHUB, OPENAI, HUGGING_FACE, PASSWORD, PEM_BODY]

SLACK = "xoxb-" + "2048211234-5239982736415-" + "Qx7RtY2mPz8LkV4nB6cD1sF9"
GOOGLE = "AIza" + "SyD8f3k2L9mQ7xR4tV1bN6pZ0wE5yH2jK8c"
STRIPE = "sk_" + "live_" + "51HqP2mKx9LrT4vB7nC3dF8gJ"
GITLAB = "glpat-" + "x7Kq2RmT9vLp4NbW8zYc"
JWT = (
    "eyJ"
    + "hbGciOiJIUzI1NiJ9"
    + ".eyJ"
    + "zdWIiOiJhbGljZSIsInJvbGUiOiJhZG1pbiJ9"
    + "."
    + "Kx8vR2mT9qLp4NbW7zYcD3fG6hJ1kS5a"
)
AZURE = (
    "DefaultEndpointsProtocol=https;AccountName=mlstore;AccountKey="
    + "q8Vx2Lm9Tk4Rb7Np3Wz6Yc1Df5Gh0Js8Ka2Qe4Ru6Ti9Oy3Pw=="
)
GITHUB_PAT = "github_pat_" + "11ABCDEFG0" + "x7Kq2RmT9vLp4NbW8zYcD3fG6hJ1kS5aQx7RtY2mPz8LkV4nB6cD1sF9gH3"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (f'key = "{AWS_ID}"', "AWS access key id"),
        (f'aws_secret_access_key = "{AWS_SECRET}"', "AWS secret access key"),
        (f"aws_secret_access_key={AWS_SECRET}", "AWS secret access key"),  # a credentials file
        (f"{{'SecretAccessKey': '{AWS_SECRET}'}}", "AWS secret access key"),  # boto3 output
        (f'token = "{GITHUB}"', "GitHub token"),
        (f"git clone https://{GITHUB_PAT}@github.com/org/repo", "GitHub token"),
        (f'client = OpenAI(api_key="{OPENAI}")', "OpenAI/Anthropic API key"),
        (f"login(token='{HUGGING_FACE}')", "Hugging Face token"),
        (f'SLACK = "{SLACK}"', "Slack token"),
        (f'maps = "https://maps.googleapis.com/maps/api/js?key={GOOGLE}"', "Google API key"),
        (f'stripe.api_key = "{STRIPE}"', "Stripe live key"),
        (f'gl = "{GITLAB}"', "GitLab token"),
        (f'headers = {{"Authorization": "Bearer {JWT}"}}', "JSON Web Token"),
        (f'conn = "{AZURE}"', "Azure storage account key"),
        (
            f'{{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\n{PEM_BODY}\\n"}}',
            "private key",
        ),
        (f'password = "{PASSWORD}"', "password assigned to `password`"),
        (f'conn = connect(user="ml", password="{PASSWORD}")', "password assigned to `password`"),
        (f'cfg = {{"db_password": "{PASSWORD}"}}', "password assigned to `db_password`"),
        ('SECRET_KEY = "d8f7a6s5d4f3g2h1j0k9"', "secret assigned to `SECRET_KEY`"),
        ('os.environ["WANDB_API_KEY"] = "a1b2c3d4e5f6a7b8c9d0"', "secret assigned to `WANDB_API_KEY`"),
        ('access_token = "Zx9Yw8Vu7Ts6Rq5Po4"', "secret assigned to `access_token`"),
        ("%env DB_PASSWORD=" + PASSWORD, "password assigned to `DB_PASSWORD`"),
        ('engine = create_engine("postgresql://ml:Xk92mq!v@db.internal:5432/sales")', "password in a URL"),
        ('r = redis.from_url("redis://:hunter22@cache:6379/0")', "password in a URL"),
    ],
)
def test_secrets_are_found(text: str, kind: str) -> None:
    found = find_secrets(text, code=True)
    assert [s.kind for s in found] == [kind]


@pytest.mark.parametrize(
    "text",
    [
        'key = "AKIAIOSFODNN7EXAMPLE"',  # AWS's documentation key
        'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
        'key = "AKIA0000000000000000"',
        'api_key = "your_api_key_here"',
        'api_key = "<your-key>"',
        'api_key = "YOUR_API_KEY"',
        'OPENAI_API_KEY = "sk-..."',
        'OPENAI_API_KEY = "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"',
        'token = "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"',
        'SLACK = "xoxb-your-token-here-please"',
        'password = "changeme"',
        'password = "password"',
        'password = ""',
        'password = "***"',
        'password = "{password}"',
        "password = getpass()",
        'api_key = os.environ["OPENAI_API_KEY"]',
        'api_key = os.getenv("OPENAI_API_KEY", "")',
        'api_key_env = "OPENAI_API_KEY"',
        'api_key = "OPENAI_API_KEY"',  # the name of a variable, not its value
        'secret_file = "secrets.json"',
        'credentials = "service-account.json"',
        'token_path = "token.pickle"',
        'pad_token = "[PAD]"',
        'eos_token = "</s>"',
        'token = "hello"',
        'token = "supercalifragilistic"',  # no digits, one case: a word
        'key = "target"',
        'monkey = "banana123456"',
        'if password == "hunter22": pass',
        'password_prompt = "Enter your password:"',
        "the task-specific-finetuning-of-large-language-models",
        "sk-learn is not a key",
        'jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"',  # jwt.io
        "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----",
        "-----BEGIN RSA PRIVATE KEY-----\n<your key here>\n-----END RSA PRIVATE KEY-----",
        "AccountKey=<account-key>",
        "df_AKIAIOSFODNN7EXAMPLE_x",
        'uri = "mongodb+srv://user:password@cluster0.example.net"',
        'uri = "postgresql://${DB_USER}:${DB_PASSWORD}@db/sales"',
        "Looking in indexes: https://user:****@pypi.example.com/simple",
        'broker = "amqp://guest:guest@localhost//"',
        'url = "http://localhost:8888/tree"',
        'repo = "ssh://git@github.com:22/org/repo.git"',
    ],
)
def test_placeholders_and_lookalikes_are_not_secrets(text: str) -> None:
    assert find_secrets(text, code=True) == []


def test_keyword_assignments_only_count_in_code() -> None:
    assert find_secrets(f'password = "{PASSWORD}"', code=False) == []
    assert find_secrets(f'"{OPENAI}"', code=False) != []


def test_outputs_are_scanned_but_images_never() -> None:
    image = "iVBORw0KGgo" + AWS_ID + "x" * 100  # a token-shaped run inside a binary payload
    cells = [
        code("print(key)", "printed", [stream(f"using {OPENAI}\n")]),
        code("show()", "html", [display({"text/html": f"<td>{GITHUB}</td>", "text/plain": "<table>"})]),
        code(
            "fail()",
            "failed",
            [error("AuthError", f"bad key {GOOGLE}", [f"\x1b[0;31mAuthError\x1b[0m: {GOOGLE}"])],
        ),
        code("cfg", "json", [display({"application/json": {"aws_secret_access_key": AWS_SECRET}})]),
        code("plot()", "image", [display({"image/png": image, "text/plain": "<Figure>"})]),
        markdown(f"Token for the demo: {HUGGING_FACE}", "notes"),
    ]
    found = findings(notebook(cells), "secret-in-notebook")
    assert sorted(f.cell_id for f in found) == ["failed", "html", "json", "notes", "printed"]
    assert all(f.line is None for f in found if f.cell_id != "notes")
    assert "saved output (stdout)" in next(f.message for f in found if f.cell_id == "printed")


def test_big_inline_scripts_are_skipped_but_their_src_is_read() -> None:
    library = "<script>" + "var plotly = 1;" * 5000 + f"'{GOOGLE}'</script>"
    tag = f'<script src="https://maps.googleapis.com/maps/api/js?key={GOOGLE}"></script>'
    assert (
        findings(notebook([code("fig", "a", [display({"text/html": library})])]), "secret-in-notebook") == []
    )
    html = tag + "<div>" + "x" * 30_000 + "</div>"
    assert (
        len(findings(notebook([code("m", "b", [display({"text/html": html})])]), "secret-in-notebook")) == 1
    )


def test_one_finding_per_secret_and_cell_pointing_at_the_source() -> None:
    cells = [code(f'KEY = "{OPENAI}"\nprint(KEY)\nprint(KEY)', "c", [stream(f"{OPENAI}\n{OPENAI}\n")])]
    found = findings(notebook(cells), "secret-in-notebook")
    assert [(f.line, f.column) for f in found] == [(1, 8)]
    assert found[0].message == "OpenAI/Anthropic API key `sk-p…` (56 chars) in the cell source"


def test_non_python_notebooks_are_scanned_too() -> None:
    nb = notebook([f'Sys.setenv(GITHUB_PAT = "{GITHUB}")'])
    nb["metadata"]["kernelspec"] = {"name": "ir", "language": "R", "display_name": "R"}
    assert len(findings(nb, "secret-in-notebook")) == 1


def test_redact() -> None:
    assert redact(f"Incorrect API key provided: {OPENAI}.") == "Incorrect API key provided: sk-p…."
    assert redact("nothing secret here") == "nothing secret here"


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_no_report_format_contains_a_secret(fmt: str, tmp_path: Path) -> None:
    report = tmp_path / f"report.{fmt}"
    code_ = main(
        ["check", str(FIXTURE), "--no-cache", "--format", fmt, "--output", str(report), "--exit-zero"]
    )
    assert code_ == 0
    text = report.read_text()
    assert "secret-in-notebook" in text or "NBH106" in text
    _assert_no_secret(text)


def test_results_cache_does_not_contain_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBHYGIENE_CACHE_DIR", str(tmp_path / "cache"))
    for _ in range(2):  # write, then read back from the cache
        assert (
            main(
                [
                    "check",
                    str(FIXTURE),
                    "--format",
                    "json",
                    "--output",
                    str(tmp_path / "r.json"),
                    "--exit-zero",
                ]
            )
            == 0
        )
    cache_files = list((tmp_path / "cache").iterdir())
    assert cache_files
    for path in cache_files:
        text = path.read_text()
        assert "NBH106" in text
        _assert_no_secret(text)
    _assert_no_secret((tmp_path / "r.json").read_text())


def test_baseline_does_not_contain_a_secret(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    main(
        [
            "check",
            str(FIXTURE),
            "--no-cache",
            "--write-baseline",
            str(baseline),
            "--exit-zero",
            "-o",
            os.devnull,
        ]
    )
    _assert_no_secret(baseline.read_text())


def _assert_no_secret(text: str) -> None:
    for secret in FIXTURE_SECRETS:
        assert secret not in text
        assert secret[4:12] not in text  # not even the part after the shown prefix
