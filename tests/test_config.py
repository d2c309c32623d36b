"""Configuration loading, validation and matching (digestgate.config)."""

from __future__ import annotations

from pathlib import Path

import pytest

from digestgate.config import (
    Config,
    ConfigError,
    check_codes,
    find_config_file,
    load_config,
)
from digestgate.findings import Severity

KNOWN = frozenset(
    {
        "DG000",
        "DG001",
        "DG101",
        "DG102",
        "DG103",
        "DG201",
        "DG202",
        "DG203",
        "DG301",
        "DG302",
        "DG303",
        "DG304",
        "DG305",
        "DG401",
        "DG402",
        "DG403",
    }
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def load(root: Path, *, explicit: Path | None = None, no_config: bool = False) -> Config:
    return load_config(root, explicit=explicit, no_config=no_config, known_codes=KNOWN)


def own_error(tmp_path: Path, text: str) -> ConfigError:
    """The error raised for `text` as the repository's .digestgate.toml."""
    write(tmp_path / ".digestgate.toml", text)
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    return info.value


# -- finding the file and precedence ----------------------------------------------


def test_no_config_file_gives_defaults(tmp_path: Path) -> None:
    assert find_config_file(tmp_path) is None
    config = load(tmp_path)
    assert config == Config()
    assert config.source is None
    assert config.select is None
    assert config.fail_on is Severity.ERROR
    assert config.release_tags is None


def test_digestgate_toml_with_every_key(tmp_path: Path) -> None:
    path = write(
        tmp_path / ".digestgate.toml",
        """\
select = ["DG1", "DG3"]
ignore = ["DG305"]
own-images = ["ghcr.io/acme/*"]
validation-jobs = ["e2e-*", "ci.yml:test"]
promotion-jobs = ["promote"]
release-tags = ["^v\\\\d+$", "prod"]
exclude = [".github/workflows/legacy/**"]
fail-on = "warning"
repository = "acme/app"

[severity]
DG101 = "warning"
DG304 = "error"

[rules.DG305]
extra = ["candidate"]
""",
    )
    assert find_config_file(tmp_path) == path
    config = load(tmp_path)
    assert config.select == ("DG1", "DG3")
    assert config.ignore == ("DG305",)
    assert config.own_images == ("ghcr.io/acme/*",)
    assert config.validation_jobs == ("e2e-*", "ci.yml:test")
    assert config.promotion_jobs == ("promote",)
    assert config.release_tags == ("^v\\d+$", "prod")
    assert config.exclude == (".github/workflows/legacy/**",)
    assert config.fail_on is Severity.WARNING
    assert config.repository == "acme/app"
    assert dict(config.severity) == {"DG101": Severity.WARNING, "DG304": Severity.ERROR}
    assert {k: dict(v) for k, v in config.rules.items()} == {"DG305": {"extra": ["candidate"]}}
    assert config.source == str(path)


def test_pyproject_table(tmp_path: Path) -> None:
    path = write(
        tmp_path / "pyproject.toml",
        """\
[project]
name = "x"

[tool.ruff]
select = ["E"]

[tool.digestgate]
select = ["DG2"]
fail-on = "warning"
""",
    )
    assert find_config_file(tmp_path) == path
    config = load(tmp_path)
    assert config.select == ("DG2",)
    assert config.fail_on is Severity.WARNING
    assert config.source == str(path)


def test_pyproject_without_table_is_not_a_config(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n\n[tool.ruff]\nline-length = 9\n')
    assert find_config_file(tmp_path) is None
    assert load(tmp_path) == Config()


def test_digestgate_toml_wins_and_pyproject_is_ignored_entirely(tmp_path: Path) -> None:
    # the pyproject table is invalid, but it is never read
    write(tmp_path / "pyproject.toml", '[tool.digestgate]\nbogus = 1\nselect = "DG1"\n')
    own = write(tmp_path / ".digestgate.toml", 'select = ["DG3"]\n')
    assert find_config_file(tmp_path) == own
    config = load(tmp_path)
    assert config.select == ("DG3",)
    assert config.source == str(own)


def test_explicit_file_with_tool_table(tmp_path: Path) -> None:
    write(tmp_path / ".digestgate.toml", 'select = ["DG3"]\n')
    explicit = write(tmp_path / "custom.toml", '[tool.digestgate]\nignore = ["DG1"]\n')
    config = load(tmp_path, explicit=explicit)
    assert config.select is None
    assert config.ignore == ("DG1",)
    assert config.source == str(explicit)


def test_explicit_file_top_level(tmp_path: Path) -> None:
    explicit = write(tmp_path / "lint.toml", 'fail-on = "warning"\n')
    config = load(tmp_path, explicit=explicit)
    assert config.fail_on is Severity.WARNING
    assert config.source == str(explicit)


def test_explicit_pyproject_without_table_is_an_error(tmp_path: Path) -> None:
    explicit = write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')
    with pytest.raises(ConfigError) as info:
        load(tmp_path, explicit=explicit)
    assert str(info.value) == f"{explicit}: no [tool.digestgate] table in this file"


def test_explicit_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load(tmp_path, explicit=missing)
    assert str(info.value).startswith(f"{missing}: cannot read the file: ")


def test_no_config_ignores_files_even_broken_ones(tmp_path: Path) -> None:
    write(tmp_path / ".digestgate.toml", "bogus = 1\n")
    assert load(tmp_path, no_config=True) == Config()


def test_no_config_with_explicit_is_a_usage_error(tmp_path: Path) -> None:
    explicit = write(tmp_path / "lint.toml", "")
    with pytest.raises(ConfigError, match="cannot be used together"):
        load(tmp_path, explicit=explicit, no_config=True)


def test_tool_table_in_digestgate_toml_is_an_unknown_key(tmp_path: Path) -> None:
    err = own_error(tmp_path, '[tool.digestgate]\nselect = ["DG1"]\n')
    assert str(err).startswith(f"{tmp_path / '.digestgate.toml'}:1: tool: unknown key; ")
    assert "top level" in str(err)


# -- error messages ------------------------------------------------------------------


def test_unknown_key_names_key_file_line_and_suggestion(tmp_path: Path) -> None:
    err = own_error(tmp_path, 'select = ["DG1"]\nown_images = ["x/*"]\n')
    file = tmp_path / ".digestgate.toml"
    assert str(err).startswith(
        f"{file}:2: own_images: unknown key; did you mean 'own-images'? (known keys: select, "
    )
    assert (err.file, err.line, err.key) == (str(file), 2, "own_images")


def test_unknown_key_typo_suggestion(tmp_path: Path) -> None:
    err = own_error(tmp_path, '\n\nselct = ["DG1"]\n')
    assert str(err).startswith(f"{tmp_path / '.digestgate.toml'}:3: selct: unknown key; ")
    assert "did you mean 'select'?" in str(err)


def test_unknown_key_without_close_match_has_no_suggestion(tmp_path: Path) -> None:
    err = own_error(tmp_path, "zzz = 1\n")
    assert "did you mean" not in str(err)
    assert "zzz: unknown key (known keys: " in str(err)


def test_string_where_list_wanted(tmp_path: Path) -> None:
    err = own_error(tmp_path, 'select = "DG1"\n')
    assert str(err) == (
        f"{tmp_path / '.digestgate.toml'}:1: select: "
        'expected a list of strings, got a string ("DG1"); write ["DG1"]'
    )


def test_error_line_is_the_digestgate_one_in_pyproject(tmp_path: Path) -> None:
    path = write(
        tmp_path / "pyproject.toml",
        '[project]\nname = "x"\n\n[tool.ruff]\nselect = ["E"]\n\n'
        '[tool.digestgate]\nselect = "DG1"\n',
    )
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert str(info.value) == (
        f'{path}:8: select: expected a list of strings, got a string ("DG1"); write ["DG1"]'
    )


def test_list_item_of_wrong_type(tmp_path: Path) -> None:
    err = own_error(tmp_path, 'own-images = ["a/*", 3]\n')
    assert str(err) == (
        f"{tmp_path / '.digestgate.toml'}:1: own-images: "
        "expected a list of strings, but item 2 is an integer"
    )


def test_empty_string_in_list(tmp_path: Path) -> None:
    err = own_error(tmp_path, 'exclude = ["a", ""]\n')
    assert str(err).endswith("exclude: item 2 is an empty string")


def test_invalid_toml_reports_file_and_parser_message(tmp_path: Path) -> None:
    err = own_error(tmp_path, 'fail-on = "error"\nselect = = 1\n')
    assert str(err) == (
        f"{tmp_path / '.digestgate.toml'}:2: invalid TOML: Invalid value (at line 2, column 10)"
    )
    err = own_error(tmp_path, 'fail-on = "error"\nselect = [\n')
    assert str(err).startswith(f"{tmp_path / '.digestgate.toml'}: invalid TOML: ")


def test_invalid_pyproject_mentioning_digestgate_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.digestgate\nselect = []\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load(tmp_path)


def test_invalid_pyproject_not_mentioning_digestgate_is_ignored(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.ruff\n")
    assert load(tmp_path) == Config()


def test_error_without_line() -> None:
    assert str(ConfigError("bad", file="f.toml", key="k")) == "f.toml: k: bad"
    assert str(ConfigError("bad", file="f.toml", line=3, key="k")) == "f.toml:3: k: bad"
    assert str(ConfigError("bad", key="--select")) == "--select: bad"


# -- each key: good and bad ----------------------------------------------------------


@pytest.mark.parametrize("key", ["select", "ignore"])
def test_selector_matching_no_rule(tmp_path: Path, key: str) -> None:
    err = own_error(tmp_path, f'{key} = ["DG1", "DG9"]\n')
    assert str(err) == f'{tmp_path / ".digestgate.toml"}:1: {key}: "DG9" matches no rule code'


def test_selector_in_lower_case_gets_a_hint(tmp_path: Path) -> None:
    err = own_error(tmp_path, 'select = ["dg1"]\n')
    assert str(err).endswith(": select: \"dg1\" matches no rule code; did you mean 'DG1'?")


def test_selector_prefixes_of_every_length_are_accepted(tmp_path: Path) -> None:
    write(tmp_path / ".digestgate.toml", 'select = ["DG", "DG3", "DG30", "DG305"]\n')
    assert load(tmp_path).select == ("DG", "DG3", "DG30", "DG305")


def test_empty_select_enables_nothing(tmp_path: Path) -> None:
    write(tmp_path / ".digestgate.toml", "select = []\n")
    config = load(tmp_path)
    assert config.select == ()
    assert not config.is_enabled("DG101")


def test_severity_bad_value_points_at_its_line(tmp_path: Path) -> None:
    err = own_error(tmp_path, '[severity]\nDG102 = "warning"\nDG101 = "fatal"\n')
    assert str(err) == (
        f"{tmp_path / '.digestgate.toml'}:3: severity.DG101: "
        'expected "error" or "warning", got "fatal"'
    )


def test_severity_unknown_code(tmp_path: Path) -> None:
    err = own_error(tmp_path, 'severity = { DG999 = "error" }\n')
    # an inline table: the line of its parent key
    assert str(err) == f"{tmp_path / '.digestgate.toml'}:1: severity.DG999: unknown rule code"


def test_severity_lower_case_code_gets_a_hint(tmp_path: Path) -> None:
    err = own_error(tmp_path, 'severity.dg101 = "error"\n')
    assert str(err).endswith("severity.dg101: unknown rule code; did you mean 'DG101'?")


def test_severity_not_a_table(tmp_path: Path) -> None:
    err = own_error(tmp_path, 'severity = "warning"\n')
    assert "severity: expected a table of rule codes" in str(err)
    assert str(err).endswith('got a string ("warning")')


def test_job_patterns(tmp_path: Path) -> None:
    write(
        tmp_path / ".digestgate.toml",
        'validation-jobs = ["test", "ci.yml:e2e"]\npromotion-jobs = ["*/release.yml:promote-*"]\n',
    )
    config = load(tmp_path)
    assert config.validation_jobs == ("test", "ci.yml:e2e")
    assert config.promotion_jobs == ("*/release.yml:promote-*",)


@pytest.mark.parametrize("pattern", ["ci.yml:", ":build"])
def test_job_pattern_with_an_empty_side(tmp_path: Path, pattern: str) -> None:
    err = own_error(tmp_path, f'promotion-jobs = ["{pattern}"]\n')
    assert str(err) == (
        f'{tmp_path / ".digestgate.toml"}:1: promotion-jobs: "{pattern}": '
        "expected a job-id glob or 'workflow.yml:job'"
    )


def test_job_patterns_not_a_list(tmp_path: Path) -> None:
    err = own_error(tmp_path, "validation-jobs = 3\n")
    assert str(err).endswith("validation-jobs: expected a list of strings, got an integer")


def test_release_tags_absent_empty_and_set(tmp_path: Path) -> None:
    assert load(tmp_path).release_tags is None
    write(tmp_path / ".digestgate.toml", "release-tags = []\n")
    assert load(tmp_path).release_tags == ()
    write(tmp_path / ".digestgate.toml", "release-tags = ['^release-\\d+$']\n")
    assert load(tmp_path).release_tags == ("^release-\\d+$",)


def test_release_tags_bad_regex_names_the_pattern(tmp_path: Path) -> None:
    err = own_error(tmp_path, 'release-tags = ["^v1", "(v"]\n')
    assert str(err) == (
        f'{tmp_path / ".digestgate.toml"}:1: release-tags: invalid regular expression "(v": '
        "missing ), unterminated subpattern at position 0"
    )


def test_exclude_negation_is_refused(tmp_path: Path) -> None:
    err = own_error(tmp_path, 'exclude = ["!keep.yml"]\n')
    assert str(err).endswith("""exclude: "!keep.yml": negated patterns ('!') are not supported""")


def test_fail_on(tmp_path: Path) -> None:
    write(tmp_path / ".digestgate.toml", 'fail-on = "error"\n')
    assert load(tmp_path).fail_on is Severity.ERROR
    err = own_error(tmp_path, 'fail-on = "fatal"\n')
    assert str(err).endswith('fail-on: expected "error" or "warning", got "fatal"')
    err = own_error(tmp_path, "fail-on = 1\n")
    assert str(err).endswith('fail-on: expected "error" or "warning", got an integer')
    err = own_error(tmp_path, 'fail-on = "Error"\n')
    assert str(err).endswith('got "Error"')


@pytest.mark.parametrize("value", ['"acme"', '"acme/app/x"', '"acme/ app"', '"/app"'])
def test_repository_bad(tmp_path: Path, value: str) -> None:
    err = own_error(tmp_path, f"repository = {value}\n")
    assert str(err) == (
        f'{tmp_path / ".digestgate.toml"}:1: repository: expected "owner/name", got {value}'
    )


def test_repository_not_a_string(tmp_path: Path) -> None:
    err = own_error(tmp_path, 'repository = ["acme/app"]\n')
    assert str(err).endswith('repository: expected a string "owner/name", got an array')


def test_rules_options(tmp_path: Path) -> None:
    write(
        tmp_path / ".digestgate.toml",
        'rules.DG101 = { third-party = "ignore" }\n\n[rules.DG305]\nextra = 1\n',
    )
    rules = load(tmp_path).rules
    assert {k: dict(v) for k, v in rules.items()} == {
        "DG101": {"third-party": "ignore"},
        "DG305": {"extra": 1},
    }


def test_rules_unknown_code_points_at_its_table(tmp_path: Path) -> None:
    err = own_error(tmp_path, 'select = ["DG1"]\n\n[rules.DG999]\nx = 1\n')
    assert str(err) == f"{tmp_path / '.digestgate.toml'}:3: rules.DG999: unknown rule code"


def test_rules_entry_not_a_table(tmp_path: Path) -> None:
    err = own_error(tmp_path, "[rules]\nDG305 = 1\n")
    assert str(err) == (
        f"{tmp_path / '.digestgate.toml'}:2: rules.DG305: expected a table, got an integer"
    )


def test_rules_not_a_table(tmp_path: Path) -> None:
    err = own_error(tmp_path, "rules = []\n")
    assert "rules: expected a table of per-rule tables" in str(err)


# -- selection -------------------------------------------------------------------------


def test_default_selects_everything() -> None:
    config = Config()
    assert all(config.is_enabled(code) for code in KNOWN)


def test_select_prefix_with_more_specific_ignore() -> None:
    config = Config(select=("DG1",), ignore=("DG101",))
    assert config.is_enabled("DG102")
    assert config.is_enabled("DG103")
    assert not config.is_enabled("DG101")
    assert not config.is_enabled("DG201")


def test_more_specific_select_beats_ignore_prefix() -> None:
    config = Config(select=("DG101",), ignore=("DG1",))
    assert config.is_enabled("DG101")  # 5 characters beat 3
    assert not config.is_enabled("DG102")
    assert not config.is_enabled("DG301")  # never selected


def test_ignore_without_select() -> None:
    config = Config(ignore=("DG3",))
    assert config.is_enabled("DG101")
    assert not config.is_enabled("DG301")
    assert not config.is_enabled("DG305")


def test_equal_specificity_ignore_wins() -> None:
    config = Config(select=("DG101",), ignore=("DG101",))
    assert not config.is_enabled("DG101")


def test_ignore_everything_but_select_one() -> None:
    config = Config(select=("DG", "DG203"), ignore=("DG2",))
    assert config.is_enabled("DG101")  # DG (2) vs nothing
    assert not config.is_enabled("DG201")  # DG (2) < DG2 (3)
    assert config.is_enabled("DG203")  # DG203 (5) > DG2 (3)


def test_cli_select_replaces_and_ignore_extends() -> None:
    config = Config(select=("DG1",), ignore=("DG101",), fail_on=Severity.WARNING)
    merged = config.merged_with_cli(["DG2"], ["DG202"])
    assert merged.select == ("DG2",)
    assert merged.ignore == ("DG101", "DG202")
    assert merged.fail_on is Severity.WARNING
    assert merged.is_enabled("DG201")
    assert not merged.is_enabled("DG202")
    assert not merged.is_enabled("DG102")  # the configured select is gone
    unchanged = config.merged_with_cli(None, None)
    assert unchanged == config


def test_cli_ignore_only_keeps_configured_select() -> None:
    merged = Config(select=("DG1",)).merged_with_cli(None, ["DG103"])
    assert merged.select == ("DG1",)
    assert merged.ignore == ("DG103",)
    assert merged.is_enabled("DG101")
    assert not merged.is_enabled("DG103")


def test_check_codes() -> None:
    assert check_codes(["DG1", "DG305"], KNOWN, "--select") == ("DG1", "DG305")
    with pytest.raises(ConfigError) as info:
        check_codes(["DG1", "DG9"], KNOWN, "--ignore")
    assert str(info.value) == '--ignore: "DG9" matches no rule code'
    with pytest.raises(ConfigError, match="--select: empty rule code"):
        check_codes([""], KNOWN, "--select")


def test_severity_of() -> None:
    config = Config(severity={"DG101": Severity.WARNING})
    assert config.severity_of("DG101", Severity.ERROR) is Severity.WARNING
    assert config.severity_of("DG102", Severity.ERROR) is Severity.ERROR
    assert config.severity_of("DG203", Severity.WARNING) is Severity.WARNING


# -- matching --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        (".github/workflows/legacy/**", ".github/workflows/legacy/old.yml", True),
        (".github/workflows/legacy/**", "./.github/workflows/legacy/a/b.yml", True),
        (".github/workflows/legacy/**", ".github/workflows/ci.yml", False),
        ("*.bak.yml", ".github/workflows/x.bak.yml", True),
        ("*.bak.yml", "x.bak.yml", True),
        ("*.bak.yml", ".github/workflows/x.yml", False),
        ("vendor/", "vendor/a.yml", True),
        ("vendor/", "a/vendor/b.yml", True),
        ("vendor/", "vendor", False),  # a file, and the pattern wants a folder
        ("vendor", "a/vendor/b.yml", True),  # a folder at any depth
        ("**/generated/*.yml", "generated/a.yml", True),
        ("**/generated/*.yml", "x/y/generated/a.yml", True),
        ("**/generated/*.yml", "x/generated/sub/a.yml", False),
        (".github/workflows/ci.yml", ".github/workflows/ci.yml", True),
        (".github/workflows/ci.yml", "sub/.github/workflows/ci.yml", False),  # anchored
        ("/ci.yml", "ci.yml", True),
        ("/ci.yml", "x/ci.yml", False),
        ("docs/*.yml", "docs/a.yml", True),
        ("docs/*.yml", "docs/x/a.yml", False),
        ("a/**/b.yml", "a/b.yml", True),
        ("a/**/b.yml", "a/x/y/b.yml", True),
        ("a/**/b.yml", "c/a/b.yml", False),
        ("ci-?.yml", "ci-1.yml", True),
        ("ci-?.yml", "ci-10.yml", False),
        ("ci-[0-9].yml", "ci-7.yml", True),
        ("ci-[!0-9].yml", "ci-x.yml", True),
        ("ci-[!0-9].yml", "ci-7.yml", False),
    ],
)
def test_is_excluded(pattern: str, path: str, expected: bool) -> None:
    assert Config(exclude=(pattern,)).is_excluded(path) is expected


def test_is_excluded_without_patterns() -> None:
    assert not Config().is_excluded(".github/workflows/ci.yml")


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("ghcr.io/acme/*", "ghcr.io/acme/app", True),
        ("ghcr.io/acme/*", "ghcr.io/acme/app:1.0", True),
        ("ghcr.io/acme/*", "GHCR.io/Acme/app@sha256:" + "a" * 64, True),
        ("ghcr.io/acme/*", "ghcr.io/other/app", False),
        ("ghcr.io/acme/app", "ghcr.io/acme/app:v1", True),  # the tag is not part of the name
        ("ghcr.io/acme/app", "ghcr.io/acme/app2", False),
        ("acme/*", "docker.io/acme/app:latest", True),
        ("acme/*", "acme/app", True),
        ("docker.io/acme/*", "acme/app", True),
        ("docker.io/library/nginx", "nginx:1.25", True),
        ("nginx", "docker.io/library/nginx", True),
        ("localhost:5000/*", "localhost:5000/app:tag", True),
        ("localhost:5000/app", "localhost:5000/app:tag", True),
    ],
)
def test_is_own_image(pattern: str, name: str, expected: bool) -> None:
    assert Config(own_images=(pattern,)).is_own_image(name) is expected


def test_is_own_image_without_patterns() -> None:
    assert not Config().is_own_image("ghcr.io/acme/app")


@pytest.mark.parametrize(
    ("pattern", "workflow", "job", "expected"),
    [
        ("e2e*", ".github/workflows/ci.yml", "e2e-linux", True),
        ("e2e*", ".github/workflows/ci.yml", "unit", False),
        ("release.yml:promote", ".github/workflows/release.yml", "promote", True),
        ("release.yml:promote", ".github/workflows/ci.yml", "promote", False),
        ("release.yml:promote", ".github/workflows/release.yml", "build", False),
        (".github/workflows/*.yml:deploy-*", ".github/workflows/cd.yml", "deploy-prod", True),
        (".gitea/workflows/*.yml:deploy", ".github/workflows/cd.yml", "deploy", False),
        ("*.yaml:test", ".github/workflows/ci.yml", "test", False),
        ("ci.yml:build", "./.github/workflows/ci.yml", "build", True),
    ],
)
def test_matches_job(pattern: str, workflow: str, job: str, expected: bool) -> None:
    assert Config().matches_job((pattern,), workflow, job) is expected


def test_matches_job_any_of_several_patterns() -> None:
    patterns = ("unit", "ci.yml:e2e")
    assert Config().matches_job(patterns, ".github/workflows/ci.yml", "e2e")
    assert Config().matches_job(patterns, ".github/workflows/other.yml", "unit")
    assert not Config().matches_job(patterns, ".github/workflows/other.yml", "e2e")
    assert not Config().matches_job((), ".github/workflows/ci.yml", "e2e")
