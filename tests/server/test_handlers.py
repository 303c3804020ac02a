"""The jupyter_server endpoints, through a real server (pytest-jupyter's ``jp_fetch``)."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from nbhygiene.config import load_config
from nbhygiene.engine import check_file
from nbhygiene.rules import all_rules

WINE = "wine_quality_poc.ipynb"


async def post_check(jp_fetch: Any, payload: Any, **kwargs: Any) -> dict[str, Any]:
    body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    response = await jp_fetch("nbhygiene", "check", method="POST", body=body, **kwargs)
    assert response.code == 200
    return json.loads(response.body)


async def expect_error(call: Any, status: int) -> dict[str, Any]:
    with pytest.raises(HTTPClientError) as raised:
        await call
    assert raised.value.code == status
    response = raised.value.response
    assert response is not None
    error = json.loads(response.body)
    assert set(error) == {"code", "message"}, error
    return error


def rules_in(entry: dict[str, Any]) -> set[tuple[str | None, str]]:
    return {(f["cell_id"], f["rule"]) for f in entry["findings"]}


# -- check ------------------------------------------------------------------------------------------
async def test_check_by_path_matches_the_cli_entry(jp_fetch: Any, jp_root_dir: Path) -> None:
    entry = await post_check(jp_fetch, {"path": WINE})
    expected = check_file(str(jp_root_dir / WINE), load_config(str(jp_root_dir))).to_json()
    expected["path"] = WINE
    assert entry == expected
    assert set(entry) == {"path", "error", "findings"}
    assert ("features", "undefined-name") in rules_in(entry)
    assert ("random-forest", "use-before-definition") in rules_in(entry)


async def test_check_by_content_analyses_unsaved_edits(jp_fetch: Any, jp_root_dir: Path) -> None:
    notebook = json.loads((jp_root_dir / WINE).read_text())
    edited = copy.deepcopy(notebook)
    features = next(cell for cell in edited["cells"] if cell.get("id") == "features")
    features["source"] = ["FEATURES = list(df.columns[:-1])\n", *features["source"]]

    on_disk = await post_check(jp_fetch, {"path": WINE})
    unsaved = await post_check(jp_fetch, {"path": WINE, "notebook": edited})
    assert ("features", "undefined-name") in rules_in(on_disk)
    assert ("features", "undefined-name") not in rules_in(unsaved)
    assert unsaved["path"] == WINE and unsaved["error"] is None
    # The file on disk was not touched.
    assert json.loads((jp_root_dir / WINE).read_text()) == notebook


async def test_check_content_in_a_subdirectory_reports_the_api_path(jp_fetch: Any, jp_root_dir: Path) -> None:
    (jp_root_dir / "sub").mkdir()
    notebook = json.loads((jp_root_dir / WINE).read_text())
    entry = await post_check(jp_fetch, {"path": "sub/new.ipynb", "notebook": notebook})
    assert entry["path"] == "sub/new.ipynb"
    assert entry["findings"]


async def test_pyproject_configuration_applies(jp_fetch: Any, jp_root_dir: Path) -> None:
    (jp_root_dir / "pyproject.toml").write_text('[tool.nbhygiene]\nignore = ["undefined-name"]\n')
    entry = await post_check(jp_fetch, {"path": WINE})
    assert "undefined-name" not in {f["rule"] for f in entry["findings"]}
    assert "use-before-definition" in {f["rule"] for f in entry["findings"]}


async def test_invalid_configuration_is_the_files_error(jp_fetch: Any, jp_root_dir: Path) -> None:
    (jp_root_dir / "pyproject.toml").write_text('[tool.nbhygiene]\nignore = "no-such-rule"\nbogus = 1\n')
    entry = await post_check(jp_fetch, {"path": WINE})
    assert entry["error"]["kind"] == "config-error"
    assert entry["findings"] == []


async def test_a_non_notebook_file_gives_a_file_entry_with_an_error(jp_fetch: Any, jp_root_dir: Path) -> None:
    (jp_root_dir / "notes.txt").write_text("just some notes\n")
    entry = await post_check(jp_fetch, {"path": "notes.txt"})
    assert entry["path"] == "notes.txt"
    assert entry["findings"] == []
    assert entry["error"]["kind"] == "invalid-json"
    assert str(jp_root_dir) not in entry["error"]["message"]

    missing = await post_check(jp_fetch, {"path": "nowhere.ipynb"})
    assert missing["error"]["kind"] == "not-found"

    content = await post_check(jp_fetch, {"path": "x.ipynb", "notebook": [1, 2]})
    assert content["error"]["kind"] == "not-a-notebook"


async def test_bad_json_is_a_400_with_code_and_message(jp_fetch: Any) -> None:
    error = await expect_error(post_check(jp_fetch, "{not json"), 400)
    assert error["code"] == "bad-json"
    error = await expect_error(post_check(jp_fetch, "[1, 2]"), 400)
    assert error["code"] == "bad-request"
    error = await expect_error(post_check(jp_fetch, {"notebook": {}}), 400)
    assert error["code"] == "bad-request" and "path" in error["message"]


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/passwd", "sub/../../outside.ipynb", "/"])
async def test_paths_outside_the_root_are_refused(jp_fetch: Any, path: str) -> None:
    error = await expect_error(post_check(jp_fetch, {"path": path}), 403)
    assert error["code"] == "path-outside-root"
    error = await expect_error(post_check(jp_fetch, {"path": path, "notebook": {"cells": []}}), 403)
    assert error["code"] == "path-outside-root"


async def test_symlinks_escaping_the_root_are_refused(
    jp_fetch: Any, jp_root_dir: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.ipynb").write_text((jp_root_dir / WINE).read_text())
    os.symlink(outside, jp_root_dir / "linked-dir")
    os.symlink(outside / "secret.ipynb", jp_root_dir / "linked.ipynb")
    for path in ("linked-dir/secret.ipynb", "linked.ipynb"):
        error = await expect_error(post_check(jp_fetch, {"path": path}), 403)
        assert error["code"] == "path-outside-root"
    # A symlink that stays inside the root is fine.
    os.symlink(jp_root_dir / WINE, jp_root_dir / "alias.ipynb")
    entry = await post_check(jp_fetch, {"path": "alias.ipynb"})
    assert entry["path"] == "alias.ipynb" and entry["findings"]


async def test_absolute_path_inside_the_root_is_accepted(jp_fetch: Any, jp_root_dir: Path) -> None:
    entry = await post_check(jp_fetch, {"path": str(jp_root_dir / WINE)})
    assert entry["path"] == WINE and entry["findings"]


# -- authentication and XSRF ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("parts", "method", "body"),
    [
        (("nbhygiene", "check"), "POST", json.dumps({"path": WINE})),
        (("nbhygiene", "rules"), "GET", None),
        (("nbhygiene", "rules", "undefined-name"), "GET", None),
    ],
)
async def test_unauthenticated_requests_are_refused(
    jp_fetch: Any, parts: tuple, method: str, body: Any
) -> None:
    error = await expect_error(jp_fetch(*parts, method=method, body=body, headers={"Authorization": ""}), 403)
    assert error["code"] == "forbidden"


async def test_post_authenticated_by_cookie_needs_the_xsrf_token(jp_fetch: Any, jp_serverapp: Any) -> None:
    token = jp_serverapp.identity_provider.token
    login = await jp_fetch("nbhygiene", "rules", params={"token": token}, headers={"Authorization": ""})
    cookies = {}
    for header in login.headers.get_list("Set-Cookie"):
        name, _, rest = header.partition("=")
        cookies[name] = rest.split(";", 1)[0]
    login_cookies = "; ".join(f"{k}={v}" for k, v in cookies.items() if k.startswith("username-"))
    assert login_cookies, "token authentication should set the login cookie"
    body = json.dumps({"path": WINE})
    without = jp_fetch(
        "nbhygiene", "check", method="POST", body=body, headers={"Authorization": "", "Cookie": login_cookies}
    )
    error = await expect_error(without, 403)
    assert error["code"] == "forbidden" and "xsrf" in error["message"].lower()
    # The same cookie with a matching XSRF cookie and header is accepted: XSRF was the only reason.
    xsrf = "2|abcdef01|0123456789abcdef0123456789abcdef|1700000000"
    with_xsrf = await jp_fetch(
        "nbhygiene",
        "check",
        method="POST",
        body=body,
        headers={"Authorization": "", "Cookie": f"{login_cookies}; _xsrf={xsrf}", "X-XSRFToken": xsrf},
    )
    assert with_xsrf.code == 200


# -- rules ------------------------------------------------------------------------------------------
async def test_rules_catalogue(jp_fetch: Any) -> None:
    response = await jp_fetch("nbhygiene", "rules")
    rules = json.loads(response.body)["rules"]
    assert [r["name"] for r in rules] == [r.name for r in all_rules()]
    assert rules[0] == all_rules()[0].describe()
    assert {"code", "name", "summary", "severity", "family"} <= set(rules[0])


async def test_rule_doc_by_name_and_by_code(jp_fetch: Any) -> None:
    by_name = json.loads((await jp_fetch("nbhygiene", "rules", "use-before-definition")).body)
    assert by_name["name"] == "use-before-definition"
    assert set(by_name["sections"]) == {"What it does", "Why it matters", "Example", "What to do instead"}
    assert "## What it does" in by_name["doc"]
    by_code = json.loads((await jp_fetch("nbhygiene", "rules", by_name["code"])).body)
    assert by_code == by_name
    error = await expect_error(jp_fetch("nbhygiene", "rules", "no-such-rule"), 404)
    assert error["code"] == "unknown-rule"


# -- extract ----------------------------------------------------------------------------------------
async def post_extract(jp_fetch: Any, payload: dict[str, Any]) -> dict[str, Any]:
    # Verification re-runs the notebook in fresh kernels: longer than jp_fetch's default 20 s.
    response = await jp_fetch(
        "nbhygiene", "extract", method="POST", body=json.dumps(payload), request_timeout=300
    )
    assert response.code == 200
    return json.loads(response.body)


async def test_extract_preview_shows_the_signature_and_writes_nothing(
    jp_fetch: Any, jp_root_dir: Path
) -> None:
    before = sorted(p.name for p in jp_root_dir.iterdir())
    reply = await post_extract(
        jp_fetch, {"path": WINE, "cells": "id:split", "module": "pipeline.py", "preview": True}
    )
    assert reply["status"] == "unverified"
    assert reply["signature"] == "split(X, y) -> X_train, X_test, y_train, y_test"
    assert reply["module"] == "pipeline.py" and reply["notebook"] == WINE
    assert reply["notebook_content"] is None and reply["written"] == []
    assert sorted(p.name for p in jp_root_dir.iterdir()) == before


async def test_extract_writes_the_module_and_returns_the_rewritten_notebook(
    jp_fetch: Any, jp_root_dir: Path
) -> None:
    on_disk = (jp_root_dir / WINE).read_text()
    reply = await post_extract(
        jp_fetch,
        {
            "path": WINE,
            "cells": "id:split",
            "module": "pipeline.py",
            "function": "split_data",
            "verify": False,
        },
    )
    assert reply["status"] == "unverified", reply
    assert reply["written"] == ["pipeline.py"]
    module = (jp_root_dir / "pipeline.py").read_text()
    assert "def split_data(X, y):" in module
    # The notebook on disk is untouched: the front end applies the rewrite through the document model.
    assert (jp_root_dir / WINE).read_text() == on_disk
    cells = {cell.get("id"): cell for cell in reply["notebook_content"]["cells"]}
    call = "".join(cells["split"]["source"])
    assert "from pipeline import split_data" in call
    assert "X_train, X_test, y_train, y_test = split_data(X, y)" in call
    # The same extraction again updates the module's block in place.
    again = await post_extract(
        jp_fetch,
        {
            "path": WINE,
            "cells": "id:split",
            "module": "pipeline.py",
            "function": "split_data",
            "verify": False,
        },
    )
    assert again["status"] == "unverified"
    assert (jp_root_dir / "pipeline.py").read_text() == module


async def test_extract_refusal_and_usage_errors(jp_fetch: Any, jp_root_dir: Path) -> None:
    error = await expect_error(
        post_extract(jp_fetch, {"path": WINE, "cells": "99", "module": "pipeline.py", "preview": True}), 400
    )
    assert error["code"] == "extract-usage" and "outside" in error["message"]
    error = await expect_error(
        post_extract(jp_fetch, {"path": WINE, "cells": "10", "module": "notes.txt"}), 400
    )
    assert error["code"] == "bad-request"
    error = await expect_error(
        post_extract(jp_fetch, {"path": WINE, "cells": "10", "module": "../../tmp/evil.py"}), 403
    )
    assert error["code"] == "path-outside-root"
    refused = await post_extract(
        jp_fetch, {"path": WINE, "cells": "10", "module": "json.py", "preview": True}
    )
    assert refused["status"] == "refused" and "standard library" in refused["reason"]


@pytest.mark.slow
async def test_extract_verified_by_re_running_the_notebook(jp_fetch: Any, jp_root_dir: Path) -> None:
    reply = await post_extract(jp_fetch, {"path": WINE, "cells": "id:split", "module": "pipeline.py"})
    assert reply["status"] == "verified", reply
    assert reply["compared_cells"] > 0
    assert reply["written"] == ["pipeline.py"]


# -- runs -------------------------------------------------------------------------------------------
IRIS = "iris_parameterized_job.ipynb"


async def get_json(jp_fetch: Any, *parts: str, **params: str) -> dict[str, Any]:
    response = await jp_fetch(*parts, params=params)
    return json.loads(response.body)


async def test_runs_list_describes_the_parameters_cell(
    jp_fetch: Any, jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NBHYGIENE_STORE", raising=False)
    reply = await get_json(jp_fetch, "nbhygiene", "runs", path=IRIS)
    assert reply["notebook"] == IRIS
    assert reply["parameters"]["defaults"] == {"n_estimators": 50, "max_depth": 3, "seed": 0}
    assert reply["runs"] == [] and reply["pending"] == []
    error = await expect_error(get_json(jp_fetch, "nbhygiene", "runs", path="../../etc/passwd"), 403)
    assert error["code"] == "path-outside-root"


async def test_run_refused_without_parameters_cell_or_with_bad_params(
    jp_fetch: Any, jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NBHYGIENE_STORE", raising=False)
    start = jp_fetch("nbhygiene", "runs", method="POST", body=json.dumps({"path": WINE, "params": {}}))
    error = await expect_error(start, 400)
    assert error["code"] == "missing-parameters-cell" and "parameters" in error["message"]
    bad = jp_fetch("nbhygiene", "runs", method="POST", body=json.dumps({"path": IRIS, "params": {"1x": 2}}))
    error = await expect_error(bad, 400)
    assert error["code"] == "run-error"


@pytest.mark.slow
async def test_run_starts_in_the_background_and_lands_in_the_history(
    jp_fetch: Any, jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    monkeypatch.delenv("NBHYGIENE_STORE", raising=False)
    body = json.dumps({"path": IRIS, "params": {"n_estimators": 5}})
    response = await jp_fetch("nbhygiene", "runs", method="POST", body=body)
    assert response.code == 202
    for _ in range(240):
        reply = await get_json(jp_fetch, "nbhygiene", "runs", path=IRIS)
        done = [r for r in reply["runs"] if r["status"] not in ("running",)]
        if done and not reply["pending"]:
            break
        await asyncio.sleep(0.5)
    else:
        pytest.fail(f"the run did not finish: {reply}")
    run = done[0]
    assert run["status"] == "succeeded", run
    assert run["params"] == {"n_estimators": 5, "max_depth": 3, "seed": 0}
    assert run["output_notebook"] == f".nbhygiene/runs/{run['id']}/output.ipynb"
    assert (jp_root_dir / run["output_notebook"]).is_file()
    document = await get_json(jp_fetch, "nbhygiene", "runs", run["id"], path=IRIS)
    assert document["run"]["id"] == run["id"] and document["notebook"] == IRIS
    error = await expect_error(get_json(jp_fetch, "nbhygiene", "runs", "nope", path=IRIS), 404)
    assert error["code"] == "unknown-run"
    output = await get_json(jp_fetch, "nbhygiene", "runs", run["id"], "output", path=IRIS)
    assert output["path"] == run["output_notebook"]
    assert any("accuracy" in json.dumps(cell.get("outputs", [])) for cell in output["notebook"]["cells"])
