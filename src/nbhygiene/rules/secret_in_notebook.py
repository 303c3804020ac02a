from __future__ import annotations

import bisect
import dataclasses
import hashlib
import itertools
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from nbhygiene.findings import Family, Severity
from nbhygiene.model import Cell
from nbhygiene.rule import Context, Report, Rule


class SecretInNotebook(Rule):
    """A credential (API key, token, password, private key) is written in a cell or a saved output.

    ## What it does
    Scans the source of every cell and the saved text outputs of code cells (stream text,
    `text/plain`, `text/html`, `text/markdown`, `application/json`, error messages and tracebacks)
    for:
    - cloud credentials: AWS access key ids (`AKIA...`, `ASIA...`), AWS secret keys assigned to
      `aws_secret_access_key`/`SecretAccessKey`, private keys (`-----BEGIN ... PRIVATE KEY-----`, as in
      a GCP service-account JSON), Azure connection strings (`AccountKey=...`);
    - tokens: GitHub (`ghp_...`, `github_pat_...`), GitLab (`glpat-...`), Slack (`xoxb-...`, webhooks),
      OpenAI/Anthropic (`sk-...`), Hugging Face (`hf_...`), Stripe (`sk_live_...`), Google API keys
      (`AIza...`), JSON Web Tokens;
    - passwords in connection URLs (`postgresql://user:s3cret@host/db`);
    - in code cells only: a string literal assigned to a name such as `password`, `db_password`,
      `secret`, `client_secret`, `api_key`, `SECRET_KEY`, `access_token`, `hf_token`, `token` (also as
      a keyword argument, a dict item or `os.environ[...]`), and `%env NAME=value` lines.

    Documentation placeholders are not secrets: AWS's `AKIAIOSFODNN7EXAMPLE` and
    `wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY`, anything containing `EXAMPLE`, `xxxx`, `<your-key>`,
    `your_api_key_here`, `changeme`, `...`, `***`, low-variety strings (`0000...`), environment
    variable names (`"OPENAI_API_KEY"`), file names (`token.json`), and values read from
    `os.environ[...]`, `os.getenv(...)` or `getpass()` (they are not literals). Image and other binary
    outputs are never decoded or searched.

    Findings show only the kind of secret, its first four characters and its length (for passwords
    and other keyword assignments, only the length): the secret itself never appears in a message, a
    report format or the results cache.

    ## Why it matters
    Notebooks are shared, committed and published with their outputs. A key in a cell, or printed in
    an output, is readable by everyone who ever gets the file, stays in the git history after it is
    deleted, and is found by bots scanning public repositories within minutes.

    ## Example
    ```python
    openai.api_key = "sk-proj-..."      # a real key pasted into a cell
    !aws configure list                 # output shows the access key id
    ```

    ## What to do instead
    Revoke (rotate) the key first: it has leaked. Then read credentials at run time from the
    environment, a secrets manager or a prompt, and clear the outputs that showed them:
    ```python
    import os
    from getpass import getpass

    openai.api_key = os.environ.get("OPENAI_API_KEY") or getpass("OpenAI key: ")
    ```
    """

    code = "NBH106"
    name = "secret-in-notebook"
    summary = "A credential (API key, token, password, private key) is written in a cell or a saved output."
    severity = Severity.ERROR
    family = Family.CONFIGURATION
    needs_python = False  # a key leaks from an R or Julia notebook just as well

    def check(self, ctx: Context) -> Iterator[Report]:
        # Two scans of joined text per notebook: every source and text output for the token shapes,
        # the code cells (lower-cased) for keyword assignments. Offsets are mapped back to their cell.
        texts: list[str] = []
        owners: list[tuple[Cell, str | None]] = []  # (cell, output kind, or None for its source)
        code: list[int] = []
        for cell in ctx.notebook.cells:
            if cell.source:
                if cell.is_code:
                    code.append(len(texts))
                texts.append(cell.source)
                owners.append((cell, None))
            if cell.outputs:
                for where, text in output_texts(cell):
                    texts.append(text)
                    owners.append((cell, where))
        found = _located(texts, None, find_tokens)
        if code:
            spans = [(i, s.start, s.start + s.length) for i, s in found]
            for i, secret in _located(texts, code, find_assignments):
                if not any(i == j and a <= secret.start < b for j, a, b in spans):  # the value is a token
                    found.append((i, secret))
            found.sort(key=lambda item: (item[0], item[1].start))
        reported: set[tuple[int, str]] = set()
        for index, secret in found:
            cell, origin = owners[index]
            if (cell.index, secret.fingerprint) in reported:
                continue
            reported.add((cell.index, secret.fingerprint))
            if origin is None:
                line, column = _position(texts[index], secret.start)
                yield Report(f"{secret.describe()} in the cell source", cell, line, column)
            else:
                yield Report(f"{secret.describe()} in the saved output ({origin}); clear the output", cell)


def _located(
    texts: list[str], indexes: Sequence[int] | None, finder: Callable[[str], list[Secret]]
) -> list[tuple[int, Secret]]:
    """``finder`` run once over the chosen texts (all when ``indexes`` is None) joined; each secret
    with the index of its text and its offset there."""
    chosen = texts if indexes is None else [texts[i] for i in indexes]
    secrets = finder(_SEPARATOR.join(chosen)) if chosen else []
    if not secrets:
        return []
    starts = [0, *itertools.accumulate(len(text) + len(_SEPARATOR) for text in chosen)]
    located: list[tuple[int, Secret]] = []
    for secret in secrets:
        position = bisect.bisect_right(starts, secret.start) - 1
        relative = dataclasses.replace(secret, start=secret.start - starts[position])
        located.append((position if indexes is None else indexes[position], relative))
    return located


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


# -- outputs ------------------------------------------------------------------------------------------
_TEXT_MIMES = frozenset({"text/plain", "text/html", "text/markdown", "text/latex", "application/json"})
_MAX_JSON = 1_000_000  # a bigger application/json payload is data, not a printed credential
_BIG_SCRIPT = 20_000  # an inline <script> this long is a bundled library (plotly.js, bokeh), not user data


def _joined(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return "".join(value)
    return None


def output_texts(cell: Cell) -> Iterator[tuple[str, str]]:
    """(where, text) for every text output of a code cell.

    Images and other binary payloads are skipped without being looked at; the bodies of big inline
    scripts in HTML (JavaScript libraries embedded by plotly or bokeh, megabytes each) are skipped too.
    """
    for output in cell.outputs:
        kind = output.get("output_type")
        if kind == "stream":
            text = output.get("text")
            if text.__class__ is not str:
                text = _joined(text)
            if text:
                yield output.get("name") or "stream", text
        elif kind == "error":
            traceback = output.get("traceback")
            parts = [str(output.get("ename") or ""), str(output.get("evalue") or "")]
            if isinstance(traceback, list):
                parts.extend(str(t) for t in traceback)
            yield "error", "\n".join(parts)
        else:
            data = output.get("data")
            if not isinstance(data, dict):
                continue
            for mime, value in data.items():
                if mime not in _TEXT_MIMES:
                    continue
                text = value if value.__class__ is str else _joined(value)
                if text is None and mime == "application/json":
                    try:
                        text = json.dumps(value)[:_MAX_JSON]
                    except (TypeError, ValueError):
                        text = None
                if text and mime == "text/html" and len(text) > _BIG_SCRIPT:
                    text = _without_big_scripts(text)
                if text:
                    yield mime, text


def _without_big_scripts(html: str) -> str:
    """``html`` without the bodies of long ``<script>`` elements (their opening tags, which may hold
    a `src=...?key=` URL, are kept)."""
    kept: list[str] = []
    position = 0
    start = html.find("<script")
    while start >= 0:
        end = html.find("</script>", start)
        if end < 0:
            break
        if end - start > _BIG_SCRIPT:
            tag_end = html.find(">", start, end)
            kept.append(html[position : tag_end + 1 if tag_end >= 0 else start])
            position = end
        start = html.find("<script", end)
    if not kept:
        return html
    kept.append(html[position:])
    return "".join(kept)


# -- detection ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Secret:
    """A secret found in a text: where, what kind, and a redacted excerpt. Never the value itself."""

    kind: str
    start: int
    length: int
    excerpt: str  # the first characters that may be shown ("" when none may be)
    fingerprint: str  # a hash, to report one secret once per cell

    def describe(self) -> str:
        shown = f" `{self.excerpt}…`" if self.excerpt else ""
        return f"{self.kind}{shown} ({self.length} chars)"


_PLACEHOLDER = re.compile(
    r"example|xxx|your|<|>|\{|\}|\.\.\.|…|\*\*\*|changeme|change_me|change-me|placeholder|dummy|fake|redacted"
    r"|replace|insert|fixme|todo|sample|\$\(|\$\{|%\(",
    re.IGNORECASE,
)
# The payload of jwt.io's example token ({"sub": "1234567890", "name": "John Doe", ...}).
_JWT_EXAMPLE = "IkpvaG4gRG9lI"
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def _random_enough(body: str, min_length: int = 16) -> bool:
    """Keys are random: long enough, several distinct characters, digits or mixed case, no placeholder."""
    if len(body) < min_length or _PLACEHOLDER.search(body):
        return False
    if len(set(body)) < min(10, len(body) // 3):
        return False
    has_digit = any(c.isdigit() for c in body)
    has_lower = any(c.islower() for c in body)
    has_upper = any(c.isupper() for c in body)
    return (has_digit and (has_lower or has_upper)) or (has_lower and has_upper)


def _private_key_body(text: str, match: re.Match[str]) -> bool:
    """A key block holds base64 data, not `...` or a placeholder line."""
    body = match.group("value")
    return sum(c.isalnum() for c in body) >= 64 and not _PLACEHOLDER.search(body)


def _url_password(match: re.Match[str]) -> bool:
    """`postgresql://user:s3cret@host/db` holds a password; `user:password@`, `:****@`, `:${PW}@` do not."""
    value = match.group("value")
    return not (
        value.lower() in _NOT_A_VALUE
        or _PLACEHOLDER.search(value)
        or value.startswith(("$", "%"))
        or len(set(value)) <= 2
    )


@dataclass(frozen=True, slots=True)
class _Kind:
    kind: str
    value_group: str | None = None  # the secret part of the match (default: all of it)
    boundary: bool = True  # must not continue a longer word on the left
    min_length: int = 16
    show: bool = True  # whether the first characters may be shown
    check: Callable[[str, re.Match[str]], bool] | None = None  # replaces the randomness check


# Each pattern starts with a literal (the regex engine then searches for it quickly); left word
# boundaries are checked afterwards. The search for all the literals at once is the cheap first pass.
_TOKEN_PATTERNS: tuple[tuple[str, re.Pattern[str], _Kind], ...] = (
    # (hint: a literal every match contains, chosen to start with a rare character; pattern; kind)
    ("A[KS]IA", re.compile(r"A[KS]IA[A-Z0-9]{16}(?![A-Z0-9])"), _Kind("AWS access key id")),
    (
        "_access_key|_ACCESS_KEY|AccessKey",
        re.compile(
            r"(?i:secret_?access_?key)[\"']?\s*[:=]\s*[\"']?(?P<value>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
        ),
        _Kind("AWS secret access key", "value", boundary=False),
    ),
    (
        "PRIVATE KEY",
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?P<value>(?:\\n|[\sA-Za-z0-9+/=]){64,})"
        ),
        _Kind("private key", "value", boundary=False, show=False, check=_private_key_body),
    ),
    (
        "AccountKey=|AccessKey=",
        re.compile(r"(?:Account|SharedAccess)Key=(?P<value>[A-Za-z0-9+/]{20,}={0,2})"),
        _Kind("Azure storage account key", "value", boundary=False),
    ),
    ("gh[pousr]_", re.compile(r"gh[pousr]_[A-Za-z0-9]{36}(?![A-Za-z0-9_])"), _Kind("GitHub token")),
    ("github_pat_", re.compile(r"github_pat_[A-Za-z0-9_]{50,}(?![A-Za-z0-9_])"), _Kind("GitHub token")),
    ("glpat-", re.compile(r"glpat-[A-Za-z0-9_\-]{20,}(?![A-Za-z0-9_\-])"), _Kind("GitLab token")),
    (
        "xox",
        re.compile(r"xox[abposre]-[A-Za-z0-9\-]{10,}(?![A-Za-z0-9_\-])"),
        _Kind("Slack token", min_length=20),
    ),
    (
        r"ks\.slack\.com",
        re.compile(r"hooks\.slack\.com/services/(?P<value>T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{16,})"),
        _Kind("Slack webhook URL", "value", boundary=False),
    ),
    (
        "k-",
        re.compile(r"sk-(?:proj-|svcacct-|admin-|ant-(?:api\d\d-)?)?[A-Za-z0-9_\-]{32,}(?![A-Za-z0-9_\-])"),
        _Kind("OpenAI/Anthropic API key", min_length=35),
    ),
    ("hf_", re.compile(r"hf_[A-Za-z0-9]{30,}(?![A-Za-z0-9_])"), _Kind("Hugging Face token")),
    ("k_live_", re.compile(r"[sr]k_live_[A-Za-z0-9]{20,}(?![A-Za-z0-9_])"), _Kind("Stripe live key")),
    ("AIza", re.compile(r"AIza[0-9A-Za-z_\-]{35}(?![A-Za-z0-9_\-])"), _Kind("Google API key")),
    (
        "yJ",
        re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,}(?![A-Za-z0-9_\-])"),
        _Kind("JSON Web Token", check=lambda text, match: _JWT_EXAMPLE not in match.group(0)),
    ),
    (
        "://",
        re.compile(r"://[^/\s:@'\"<>{}]{0,64}:(?P<value>[^/\s:@'\"]{3,128})@[\w.-]"),
        _Kind(
            "password in a URL",
            "value",
            boundary=False,
            show=False,
            check=lambda text, match: _url_password(match),
        ),
    ),
)
# (Named groups would say which hint matched, but make the search twenty times slower.)
_ANY_TOKEN = re.compile("|".join(hint for hint, _, _ in _TOKEN_PATTERNS))
_HINTS = tuple(re.compile(hint) for hint, _, _ in _TOKEN_PATTERNS)
_SEPARATOR = "\n\x00\n"

# `password = "..."`, `api_key="..."` (keyword argument), `"secret": "..."`, `os.environ["TOKEN"] = "..."`:
# the match starts at the keyword that ends the name; the whole name is recovered by looking back.
_KEYWORD = r"(password|passwd|passphrase|secret|token|key|credentials?)"
_ASSIGNED_LITERAL = r"[\"']?\]?[ \t]*(?::|=(?!=))[ \t]*[rRbBuU]{0,2}([\"'])([^\"'\\\n]{1,300})\2"
_KEYWORD_ASSIGNMENT = re.compile(f"(?i:{_KEYWORD})" + _ASSIGNED_LITERAL)
_KEYWORD_ASSIGNMENT_LOWER = re.compile(_KEYWORD + _ASSIGNED_LITERAL)
_ENV_LINE = re.compile(
    r"^[ \t]*(?:%env|%set_env|!?[ \t]*export)[ \t]+([A-Za-z_]\w*)(?:=|[ \t]+)(\S+)", re.MULTILINE
)
_KEYWORD_HINTS = ("pass", "secret", "token", "key", "cred")
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_PASSWORD_NAME = re.compile(r"(?:^|_)(?:password|passwd|passphrase|pass_word)$")
_SECRET_NAME = re.compile(
    r"(?:^|_)(?:secret|secret_?key|client_?secret|api_?secret|app_?secret|consumer_?secret|api_?key|apikey"
    r"|access_?key|private_?key|account_?key|auth_?key|subscription_?key|master_?key|signing_?key"
    r"|encryption_?key|credentials?)$"
)
_TOKEN_NAME = re.compile(
    r"^(?:\w*_)?(?:access|auth|api|bearer|refresh|secret|bot|oauth|session|github|gh|gitlab|hf|huggingface|hub"
    r"|slack|discord|telegram|personal|private|wandb|openai|jwt|csrf|app|user)_?token$|^token$"
)
_NOT_A_VALUE = frozenset(
    {"none", "null", "true", "false", "password", "passwd", "secret", "token", "key", "apikey", "api_key", "pass",
     "test", "string", "str", "empty", "unknown", "default", "required", "optional", "hidden", "env",
     "guest"}
)  # fmt: skip
_FILE_NAME = re.compile(
    r"^[\w./\\~-]+\.(?:json|ya?ml|txt|env|pem|key|cfg|ini|toml|p12|pfx|crt|csv|pkl|pickle|secret|gpg)$",
    re.IGNORECASE,
)
_ENV_VAR_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")


def _fingerprint(value: str) -> str:
    return hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def find_secrets(text: str, code: bool = False) -> list[Secret]:
    """Secrets in ``text``; ``code`` adds the checks that only make sense in source code (assignments)."""
    found = find_tokens(text)
    return _merge(found, find_assignments(text)) if code else found


def find_tokens(text: str) -> list[Secret]:
    """Keys and tokens recognisable by their own shape (`AKIA...`, `ghp_...`, private key blocks, ...)."""
    found: list[Secret] = []
    hits = {match.group(0) for match in _ANY_TOKEN.finditer(text)}
    if not hits:
        return found
    for (_, pattern, kind), hint in zip(_TOKEN_PATTERNS, _HINTS, strict=True):
        if not any(hint.fullmatch(hit) for hit in hits):
            continue
        for match in pattern.finditer(text):
            start = match.start()
            if kind.boundary and start > 0 and text[start - 1] in _TOKEN_CHARS:
                continue  # `task-...` is not `sk-...`; also keeps matches out of base64 runs
            group = kind.value_group or 0
            value = match.group(group)
            if kind.check is not None:
                if not kind.check(text, match):
                    continue
            elif not _random_enough(value, kind.min_length):
                continue
            excerpt = value[:4] if kind.show else ""
            # A secret that may not be shown at all is pointed at by where its match starts (the
            # `-----BEGIN ... PRIVATE KEY-----` line), the others by their first character.
            where = match.start(group) if kind.show else match.start()
            found.append(Secret(kind.kind, where, len(value), excerpt, _fingerprint(value)))
    found.sort(key=lambda s: s.start)
    return found


def find_assignments(text: str) -> list[Secret]:
    """String literals given to names like `password`, `api_key`, `access_token` (code only)."""
    found: list[Secret] = []
    lowered = text.lower()
    if not any(hint in lowered for hint in _KEYWORD_HINTS):
        return found
    # Matching the lower-cased text with a plain regex is several times faster than a
    # case-insensitive one; offsets stay valid unless lower() changed the length (a few non-ASCII
    # letters lower-case to two characters).
    if len(lowered) == len(text):
        matches = _KEYWORD_ASSIGNMENT_LOWER.finditer(lowered)
    else:
        matches = _KEYWORD_ASSIGNMENT.finditer(text)
    for match in matches:
        begin = match.start()
        while begin > 0 and text[begin - 1] in _NAME_CHARS:
            begin -= 1
        value = text[match.start(3) : match.end(3)]
        secret = _keyword_secret(text[begin : match.end(1)], value, match.start(3))
        if secret is not None:
            found.append(secret)
    if "env" in lowered or "export" in lowered:
        for match in _ENV_LINE.finditer(text):
            secret = _keyword_secret(match.group(1), match.group(2).strip("'\""), match.start(2))
            if secret is not None:
                found.append(secret)
    return found


def _merge(tokens: list[Secret], assignments: list[Secret]) -> list[Secret]:
    """Both lists, without an assignment whose value is a token already found."""
    spans = [(s.start, s.start + s.length) for s in tokens]
    merged = tokens + [s for s in assignments if not any(a <= s.start < b for a, b in spans)]
    merged.sort(key=lambda s: s.start)
    return merged


def _keyword_secret(name: str, value: str, start: int) -> Secret | None:
    key = name.strip().lower().replace("-", "_")
    if _PASSWORD_NAME.search(key):
        kind, min_length, random = "password", 4, False
    elif _SECRET_NAME.search(key) or _TOKEN_NAME.match(key):
        kind, min_length, random = "secret", 8, True
    else:
        return None
    value = value.strip()
    if (
        len(value) < min_length
        or any(c.isspace() for c in value)
        or value.lower() in _NOT_A_VALUE
        or _PLACEHOLDER.search(value)
        or len(set(value)) <= 2
        or "://" in value
        or value.startswith(("/", "~", "./", "../", "$", "%"))
        or _FILE_NAME.match(value)
        or _ENV_VAR_NAME.match(value)
    ):
        return None
    if random and not _random_enough(value, min_length):
        return None
    return Secret(f"{kind} assigned to `{name}`", start, len(value), "", _fingerprint(value))


def redact(text: str) -> str:
    """``text`` with every secret replaced by its redacted excerpt (for messages that quote outputs)."""
    for secret in reversed(find_secrets(text)):
        text = text[: secret.start] + f"{secret.excerpt}…" + text[secret.start + secret.length :]
    return text
