"""long-cell (NBH109): what counts as a line of code, and the `max-lines` option from pyproject.toml."""

from __future__ import annotations

from pathlib import Path

from hygiene_cells import findings, flagged, notebook

from nbhygiene.config import load_config


def _lines(n: int, prefix: str = "x") -> str:
    return "\n".join(f"{prefix}{i} = {i}" for i in range(n))


def test_more_than_sixty_lines_of_code() -> None:
    assert flagged([_lines(60), _lines(61)], "long-cell") == [1]


def test_blank_and_comment_lines_do_not_count() -> None:
    padded = "\n\n".join(f"# step {i}\nv{i} = {i}" for i in range(60))
    assert flagged([padded], "long-cell") == []


def test_cell_magic_lines_and_other_languages() -> None:
    assert flagged(["%%time\n" + _lines(60)], "long-cell") == []
    assert flagged(["%%time\n" + _lines(61)], "long-cell") == [0]
    assert flagged(["%%bash\n" + "\n".join(f"echo {i}" for i in range(100))], "long-cell") == []
    assert flagged(["%%writefile m.py\n" + _lines(100)], "long-cell") == []


def test_message_and_position() -> None:
    [finding] = findings(notebook(["# header comment\n\n" + _lines(70)]), "long-cell")
    assert finding.message.startswith("Cell has 70 lines of code (limit 60)")
    assert finding.line == 3  # the first line of code, where `# nbhygiene: ignore[long-cell]` may go


def test_max_lines_from_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.nbhygiene.options.long-cell]\nmax-lines = 10\n")
    config = load_config(str(tmp_path))
    assert flagged([_lines(10), _lines(11)], "long-cell", config) == [1]
